/*
 * The vault's named records above the data path, and the store facts the
 * layers above need (catalog.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_CATALOG_H
#define ASTRA_REPO_CATALOG_H

#include <stddef.h>

#include "fmt/json.h"
#include "repo/repo.h"

/* The vault's URL as its store was opened. */
const char *astra__repo_url(const astra__repo *r);
/* The environment variables a process elsewhere (a mover Job) needs to
 * open the vault at `url` (NULL-terminated, static; never NULL). */
const char *const *astra__repo_url_job_env(const char *url);
/* The local directory `url` names (*out allocated), or 0 with *out NULL
 * when it names none. */
int astra__repo_url_local_dir(const char *url, char **out);

/* The format of app-backup records this library writes and reads. */
#define ASTRA_APPBACKUP_FORMAT 1

/* The object key of app backup `name` ("appbackups/<name>"); ASTRA_EINVALID
 * for a name that is not lower-case letters, digits, '-' and '.'. */
int astra__appbackup_key(char *out, size_t n, const char *name);
/* Loads app backup `name`'s record and, when `manifests` is not NULL, its
 * manifests blob (parsed); ASTRA_ENOTFOUND naming the vault when absent,
 * ASTRA_EVERSION for a newer record format. */
int astra__appbackup_load(astra__repo *r, const char *name, astra__json **rec,
        astra__json **manifests);
/* 1 when app backup `name`'s record exists (0 on any error, cleared). */
int astra__appbackup_exists(astra__repo *r, const char *name);
/* Calls cb with every readable app-backup record (the callback owns it; a
 * non-zero return stops the listing and is returned); unreadable ones are
 * logged and skipped. */
typedef int (*astra__appbackup_cb)(astra__json *rec, void *payload);
int astra__appbackup_list(
        astra__repo *r, astra__appbackup_cb cb, void *payload);
/* Deletes app backup `name`'s record (its data snapshots stay: forget
 * them). */
int astra__appbackup_delete(astra__repo *r, const char *name);

#endif
