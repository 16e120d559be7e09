/*
 * How volume data moves between a PVC and a vault, for backups and
 * restores alike: volume access (a directory this process can reach) and
 * in-cluster data mover Jobs.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_MOVER_MOVER_H
#define ASTRA_MOVER_MOVER_H

#include "astra/backup.h"
#include "core/op.h"
#include "fmt/json.h"
#include "kube/kube.h"
#include "repo/repo.h"

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

/* A volume entry with "consistency" set to this has no VolumeSnapshot:
 * the Job reads the live PVC, read-only (docs/format.md). */
#define ASTRA_MOVER_LIVE "crash-consistent-with-hooks"

/* In-cluster data mover Jobs (mover.c). */
typedef struct astra__mover astra__mover;
/* Checks the options and copies what the Jobs need (the vault secret is
 * read now, and wiped by astra__mover_free). NULL options or the host-path
 * strategy: 0 and *out NULL. The control namespace is the options' or, when
 * they name none, `ctl_ns` (the cluster's, astra_cluster_options), or
 * "astra-system". */
int astra__mover_new(astra__mover **out, astra__kube *k, astra__repo *r,
        const astra_mover_options *o, const char *ctl_ns, astra_cancel *cancel);
void astra__mover_free(astra__mover *m);
/* Backs up every volume of a snapshot record ("volumes" of `svols`) through
 * Jobs, up to the parallelism at once; appends one entry per volume to
 * `vols` in order. The first failure stops the Jobs not yet finished. */
int astra__mover_backup(astra__mover *m, const char *backup,
        const astra__json *svols, const astra__json *man, astra__op *op,
        astra__json *vols);
/* Restores data snapshot `id` for PVC ns/pvc (not created yet; `obj` its
 * manifest) through a Job in the control namespace (waits for a free slot
 * among the parallelism): the Job fills a PVC there, whose PV is then
 * pre-bound to ns/pvc; *pv: its name (caller frees), for the PVC's
 * spec.volumeName. A PVC ns/pvc that exists already: 0 and *pv NULL. */
int astra__mover_restore(astra__mover *m, const char *ns, const char *pvc,
        const astra__json *obj, const char *id, astra__op *op, char **pv);
/* The same whether or not PVC ns/pvc exists (an in-place restore that
 * replaces it): the volume is filled and handed over all the same. */
int astra__mover_restore_replace(astra__mover *m, const char *ns,
        const char *pvc, const astra__json *obj, const char *id, astra__op *op,
        char **pv);
/* After the PVC was created with volumeName `pv`: waits until it is Bound
 * and takes the mover's labels off the PV. */
int astra__mover_restore_bound(astra__mover *m, const char *ns, const char *pvc,
        const char *pv, astra__op *op);
/* The PVC could not be created: deletes PV `pv` and its volume (keeps the
 * error). */
void astra__mover_restore_undo(astra__mover *m, const char *pv);
#endif
