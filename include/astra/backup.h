/*
 * libastra - application backups in a vault, and how volume data moves
 * (volume access, mover Jobs). Restores and clones are declared in
 * astra/restore.h, which this header includes for callers written before
 * it existed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_BACKUP_H
#define ASTRA_BACKUP_H

/**
 * @file astra/backup.h
 * @defgroup astra_backup Backups
 * @{
 */

#include "astra/app.h"
#include "astra/common.h"
#include "astra/vault.h"

ASTRA_BEGIN_DECL

/**
 * Volume access: turns a PersistentVolume (JSON) into a directory this
 * process can read and write. Store the path in `path_out`; return 0, or a
 * negative code to fail the volume.
 */
typedef int ASTRA_CALLBACK(astra_volume_path_cb)(
        const char *pv_json, astra_buf *path_out, void *payload);

/** astra_mover_options.strategy */
#define ASTRA_MOVER_HOSTPATH                          \
	0u /**< this process reads and writes volumes \
	        through volume access (host path or   \
	        callback) */
#define ASTRA_MOVER_JOB                                   \
	1u /**< a Kubernetes Job per volume runs astractl \
	        from an image next to the data */

/**
 * How volume data moves between the cluster and the vault. With
 * ASTRA_MOVER_JOB, every Job runs in the control namespace (never the
 * volume's): a backup Job mounts (read-only) a PVC made there from a
 * VolumeSnapshot bound to a pre-provisioned VolumeSnapshotContent with the
 * source snapshot's handle; a restore Job fills a PVC made there, whose
 * volume is then handed over to the tenant's PVC (the PV's claimRef). The
 * pod runs `astractl data backup|restore` against the vault's URL with the
 * vault secret (and AWS_* credentials of this process for s3:// vaults)
 * from a Secret owned by the Job, and reports through its termination
 * message. Jobs, PVCs, VolumeSnapshots, VolumeSnapshotContents and Secrets
 * are deleted on success, failure and cancel, and those of a crashed
 * process are swept when a later run begins. See docs/backups.md.
 */
typedef struct {
	unsigned int version;
	/** ASTRA_MOVER_HOSTPATH (default) or ASTRA_MOVER_JOB. */
	unsigned int strategy;
	/** Jobs: the image; its entrypoint must be astractl (required). */
	const char *image;
	/** Jobs: "Always", "IfNotPresent" or "Never"; NULL: IfNotPresent. */
	const char *image_pull_policy;
	/** Jobs: how many run at once; 0: 4. */
	unsigned int parallelism;
	/** Jobs: activeDeadlineSeconds of each; 0: 3600. */
	unsigned int timeout_s;
	/** Jobs: the pods' nodeSelector as a JSON object, and tolerations as
	 *  a JSON array (Kubernetes syntax); NULL: none. */
	const char *node_selector_json;
	const char *tolerations_json;
	/** Jobs: the vault's secret (the pods cannot have it otherwise): a
	 *  password, or the path of a password or key file. One is
	 *  required; it reaches the pods only through a temporary Secret. */
	const char *vault_password;
	const char *vault_password_file;
	/** Jobs: the vault's URL as the pods open it (for example another
	 *  endpoint= than this process uses); NULL: the URL the vault was
	 *  opened with, options included. */
	const char *vault_url;
	/** Jobs: the pods use the node's network (hostNetwork), so that an
	 *  object store on the node's loopback is reachable; 0: pod network. */
	int host_network;
	/* v2 */
	/** Jobs: the control namespace, where every mover Job, its Secret,
	 *  its PVC and the VolumeSnapshot it reads run (never the tenant's
	 *  namespace); created when missing. NULL: "astra-system". */
	const char *control_namespace;
	/** Jobs: 0 (default): the pods run as root with every capability
	 *  dropped but DAC_READ_SEARCH (backups: read every file) or CHOWN,
	 *  FOWNER and DAC_OVERRIDE (restores: write every file with its
	 *  owner). Else this user id (also the group and the fsGroup), with
	 *  runAsNonRoot and no capability at all: for volumes whose files it
	 *  can read and write. */
	unsigned int run_as_user;
} astra_mover_options;

