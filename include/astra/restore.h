/*
 * libastra - restores of an app from a backup or a snapshot, and clones,
 * into the same or another cluster and namespace.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_RESTORE_H
#define ASTRA_RESTORE_H

/**
 * @file astra/restore.h
 * @defgroup astra_restore Restores and clones
 * @{
 */

#include "astra/app.h"
#include "astra/backup.h"
#include "astra/common.h"
#include "astra/vault.h"

ASTRA_BEGIN_DECL

/** astra_restore_options.flags */
/** Replace objects that exist. Into the app's own namespaces (no
 * namespace_map) this is an in-place restore that also rolls the data of
 * existing PVCs back (see astra_restore). */
#define ASTRA_RESTORE_F_REPLACE 0x1u

typedef struct {
	unsigned int version;
	/** Restore from this backup in `vault`... */
	const char *backup;
	/** ...or from this snapshot of app `snapshot_app` (same cluster,
	 *  same namespaces: volumes come from the VolumeSnapshots). */
	const char *snapshot_app;
	const char *snapshot;
	/** "SRC=DST" namespace mappings. */
	const char *const *namespace_map;
	size_t n_namespace_map;
	/** "SRC=DST" storage class mappings ("*=DST" for all). */
	const char *const *storage_class_map;
	size_t n_storage_class_map;
	/** Filters "GROUP/KIND[/NAMESPACE[/NAME]]" ("" or "core" for the
	 *  core group); excludes win. */
	const char *const *include;
	size_t n_include;
	const char *const *exclude;
	size_t n_exclude;
	unsigned int flags;
	/** Volume access for restoring data from a backup (as for
	 *  astra_backup_options). */
	const char *volume_path;
	astra_volume_path_cb volume_path_cb;
	void *volume_path_payload;
	/** Objects created at once within an order group; 0: 8. */
	unsigned int concurrency;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
	/* v2 */
	/** How volume data of a backup moves into the PVCs; NULL: the
	 *  host-path strategy. */
	const astra_mover_options *mover;
	/* v3: in-place restores */
	/** Bound, in seconds, of each wait of an in-place restore (pods of
	 *  the scaled-down workloads gone, a PVC deleted or bound, the
	 *  workloads ready again); 0: 300. */
	unsigned int inplace_timeout_s;
	/* v3 (continued): label filters, cluster-scoped objects, the
	 * restored app */
	/** Label selectors (Kubernetes syntax, as kubectl -l) over each
	 *  object's labels: only objects matching `include_selector` are
	 *  restored (NULL or "": any), and none matching `exclude_selector`
	 *  (NULL or "": none); they combine with include/exclude, excludes
	 *  win. Namespaces come with what needs them. */
	const char *include_selector;
	const char *exclude_selector;
	/** Non-zero: create the backup's cluster-scoped objects
	 *  (ClusterRoles, ClusterRoleBindings, CRDs, StorageClasses, the
	 *  definition's clusterResources...); 0: each is reported "skipped"
	 *  with the reason. Namespaces are always created. */
	int cluster_resources;
	/** After a restore with a namespace map: the name under which the
	 *  restored app is defined (with the source app's hooks); NULL:
	 *  "<app>-<first target namespace>" (at most 53 characters). */
	const char *app_name;
	/** Non-zero: that app also gets the policies the source app has in
	 *  the target cluster (schedule, retention, vault; a fresh status). */
	int with_policies;
} astra_restore_options;

#define ASTRA_RESTORE_OPTIONS_VERSION 3
#define ASTRA_RESTORE_OPTIONS_INIT            \
	{                                     \
		ASTRA_RESTORE_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_restore_options_init(
        astra_restore_options *opts, unsigned int version);

/**
 * Restores into `target` in dependency order (CRDs, namespaces, classes,
 * PVCs with their data, RBAC and configuration, workloads, the rest),
 * objects of one group in parallel. Existing objects are kept and reported
 * unless ASTRA_RESTORE_F_REPLACE. Records of the library (app, hook and
 * policy definitions, snapshot records) are never restored as objects, and
 * cluster-scoped objects only with `cluster_resources`. With a namespace
 * map, the restored app is defined (see `app_name`). `report` (may be
 * NULL) receives JSON {"created", "replaced", "skipped", "failed",
 * "items": [{"kind", "namespace", "name", "result", "reason"}], "app":
 * {"name", "hooks", "policies"} (when an app was defined; {"error"} when
 * it could not be, which fails the call unless objects failed too)}. Returns
 * ASTRA_EPARTIAL when some objects failed (the rest is restored).
 *
 * In-place (ASTRA_RESTORE_F_REPLACE without namespace_map): the
 * pre-restore hooks run, the app's Deployments, StatefulSets, ReplicaSets
 * and DaemonSets that exist are scaled to zero (count recorded in the
 * annotation "restores.astra.dev/scale"), and each existing PVC is rolled
 * back once no pod uses it: from a snapshot it is deleted and re-created
 * from its VolumeSnapshot; from a backup its data is overwritten so that
 * its tree equals the backup's. Then the workloads get their counts back
 * and are waited for, and the post-restore hooks run. The report adds
 * "rolledBack", item result "rolled-back" with "source", and "workloads":
 * [{"kind", "namespace", "name", "replicas", "result" ("restored" or
 * "failed"), "reason"}]. A PVC that cannot be rolled back, or a workload
 * not ready in time, is "failed" with the reason: ASTRA_EPARTIAL.
 */
ASTRA_API astra_status astra_restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *opts, astra_buf *report) ASTRA_WARN_UNUSED;

typedef struct {
	unsigned int version;
	/** "SRC=DST" for every namespace of the app (required). Each target
	 *  must differ from its source and must not exist yet. */
	const char *const *namespace_map;
	size_t n_namespace_map;
	/** "SRC=DST" storage class mappings ("*=DST" for all). */
	const char *const *storage_class_map;
	size_t n_storage_class_map;
	/** Clone from this backup in the vault, or from this snapshot (backed
	 *  up first); neither: a backup is taken first. */
	const char *from_backup;
	const char *from_snapshot;
	/** Name of the new app; NULL: "<app>-clone". */
	const char *name;
	const char *volume_path;
	astra_volume_path_cb volume_path_cb;
	void *volume_path_payload;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
	/* v2 */
	/** For the backup and the restore; NULL: the host-path strategy. */
	const astra_mover_options *mover;
	/* v3 */
	/** Non-zero: create the app's cluster-scoped objects (as
	 *  astra_restore_options.cluster_resources); 0: skipped. */
	int cluster_resources;
	/** Non-zero: the clone also gets the app's policies (schedule,
	 *  retention, vault; a fresh status); its hooks always come along. */
	int with_policies;
} astra_clone_options;

#define ASTRA_CLONE_OPTIONS_VERSION 3
#define ASTRA_CLONE_OPTIONS_INIT            \
	{                                   \
		ASTRA_CLONE_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_clone_options_init(
        astra_clone_options *opts, unsigned int version);

/**
 * Clones `app` (configuration and data) into new namespaces of `target`
 * (the app's cluster or another one) through `vault`, and defines the
 * clone as a new managed app. A target namespace that exists or equals its
 * source fails with ASTRA_EEXISTS / ASTRA_EINVALID before anything is
 * created.
 */
ASTRA_API astra_status astra_app_clone(astra_app *app, astra_vault *vault,
        astra_cluster *target, const astra_clone_options *opts,
        astra_buf *report) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */
#endif
