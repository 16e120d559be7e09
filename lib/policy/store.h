/*
 * Policy ConfigMaps (store.c), used by the runner and the scheduler.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_POLICY_STORE_H
#define ASTRA_POLICY_STORE_H

#include "app/app.h"
#include "kube/cluster_internal.h"
#include "kube/kube.h"
#include "policy/policy.h"

int astra__policy_cm_resource(astra__kube *k, astra__kube_resource *r);
void astra__policy_cm_name(
        char *out, size_t n, const char *app, const char *name);
/* Every policy ConfigMap (of one app when app is not NULL). */
int astra__policy_list_cms(
        astra__kube *k, const char *app, astra__json **items);
/* The policy ConfigMaps that count (docs/security.md): those in the home
 * namespace of their app, an app whose definition is honoured; the others
 * are left out with a warning naming them and the rule. */
int astra__policy_list_scoped(
        astra_cluster *c, const char *app, astra__json **items);
/* Parsed "policy.json" (NULL when missing or damaged). Caller frees. */
astra__json *astra__policy_cm_spec(const astra__json *cm);

/* An object a policy's run left to delete later ("pendingDeletes"). */
typedef struct {
	char *kind; /* "snapshot" or "backup" */
	char *name;
	char *vault; /* optional (backups) */
} astra__policy_ref;

/* Which members of a status are present (the strings: when not NULL). */
enum {
	ASTRA__POLICY_ST_LAST_RUN = 1u << 0,
	ASTRA__POLICY_ST_LAST_SLOT = 1u << 1,
	ASTRA__POLICY_ST_NEXT_RUN = 1u << 2,
	ASTRA__POLICY_ST_LAST_FINISHED = 1u << 3,
	ASTRA__POLICY_ST_SNAPSHOTS = 1u << 4,
	ASTRA__POLICY_ST_BACKUPS = 1u << 5,
	ASTRA__POLICY_ST_PENDING = 1u << 6,
};

/* A policy's status ("status.json" of its ConfigMap, written by the
 * runner; docs/policies.md): every member the library writes. Owned by
 * the struct: astra__policy_status_free. */
typedef struct {
	unsigned has; /* ASTRA__POLICY_ST_* */
	int64_t last_run; /* "lastRun": the claim's time (unix seconds) */
	int64_t last_slot; /* "lastSlot": the schedule slot claimed */
	int64_t next_run; /* "nextRun" */
	char *last_result; /* "lastResult": running, succeeded, failed */
	char *last_error; /* "lastError", optional */
	int64_t last_finished; /* "lastFinished" */
	char **snapshots; /* snapshots taken, oldest first */
	size_t nsnapshots;
	char **backups; /* backups taken, oldest first */
	size_t nbackups;
	astra__policy_ref *pending; /* "pendingDeletes" */
	size_t npending;
} astra__policy_status;

void astra__policy_status_free(astra__policy_status *st);
/* The status as JSON (*out, caller frees; NULL on failure): the members
 * present in the order lastRun, lastSlot, nextRun, lastResult, lastError,
 * lastFinished, snapshots, backups, pendingDeletes. 0 or ASTRA_ENOMEM. */
int astra__policy_status_encode(
        const astra__policy_status *st, astra__json **out);
/* Reads status `j` of policy `what` into *st (zeroed first; nothing to free
 * on failure). ASTRA_ECORRUPT naming the member for one of the wrong type
 * or a pending delete without kind or name ("policy X: status field
 * pendingDeletes[0].name is missing"). */
int astra__policy_status_decode(
        const astra__json *j, const char *what, astra__policy_status *st);
/* The status of policy ConfigMap `cm`, decoded (an empty one when
 * "status.json" is missing or not a JSON object). */
int astra__policy_cm_status(const astra__json *cm, astra__policy_status *st);
/* Appends a copy of `v` to list *arr of *n names; 0 or ASTRA_ENOMEM. */
int astra__policy_names_push(char ***arr, size_t *n, const char *v);
/* Appends a copy of ref (kind, name, vault) to *arr of *n; 0 or
 * ASTRA_ENOMEM. */
int astra__policy_refs_push(astra__policy_ref **arr, size_t *n,
        const char *kind, const char *name, const char *vault);
void astra__policy_refs_free(astra__policy_ref *arr, size_t n);
const char *astra__policy_cm_app(const astra__json *cm);
/* Stores v as JSON text under data[key]. */
int astra__policy_cm_put(
        astra__json *cm, const char *key, const astra__json *v);
/* PUT with the object's resourceVersion: ASTRA_ECONFLICT when it moved. */
int astra__policy_cm_update(
        astra__kube *k, const astra__json *cm, astra__json **out);
/* Read-modify-write of a status, retried on conflicts. */
typedef int (*astra__policy_status_fn)(
        astra__policy_status *status, void *payload);
int astra__policy_status_update(astra__kube *k, const char *ns,
        const char *cmname, astra__policy_status_fn fn, void *payload);

#endif
