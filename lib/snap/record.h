/*
 * The app snapshot record (record.json of Secret astra-snap-<name>,
 * docs/snapshots.md) as a C type: one encoder, one decoder.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_SNAP_RECORD_H
#define ASTRA_SNAP_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "fmt/json.h"

/* One volume of a snapshot record (an element of "volumes"). */
typedef struct {
	char *ns; /* "namespace" */
	char *pvc;
	char *driver; /* optional */
	char *volume_snapshot; /* "volumeSnapshot", optional */
	char *group; /* optional: the VolumeGroupSnapshot's name */
	char *restore_size; /* "restoreSize", optional */
	int ready_to_use; /* "readyToUse" */
	/* optional (absent reads as "snapshot"): "snapshot" (a VolumeSnapshot),
	 * "crash-consistent-with-hooks" (no snapshot: the backup that took
	 * this snapshot read the live volume while the app was quiesced) or
	 * "none" (not taken; `reason` says why) */
	char *consistency;
	char *reason; /* optional */
} astra__snap_vol;

/* A snapshot record: every member astra_snapshot_create writes. The
 * opaque sub-trees (hook results, hook definitions, warnings) stay JSON;
 * NULL when absent. Owned by the struct: astra__snap_rec_free. */
typedef struct {
	char *app;
	char *name;
	char *ns; /* "namespace": the app's home namespace */
	char *created;
	char *state; /* optional */
	char *consistency; /* optional */
	astra__snap_vol *volumes;
	size_t nvolumes;
	int64_t resources;
	astra__json *hooks; /* array, optional */
	astra__json *hook_definitions; /* "hookDefinitions", optional */
	astra__json *warnings; /* array, optional */
	int64_t duration_ms; /* "durationMs" */
	int64_t manifest_parts; /* "manifestParts"; 0: absent (reads as 1) */
} astra__snap_rec;

void astra__snap_rec_free(astra__snap_rec *rec);
void astra__snap_vol_free(astra__snap_vol *v);
/* The record as JSON (*out, caller frees), members in the order
 * astra_snapshot_create has always written them (app, name, namespace,
 * created, state, consistency, volumes, resources, hooks, hookDefinitions,
 * warnings, durationMs, manifestParts), optional ones only when set. 0, or
 * ASTRA_ENOMEM (*out NULL). */
int astra__snap_rec_encode(const astra__snap_rec *rec, astra__json **out);
/* Reads record `j` of snapshot `what` into *rec (zeroed first; on failure
 * nothing is left to free). ASTRA_ECORRUPT naming the member for a missing
 * required member or one of the wrong type ("snapshot X: field
 * volumes[1].pvc is not a string"). */
int astra__snap_rec_decode(
        const astra__json *j, const char *what, astra__snap_rec *rec);

#endif
