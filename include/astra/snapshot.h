/*
 * libastra - application snapshots: the app's manifests and all its
 * persistent volumes captured at one moment, as one consistency group
 * (VolumeGroupSnapshot) where the CSI driver offers it, kept in the
 * cluster.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_SNAPSHOT_H
#define ASTRA_SNAPSHOT_H

/**
 * @file astra/snapshot.h
 * @defgroup astra_snapshot Application snapshots
 * @{
 */

#include "astra/app.h"
#include "astra/common.h"

ASTRA_BEGIN_DECL

/** astra_snapshot_options.flags */
#define ASTRA_SNAPSHOT_F_NO_GROUP                 \
	0x1u /**< individual VolumeSnapshots even \
	          where a group class exists */

typedef struct {
	unsigned int version;
	/** The snapshot's name; NULL: "<app>-<UTC yyyymmddhhmmss>". */
	const char *name;
	/** Seconds to wait for every volume snapshot to be ready; 0: 300. */
	unsigned int timeout_s;
	unsigned int flags;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_snapshot_options;

#define ASTRA_SNAPSHOT_OPTIONS_VERSION 1
#define ASTRA_SNAPSHOT_OPTIONS_INIT            \
	{                                      \
		ASTRA_SNAPSHOT_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_snapshot_options_init(
        astra_snapshot_options *opts, unsigned int version);

/**
 * Takes a snapshot of `app`: pre-snapshot hooks, the app's manifests, one
 * consistency group of volume snapshots per namespace and CSI driver
 * (VolumeGroupSnapshot when a VolumeGroupSnapshotClass exists for the
 * driver, else individual VolumeSnapshots created together), post-snapshot
 * hooks (always, also after a failure), then the record. A failed or
 * cancelled snapshot removes what it created.
 *
 * @param record_out may be NULL; else receives the record as JSON (see
 *        astra_snapshot_get()).
 */
ASTRA_API astra_status astra_snapshot_create(astra_app *app,
        const astra_snapshot_options *opts,
        astra_buf *record_out) ASTRA_WARN_UNUSED;

/**
 * Snapshots of one app (or of every app when `app_name` is NULL) as a JSON
 * array of records, oldest first.
 */
ASTRA_API astra_status astra_snapshot_list(astra_cluster *cluster,
        const char *app_name, astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * A snapshot's record as JSON: {"app", "name", "namespace", "created",
 * "state", "consistency" ("group", "individual" or "none"), "volumes":
 * [{"namespace", "pvc", "driver", "volumeSnapshot", "group",
 * "restoreSize", "readyToUse"}], "resources", "hooks", "error"}. With
 * `with_manifests`, "manifests" holds every captured object.
 */
ASTRA_API astra_status astra_snapshot_get(astra_cluster *cluster,
        const char *app_name, const char *name, int with_manifests,
        astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * Deletes a snapshot: its VolumeGroupSnapshots or VolumeSnapshots and its
 * record. Refused with ASTRA_EBUSY while a backup reads the snapshot.
 */
ASTRA_API astra_status astra_snapshot_delete(astra_cluster *cluster,
        const char *app_name, const char *name) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */
#endif
