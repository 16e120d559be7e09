/*
 * Backups and restores of applications: internals shared by lib/backup
 * and lib/restore.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_BACKUP_BACKUP_H
#define ASTRA_BACKUP_BACKUP_H

#include "astra/backup.h"
#include "core/op.h"
#include "fmt/json.h"
#include "kube/kube.h"
#include "repo/repo.h"

#define ASTRA_BACKUP_FORMAT 1

/* Volume access: host-path template or embedder callback. */
typedef struct {
	const char *template_path;
	astra_volume_path_cb cb;
	void *payload;
} astra__volume_access;

/* The directory of a bound PVC's volume (caller frees *path). */
int astra__volume_path(astra__kube *k, const astra__volume_access *va,
        const char *ns, const char *pvc, char **path);

/* Waits (watching) until a PVC is Bound. */
int astra__pvc_wait_bound(astra__kube *k, const char *ns, const char *pvc,
        unsigned timeout_s, astra__op *op);

/* Backup records in a vault. */
int astra__backup_load(astra__repo *r, const char *name, astra__json **rec,
        astra__json **manifests);

#endif