#define ASTRA_MOVER_OPTIONS_VERSION 2
#define ASTRA_MOVER_OPTIONS_INIT            \
	{                                   \
		ASTRA_MOVER_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_mover_options_init(
        astra_mover_options *opts, unsigned int version);

typedef struct {
	unsigned int version;
	/** The backup's name; NULL: "<app>-<UTC yyyymmddhhmmss>". */
	const char *name;
	/** Back up this existing snapshot of the app; NULL: take one and
	 *  delete it when the backup is done. */
	const char *snapshot;
	/**
	 * Host-path volume access: a template of the directory holding a
	 * volume's data, with {volumeHandle}, {pvName}, {pvcName} and
	 * {namespace} substituted (for example the CSI hostpath driver's
	 * "/var/lib/csi-hostpath-data/{volumeHandle}"). Used when no
	 * callback is given. NULL and no callback: backups without volume
	 * data fail with ASTRA_ENOTSUPPORTED when the app has PVCs.
	 */
	const char *volume_path;
	astra_volume_path_cb volume_path_cb;
	void *volume_path_payload;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
	/* v2 */
	/** How volume data moves; NULL: the host-path strategy. */
	const astra_mover_options *mover;
} astra_backup_options;

#define ASTRA_BACKUP_OPTIONS_VERSION 2
#define ASTRA_BACKUP_OPTIONS_INIT            \
	{                                    \
		ASTRA_BACKUP_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_backup_options_init(
        astra_backup_options *opts, unsigned int version);

/**
 * Backs up `app` into `vault`: its manifests and the data of every PVC,
 * read from the snapshot's volume snapshots. The record (see
 * astra_backup_get()) is written last; a failed or cancelled backup
 * records nothing.
 */
ASTRA_API astra_status astra_backup_create(astra_app *app, astra_vault *vault,
        const astra_backup_options *opts,
        astra_buf *record_out) ASTRA_WARN_UNUSED;

/**
 * The backups in a vault (of one app, or all when `app_name` is NULL) as a
 * JSON array of records, oldest first. Needs no cluster: a new cluster
 * pointed at the vault sees every backup.
 */
ASTRA_API astra_status astra_backup_list(astra_vault *vault,
        const char *app_name, astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * A backup's record as JSON: {"format", "name", "app", "definition",
 * "source": {"server", "context"}, "created", "state", "snapshot",
 * "consistency", "resources": [...], "volumes": [{"namespace", "pvc",
 * "storageClass", "size", "accessModes", "data"}], "durationMs"}.
 */
ASTRA_API astra_status astra_backup_get(astra_vault *vault, const char *name,
        astra_buf *json_out) ASTRA_WARN_UNUSED;

/** Deletes a backup's record and forgets its volume data (reclaimed by
 *  astra_vault_gc()), whichever app it belongs to: the call of the
 *  vault's administrator (the password holder). Programs that act for an
 *  app use astra_backup_delete_app(). */
ASTRA_API astra_status astra_backup_delete(
        astra_vault *vault, const char *name) ASTRA_WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Verification of one backup                                          */
/* ------------------------------------------------------------------ */

/** astra_backup_verify_options.flags */
/* also restore the backup into scratch namespaces of `cluster`, wait for
 * its workloads, run its "verify" hooks, then delete the namespaces */
#define ASTRA_BACKUP_VERIFY_F_TEST_RESTORE 0x1u

typedef struct {
	unsigned int version;
	/** ASTRA_BACKUP_VERIFY_F_*. */
	unsigned int flags;
	/** Test restore: the cluster to restore into (required with
	 *  ASTRA_BACKUP_VERIFY_F_TEST_RESTORE). */
	astra_cluster *cluster;
	/** Test restore: each namespace of the backup is restored into
	 *  "<prefix>-<8 random hex digits>"; a DNS label of at most 50
	 *  characters. NULL: "astra-verify". */
	const char *namespace_prefix;
	/** Test restore: how long to wait for the workloads to be ready, in
	 *  seconds; 0: 300. */
	unsigned int timeout_s;
	/** Test restore: volume access for the data, as for astra_restore(). */
	const char *volume_path;
	astra_volume_path_cb volume_path_cb;
	void *volume_path_payload;
	const astra_mover_options *mover;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_backup_verify_options;

#define ASTRA_BACKUP_VERIFY_OPTIONS_VERSION 1
#define ASTRA_BACKUP_VERIFY_OPTIONS_INIT            \
	{                                           \
		ASTRA_BACKUP_VERIFY_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_backup_verify_options_init(
        astra_backup_verify_options *opts, unsigned int version);

/**
 * Verifies backup `name` in `vault` by reading every object it needs and
 * nothing else: its record, its manifests blob, and each volume's data
 * snapshot (record, trees, and every pack holding one of its blobs: the
 * pack's header and each needed blob decrypted and verified against its
 * id). With ASTRA_BACKUP_VERIFY_F_TEST_RESTORE it then restores the backup
 * into scratch namespaces of `opts->cluster`, waits for its Deployments,
 * StatefulSets, DaemonSets and ReplicaSets to be ready, runs the backup's
 * "verify" hooks there, and deletes the scratch namespaces (also on
 * failure and cancel; it waits until they are gone, at most 120 s).
 *
 * `report` (may be NULL) receives JSON, also on failure once the record
 * was read: {"backup", "app", "ok", "objects", "bytes", "snapshots",
 * "trees", "blobs", "packs", "problems": [{"object", "error"}],
 * "testRestore": {"ok", "namespaces": {"SRC": "DST"}, "restore" (the
 * restore's report), "workloads": [{"kind", "namespace", "name", "ready"}],
 * "hooks" (the verify stage's results), "error", "cleanup"}}.
 *
 * Returns 0 when everything verified; ASTRA_ENOTFOUND for an unknown
 * backup; ASTRA_ECORRUPT when an object is damaged or missing (each problem
 * named in the report; the test restore is not attempted then);
 * ASTRA_ETIMEOUT when workloads were not ready in time; the restore's or
 * the hook's error when they fail; ASTRA_ECANCELLED. Not thread-safe with
 * other calls on the same vault handle.
 */
ASTRA_API astra_status astra_backup_verify(astra_vault *vault, const char *name,
        const astra_backup_verify_options *opts,
        astra_buf *report) ASTRA_WARN_UNUSED;
/**
 * astra_backup_delete() of a backup of `app` only: its record must name
 * the same app, and every namespace of the recorded definition must be
 * one that `app` covers. Otherwise ASTRA_EAUTH naming the backup and its
 * app, and nothing is deleted (also for a record that holds no
 * definition; a damaged record gives ASTRA_ECORRUPT). The policy runner
 * deletes this way.
 */
ASTRA_API astra_status astra_backup_delete_app(astra_vault *vault,
        const astra_app *app, const char *name) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */

/* restores and clones lived here before astra/restore.h */
#include "astra/restore.h"

#endif
