/*
 * In-place restores (astra_restore with ASTRA_RESTORE_F_REPLACE into the
 * app's own namespaces): the pre-restore hooks, the app's workloads
 * scaled to zero (their counts recorded in an annotation) and back, and
 * the roll-back of each existing PVC, from its VolumeSnapshot or from the
 * vault. Private to lib/restore.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_RESTORE_INPLACE_H
#define ASTRA_RESTORE_INPLACE_H

#include <stddef.h>

#include "core/op.h"
#include "fmt/json.h"
#include "kube/kube.h"
#include "mover/mover.h"
#include "repo/repo.h"

/* The annotation that records a workload's replica count ("3") or, on a
 * DaemonSet, "paused", while an in-place restore has it scaled down. */
#define ASTRA_INPLACE_ANNOTATION "restores.astra.dev/scale"
/* The nodeSelector key (matching no node) that pauses a DaemonSet. */
#define ASTRA_INPLACE_PAUSE_KEY "restores.astra.dev/paused"

typedef struct astra__inplace astra__inplace;

typedef struct {
	astra__kube *k;
	astra__op *op;
	unsigned timeout_s; /* each wait; 0: 300 */
	/* where data comes from: a backup (repo, and va or mover) ... */
	astra__repo *repo;
	const astra__volume_access *va;
	astra__mover *mover;
	const char *backup;
	/* ... or a snapshot */
	const char *snapshot_app, *snapshot;
} astra__inplace_params;

/*
 * Runs the pre-restore hooks of `hookdefs` in the namespaces of `man`,
 * then scales the workloads of `man` that exist (Deployments,
 * StatefulSets, ReplicaSets no Deployment owns, DaemonSets) to zero. A
 * failed pre-restore hook fails here, before anything changed. A
 * workload that cannot be scaled is reported at the end; the volumes its
 * pods still use fail then.
 */
int astra__inplace_begin(astra__inplace **out, const astra__inplace_params *p,
        const astra__json *man, const astra__json *hookdefs);

/*
 * Rolls back existing PVC `obj` (sanitized; its spec has the dataSource
 * when `vs` is given) once no pod uses it: re-created from VolumeSnapshot
 * `vs`, or its data overwritten from data snapshot `data` so that its tree
 * equals the backup. 0 and `source` set, or the error (message set; the
 * PVC left as it was when the reason is known before it was touched).
 */
int astra__inplace_pvc(astra__inplace *ip, const astra__kube_resource *r,
        const astra__json *obj, const char *vs, const char *data, char *source,
        size_t nsource);

/* Puts the recorded replica counts back and waits (bounded) for the
 * workloads to be ready; 0, or the number of workloads that failed. */
size_t astra__inplace_end(astra__inplace *ip);

/* Adds "workloads" and "rolledBack" to report `rep`, and the pre-restore
 * stage in front of its "hooks". */
int astra__inplace_report(
        astra__inplace *ip, astra__json *rep, uint64_t rolled_back);

void astra__inplace_free(astra__inplace *ip);

#endif
