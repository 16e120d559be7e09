/*
 * Application snapshots: names and labels of the objects they create, and
 * reading their records back (for backups and restores).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_SNAP_SNAP_H
#define ASTRA_SNAP_SNAP_H

#include "fmt/json.h"
#include "astra/snapshot.h"
#include "kube/kube.h"

#define ASTRA_SNAP_LABEL_APP "snapshots.astra.dev/app"
#define ASTRA_SNAP_LABEL_NAME "snapshots.astra.dev/name"
#define ASTRA_SNAP_LABEL_RECORD "snapshots.astra.dev/record"
#define ASTRA_SNAP_LABEL_GROUP "snapshots.astra.dev/group"
#define ASTRA_SNAP_ANN_IN_USE "snapshots.astra.dev/in-use-by"
#define ASTRA_SNAP_SECRET_TYPE "astra.dev/snapshot"
#define ASTRA_SNAP_SECRET_PREFIX "astra-snap-"

int astra__snap_secret_resource(astra__kube *k, astra__kube_resource *r);

/* Loads a snapshot's record (and, when manifests is non-NULL, its captured
 * objects). ASTRA_ENOTFOUND names the app and snapshot. `secret_ns`
 * receives the namespace holding the record (may be NULL). */
int astra__snap_load(astra__kube *k, const char *app, const char *name,
        astra__json **record, astra__json **manifests, char **secret_ns);

/* Marks (user != NULL) or unmarks a snapshot's record as being read by a
 * backup: astra_snapshot_delete() refuses marked snapshots. */
int astra__snap_mark_in_use(
        astra__kube *k, const char *app, const char *name, const char *user);

/* The consistency of a volume a backup read live, while the app was
 * quiesced by its pre-snapshot hooks (docs/format.md). */
#define ASTRA_SNAP_LIVE "crash-consistent-with-hooks"

/* What a backup does with the volumes no snapshot can take (their PV is
 * not CSI, or no VolumeSnapshotClass serves their driver). */
typedef struct {
	/* For each such volume, after the pre-snapshot hooks and before
	 * anything is taken: 0 when it can read it, else an error naming
	 * the PVC (the snapshot then fails, having taken nothing). */
	int (*check)(void *payload, const char *ns, const char *pvc,
	        const char *reason);
	/* Once, while the app is quiesced (the other volumes' snapshots
	 * ready, the post-snapshot hooks not run yet): reads `vols` (an
	 * array of {"namespace", "pvc", "reason", "consistency"}); the
	 * collected objects are `manifests`. */
	int (*read)(void *payload, const astra__json *vols,
	        const astra__json *manifests);
	void *payload;
} astra__snap_live;

/* astra_snapshot_create for a backup: the volumes no snapshot can take
 * are handed to `live` (NULL: recorded as not taken, with the reason). */
int astra__snapshot_create_live(astra_app *app, const astra_snapshot_options *o,
        const astra__snap_live *live, astra_buf *record_out);

#endif
