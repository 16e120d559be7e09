/*
 * The vault's named records above the data path, and the store facts the
 * layers above need (catalog.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_CATALOG_H
#define ASTRA_REPO_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "fmt/json.h"
#include "repo/repo.h"

/* The vault's URL as its store was opened. */
const char *astra__repo_url(const astra__repo *r);
/* The environment variables a process elsewhere (a mover Job) needs to
 * open the vault at `url` (NULL-terminated, static; never NULL). */
const char *const *astra__repo_url_job_env(const char *url);
/* Credentials for a mover Job limited to the vault (its bucket and prefix)
 * and to `seconds`, as variables into the object `env`; ASTRA_ENOTSUPPORTED
 * when the store cannot narrow them (then the Job needs this process's). */
int astra__repo_job_creds(astra__repo *r, unsigned seconds, astra__json *env);
/* The local directory `url` names (*out allocated), or 0 with *out NULL
 * when it names none. */
int astra__repo_url_local_dir(const char *url, char **out);

/* The format of app-backup records this library writes and reads. */
#define ASTRA_APPBACKUP_FORMAT 1

/* One volume of an app-backup record (docs/backups.md). Strings are owned
 * (NULL when the optional member is absent). */
typedef struct {
	char *ns; /* "namespace" */
	char *pvc;
	char *storage_class; /* "storageClass", optional */
	char *size; /* optional */
	astra__json *access_modes; /* "accessModes", array, optional */
	char *data; /* data snapshot id */
	int64_t bytes;
	int64_t files;
	astra__json *mover; /* object written with mover Jobs, optional */
	/* optional (absent reads as "snapshot"): "snapshot" or
	 * "crash-consistent-with-hooks" (read live while the app was
	 * quiesced: its driver has no snapshots) */
	char *consistency;
} astra__appbackup_vol;

/* An app-backup record, `appbackups/<name>`: every member the library
 * writes. The opaque sub-trees (the app's definition, the hook results and
 * the hook definitions) stay JSON; NULL when absent. Owned by the struct:
 * astra__appbackup_rec_free. */
typedef struct {
	int64_t format;
	char *name;
	char *app;
	astra__json *definition; /* optional */
	char *server, *context; /* "source": {"server", "context"}, optional */
	int has_source; /* the "source" object is present */
	char *created;
	char *state; /* optional */
	char *snapshot;
	char *consistency; /* optional */
	char *manifests; /* manifests blob id (hex) */
	int64_t resources;
	astra__appbackup_vol *volumes;
	size_t nvolumes;
	astra__json *hooks; /* array, optional */
	astra__json *hook_definitions; /* "hookDefinitions", optional */
	int64_t duration_ms; /* "durationMs" */
} astra__appbackup_rec;

void astra__appbackup_rec_free(astra__appbackup_rec *rec);
void astra__appbackup_vol_free(astra__appbackup_vol *v);
/* The record as JSON (*out, caller frees): the members in the order
 * docs/backups.md lists, optional ones only when set. 0, or ASTRA_ENOMEM
 * (*out NULL). */
int astra__appbackup_encode(const astra__appbackup_rec *rec, astra__json **out);
/* Reads record `j` of backup `what` into *rec (zeroed first; on failure
 * nothing is left to free). ASTRA_EVERSION for a format outside 1 to
 * ASTRA_APPBACKUP_FORMAT; ASTRA_ECORRUPT naming the member for a missing
 * required member or one of the wrong type ("backup X: field
 * volumes[2].data is not a string"). */
int astra__appbackup_decode(
        const astra__json *j, const char *what, astra__appbackup_rec *rec);
/* Reads volume `i` of backup `what` from `j` (zeroed first; nothing to free
 * on failure), with the checks of astra__appbackup_decode. */
int astra__appbackup_vol_decode(const astra__json *j, const char *what,
        size_t i, astra__appbackup_vol *v);

/* The object key of app backup `name` ("appbackups/<name>"); ASTRA_EINVALID
 * for a name that is not lower-case letters, digits, '-' and '.'. */
int astra__appbackup_key(char *out, size_t n, const char *name);
/* Loads app backup `name`'s record and, when `manifests` is not NULL, its
 * manifests blob (parsed); ASTRA_ENOTFOUND naming the vault when absent,
 * ASTRA_EVERSION for a newer record format. */
int astra__appbackup_load(astra__repo *r, const char *name, astra__json **rec,
        astra__json **manifests);
/* astra__appbackup_load, decoded (astra__appbackup_decode's errors too). */
int astra__appbackup_load_rec(astra__repo *r, const char *name,
        astra__appbackup_rec *rec, astra__json **manifests);
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
