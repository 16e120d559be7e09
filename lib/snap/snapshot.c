/*
 * Application snapshots: hooks' stage points, manifests, one consistency
 * group of CSI snapshots per namespace and driver, and a record kept in
 * the cluster as Secrets (the manifests include the app's Secrets).
 * docs/snapshots.md describes the protocol and the record.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "astra/snapshot.h"
#include "compress/compress.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "hook/hook.h"
#include "kube/cluster_internal.h"
#include "snap/record.h"
#include "snap/snap.h"

#define PART_MAX (700u * 1024u) /* per Secret, below the 1 MiB limit */

astra_status astra_snapshot_options_init(
        astra_snapshot_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_snapshot_options, SNAPSHOT, o, version, sizeof(defaults));
}

/* ---- resources ---- */

static int find(astra__kube *k, const char *group, const char *kind,
        astra__kube_resource *r, const char *hint)
{
	int rc = astra__kube_find_kind(k, group, NULL, kind, r);
	if (rc == ASTRA_ENOTFOUND)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "the cluster does not serve %s (%s): %s", kind, group,
		        hint);
	return rc;
}

/* The class for a driver: the named one, else the default, else the only
 * one. NULL when there is none. */
static const astra__json *pick_class(const astra__json *classes,
        const char *driver, const char *named, const char *default_ann)
{
	const astra__json *only = NULL;
	int count = 0;
	for (size_t i = 0; i < astra__json_size(classes); i++) {
		const astra__json *c = astra__json_at(classes, i);
		const char *d = astra__json_str(c, "driver");
		const char *n =
		        astra__json_path(c, "metadata.name")
		                ? astra__json_string_value(
		                          astra__json_path(c, "metadata.name"))
		                : NULL;
		if (!d || strcmp(d, driver))
			continue;
		if (named && n && !strcmp(n, named))
			return c;
		const char *def = astra__json_str(
		        astra__json_path(c, "metadata.annotations"),
		        default_ann);
		if (!named && def && !strcmp(def, "true"))
			return c;
		only = c;
		count++;
	}
	return !named && count == 1 ? only : NULL;
}

/* ---- the work ---- */

typedef struct {
	char *ns;
	char *pvc;
	char *driver;
	char *vs; /* VolumeSnapshot name (set for groups once known) */
	char *group; /* VolumeGroupSnapshot name, or NULL */
	int ready;
	char *restore_size;
	/* no snapshot can be taken: its PV is not CSI, or no class serves its
	 * driver (`reason` says which); a backup reads it live */
	int live;
	char *reason;
	int live_read; /* read live, while the app was quiesced */
} vol;

typedef struct {
	astra_app *app;
	astra__kube *k;
	astra__op op;
	char name[256];
	uint64_t deadline_ns;
	astra__kube_resource vs_r, vgs_r, vsc_r, vgsc_r, pvc_r, pv_r;
	int have_vgs;
	vol *vols;
	size_t nvols;
	ASTRA_VEC(char *) created_vgs; /* "ns/name" */
	ASTRA_VEC(char *) labelled; /* "ns/pvc" */
	int group_used, individual_used;
	const astra__snap_live *live; /* NULL: a local snapshot */
	const astra__json *manifests; /* the collection's objects */
} snap;

static void vols_free(snap *s)
{
	for (size_t i = 0; i < s->nvols; i++) {
		free(s->vols[i].ns);
		free(s->vols[i].pvc);
		free(s->vols[i].driver);
		free(s->vols[i].vs);
		free(s->vols[i].group);
		free(s->vols[i].restore_size);
		free(s->vols[i].reason);
	}
	free(s->vols);
	for (size_t i = 0; i < s->created_vgs.n; i++)
		free(s->created_vgs.v[i]);
	astra_vec_free(&s->created_vgs);
	for (size_t i = 0; i < s->labelled.n; i++)
		free(s->labelled.v[i]);
	astra_vec_free(&s->labelled);
}

/* Marks `v`, whose PV `pv` has no spec.csi, as one no snapshot can take. */
static int not_csi(vol *v, const astra__json *pv, const char *pvname)
{
	static const char *const kinds[] = { "local", "hostPath", "nfs",
		"iscsi", "fc", "cephfs", "rbd", "glusterfs" };
	const char *kind = "in-tree";
	const astra__json *spec = astra__json_get(pv, "spec");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (astra__json_get(spec, kinds[i])) {
			kind = kinds[i];
			break;
		}
	v->live = 1;
	v->reason = astra__aprintf("PV %s is not a CSI volume (%s): CSI "
	                           "snapshots cannot take it",
	        pvname, kind);
	return v->reason ? 0 : astra__err_oom();
}

static int prepare_volumes(snap *s, const astra__json *pvcs)
{
	s->nvols = astra__json_size(pvcs);
	s->vols = astra__calloc(s->nvols + 1, sizeof(vol));
	if (!s->vols)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < s->nvols; i++) {
		const astra__json *p = astra__json_at(pvcs, i);
		const char *ns = astra__json_str(
		        astra__json_get(p, "metadata"), "namespace");
		const char *name =
		        astra__json_str(astra__json_get(p, "metadata"), "name");
		const char *phase =
		        astra__json_str(astra__json_get(p, "status"), "phase");
		const char *pvname = astra__json_str(
		        astra__json_get(p, "spec"), "volumeName");
		s->vols[i].ns = astra__strdup(ns);
		s->vols[i].pvc = astra__strdup(name);
		if (!phase || strcmp(phase, "Bound") || !pvname)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
			        "PVC %s/%s is not bound (phase %s): it cannot "
			        "be snapshotted",
			        ns, name, phase ? phase : "unknown");
		astra__json *pv = NULL;
		int rc = astra__kube_get(s->k, &s->pv_r, NULL, pvname, &pv);
		if (rc)
			return astra__err_prefix(rc, "PVC %s/%s", ns, name);
		const char *driver = astra__json_str(
		        astra__json_path(pv, "spec.csi"), "driver");
		if (!driver)
			rc = not_csi(&s->vols[i], pv, pvname);
		else if (!(s->vols[i].driver = astra__strdup(driver)))
			rc = astra__err_oom();
		astra__json_free(pv);
		if (rc)
			return rc;
	}
	return 0;
}

static int label_pvc(snap *s, const char *ns, const char *pvc, int on)
{
	char patch[512];
	if (on)
		snprintf(patch, sizeof(patch),
		        "{\"metadata\":{\"labels\":{\"" ASTRA_SNAP_LABEL_GROUP
		        "\":\"%s\"}}}",
		        s->name);
	else
		snprintf(patch, sizeof(patch),
		        "{\"metadata\":{\"labels\":{\"" ASTRA_SNAP_LABEL_GROUP
		        "\":null}}}");
	return astra__kube_patch(s->k, &s->pvc_r, ns, pvc,
	        ASTRA_KUBE_PATCH_MERGE, patch, strlen(patch), NULL, NULL);
}

static astra__json *meta(snap *s, const char *name, const char *ns)
{
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	if (!md || !labels) {
		astra__json_free(md);
		astra__json_free(labels);
		return NULL;
	}
	astra__json_set_str(md, "name", name);
	astra__json_set_str(md, "namespace", ns);
	astra__json_set_str(labels, ASTRA_SNAP_LABEL_APP, s->app->name);
	astra__json_set_str(labels, ASTRA_SNAP_LABEL_NAME, s->name);
	astra__json_set(md, "labels", labels);
	return md;
}

static char *child_name(const snap *s, const char *suffix)
{
	char *n = astra__aprintf("%s-%s", s->name, suffix);
	if (n && strlen(n) > 253)
		n[253] = '\0';
	return n;
}

static int create_individual(snap *s, vol *v, const char *klass)
{
	char *name = child_name(s, v->pvc);
	if (!name)
		return ASTRA_ENOMEM;
	astra__json *o = astra__json_new_object();
	astra__json *spec = astra__json_new_object();
	astra__json *src = astra__json_new_object();
	astra__json *md = meta(s, name, v->ns);
	int rc = (!o || !spec || !src || !md) ? ASTRA_ENOMEM : 0;
	if (!rc) {
		char av[256];
		snprintf(av, sizeof(av), "%s/%s", s->vs_r.group,
		        s->vs_r.version);
		astra__json_set_str(o, "apiVersion", av);
		astra__json_set_str(o, "kind", "VolumeSnapshot");
		astra__json_set(o, "metadata", md);
		md = NULL;
		astra__json_set_str(spec, "volumeSnapshotClassName", klass);
		astra__json_set_str(src, "persistentVolumeClaimName", v->pvc);
		astra__json_set(spec, "source", src);
		src = NULL;
		astra__json_set(o, "spec", spec);
		spec = NULL;
		rc = astra__kube_create(s->k, &s->vs_r, v->ns, o, NULL, NULL);
	}
	astra__json_free(o);
	astra__json_free(spec);
	astra__json_free(src);
	astra__json_free(md);
	if (!rc)
		v->vs = name;
	else
		free(name);
	return rc;
}

static int create_group(snap *s, const char *ns, const char *driver,
        const char *klass, size_t idx)
{
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "group-%zu", idx);
	char *name = child_name(s, suffix);
	if (!name)
		return ASTRA_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < s->nvols && !rc; i++) {
		vol *v = &s->vols[i];
		if (v->live || strcmp(v->ns, ns) || strcmp(v->driver, driver))
			continue;
		rc = label_pvc(s, ns, v->pvc, 1);
		if (!rc) {
			char *key = astra__aprintf("%s/%s", ns, v->pvc);
			if (!key || astra_vec_push(&s->labelled, key)) {
				free(key);
				rc = ASTRA_ENOMEM;
			}
		}
		v->group = astra__strdup(name);
	}
	astra__json *o = astra__json_new_object();
	astra__json *md = meta(s, name, ns);
	astra__json *spec = NULL;
	char *text = NULL;
	if (!rc && (!o || !md))
		rc = ASTRA_ENOMEM;
	if (!rc) {
		char av[256];
		snprintf(av, sizeof(av), "%s/%s", s->vgs_r.group,
		        s->vgs_r.version);
		astra__json_set_str(o, "apiVersion", av);
		astra__json_set_str(o, "kind", "VolumeGroupSnapshot");
		astra__json_set(o, "metadata", md);
		md = NULL;
		text = astra__aprintf(
		        "{\"volumeGroupSnapshotClassName\":\"%s\","
		        "\"source\":{\"selector\":{\"matchLabels\":"
		        "{\"" ASTRA_SNAP_LABEL_GROUP "\":\"%s\"}}}}",
		        klass, s->name);
		rc = text ? astra__json_parse(&spec, text, strlen(text), "spec")
		          : ASTRA_ENOMEM;
		if (!rc) {
			astra__json_set(o, "spec", spec);
			spec = NULL;
			rc = astra__kube_create(
			        s->k, &s->vgs_r, ns, o, NULL, NULL);
		}
	}
	if (!rc) {
		char *key = astra__aprintf("%s/%s", ns, name);
		if (!key || astra_vec_push(&s->created_vgs, key)) {
			free(key);
			rc = ASTRA_ENOMEM;
		}
	}
	free(text);
	free(name);
	astra__json_free(o);
	astra__json_free(md);
	astra__json_free(spec);
	return rc;
}

/* ---- waiting ---- */

typedef struct {
	snap *s;
	const char *ns;
	astra__json *vgs_state; /* name -> readyToUse (bool) */
	int done;
	int rc;
	char last_error[1024]; /* reported if not ready in time */
} waiter;

static int all_ready(waiter *w)
{
	snap *s = w->s;
	for (size_t i = 0; i < s->nvols; i++) {
		vol *v = &s->vols[i];
		if (v->live || strcmp(v->ns, w->ns))
			continue;
		if (!v->ready)
			return 0;
		if (v->group && !astra__json_bool(w->vgs_state, v->group, 0))
			return 0;
	}
	return 1;
}

static int seen_vs(waiter *w, const astra__json *obj)
{
	snap *s = w->s;
	const astra__json *md = astra__json_get(obj, "metadata");
	const char *name = astra__json_str(md, "name");
	const char *pvc = astra__json_str(astra__json_path(obj, "spec.source"),
	        "persistentVolumeClaimName");
	const astra__json *st = astra__json_get(obj, "status");
	const char *err =
	        astra__json_str(astra__json_get(st, "error"), "message");
	/* which group owns it, if any */
	const char *owner = NULL;
	const astra__json *refs = astra__json_get(md, "ownerReferences");
	for (size_t i = 0; i < astra__json_size(refs); i++) {
		const astra__json *r = astra__json_at(refs, i);
		const char *k = astra__json_str(r, "kind");
		if (k && !strcmp(k, "VolumeGroupSnapshot"))
			owner = astra__json_str(r, "name");
	}
	for (size_t i = 0; i < s->nvols; i++) {
		vol *v = &s->vols[i];
		if (v->live || strcmp(v->ns, w->ns))
			continue;
		int mine = (v->vs && name && !strcmp(v->vs, name)) ||
		           (v->group && owner && !strcmp(v->group, owner) &&
		                   pvc && !strcmp(pvc, v->pvc));
		if (!mine)
			continue;
		if (!v->vs && name)
			v->vs = astra__strdup(name);
		/* status.error is the last error the controllers met; they
		 * retry (conflicts are common), so it only counts if the
		 * snapshot is still not ready at the deadline */
		if (err)
			snprintf(w->last_error, sizeof(w->last_error),
			        "VolumeSnapshot %s/%s of PVC %s: %s", w->ns,
			        name ? name : "?", v->pvc, err);
		v->ready = astra__json_bool(st, "readyToUse", 0);
		const char *rs = astra__json_str(st, "restoreSize");
		if (rs && !v->restore_size)
			v->restore_size = astra__strdup(rs);
	}
	return 0;
}

static int seen_vgs(waiter *w, const astra__json *obj)
{
	const char *name =
	        astra__json_str(astra__json_get(obj, "metadata"), "name");
	const astra__json *st = astra__json_get(obj, "status");
	const char *err =
	        astra__json_str(astra__json_get(st, "error"), "message");
	if (!name)
		return 0;
	if (err)
		snprintf(w->last_error, sizeof(w->last_error),
		        "VolumeGroupSnapshot %s/%s: %s", w->ns, name, err);
	return astra__json_set_bool(
	        w->vgs_state, name, astra__json_bool(st, "readyToUse", 0));
}

static int watch_cb(void *payload, const char *type, astra__json *obj)
{
	waiter *w = payload;
	if (!strcmp(type, "BOOKMARK") || !strcmp(type, "DELETED"))
		return 0;
	const char *kind = astra__json_str(obj, "kind");
	int rc = kind && !strcmp(kind, "VolumeGroupSnapshot") ? seen_vgs(w, obj)
	                                                      : seen_vs(w, obj);
	if (rc)
		return rc;
	if (all_ready(w))
		return 1;
	rc = astra__op_report(&w->s->op, 0);
	if (rc)
		return rc;
	if (astra__mono_ns() > w->s->deadline_ns)
		return 1; /* the caller reports the timeout */
	return 0;
}

typedef struct {
	waiter *w;
} list_pl;

static int list_vs_cb(void *payload, astra__json *item)
{
	return seen_vs(((list_pl *)payload)->w, item) < 0 ? -1 : 0;
}

static int list_vgs_cb(void *payload, astra__json *item)
{
	return seen_vgs(((list_pl *)payload)->w, item) < 0 ? -1 : 0;
}

/* Waits with watches (not polling) until every volume of `ns` is ready. */
static int wait_namespace(snap *s, const char *ns)
{
	waiter w = { s, ns, astra__json_new_object(), 0, 0, "" };
	if (!w.vgs_state)
		return ASTRA_ENOMEM;
	int rc = 0;
	while (!rc) {
		/* state now, then changes from that resourceVersion on; the
		 * group and its members are watched in turn */
		char *rv = NULL;
		list_pl pl = { &w };
		if (s->have_vgs)
			rc = astra__kube_list(s->k, &s->vgs_r, ns, NULL,
			        list_vgs_cb, &pl, NULL);
		if (!rc)
			rc = astra__kube_list(
			        s->k, &s->vs_r, ns, NULL, list_vs_cb, &pl, &rv);
		if (rc || all_ready(&w)) {
			free(rv);
			break;
		}
		uint64_t now = astra__mono_ns();
		if (now > s->deadline_ns) {
			free(rv);
			rc = ASTRA_ETIMEOUT;
			break;
		}
		astra__kube_list_options lo = { 0 };
		lo.resource_version = rv;
		unsigned left =
		        (unsigned)((s->deadline_ns - now) / 1000000000ULL);
		/* a group's readiness comes from the group object: watch the
		 * members only once the group says ready, briefly */
		lo.timeout_seconds = left > 2 ? 2 : (left ? left : 1);
		lo.op = &s->op;
		rc = astra__kube_watch(
		        s->k, &s->vs_r, ns, &lo, watch_cb, &w, NULL);
		free(rv);
		if (rc == ASTRA_ECONFLICT) /* 410 Gone: list again */
			rc = 0;
	}
	if (rc == ASTRA_ETIMEOUT || (!rc && !all_ready(&w))) {
		for (size_t i = 0; i < s->nvols; i++)
			if (!strcmp(s->vols[i].ns, ns) && !s->vols[i].live &&
			        !s->vols[i].ready) {
				rc = astra__err(ASTRA_ETIMEOUT,
				        ASTRA_ERROR_KUBE,
				        "snapshot %s: the snapshot of PVC %s/%s "
				        "(%s) was not ready in time%s%s",
				        s->name, ns, s->vols[i].pvc,
				        s->vols[i].vs ? s->vols[i].vs
				                      : "not created yet",
				        w.last_error[0] ? "; last error: " : "",
				        w.last_error);
				break;
			}
		if (rc == ASTRA_ETIMEOUT && !astra_error_last()->code)
			rc = astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "snapshot %s: a group snapshot in %s was not "
			        "ready in time",
			        s->name, ns);
	}
	astra__json_free(w.vgs_state);
	return rc;
}

/* ---- cleanup ---- */

static void undo(snap *s, int delete_snapshots)
{
	/* keep the error of the operation */
	astra__saved_err e;
	astra__err_save(&e);
	for (size_t i = 0; i < s->labelled.n; i++) {
		char *slash = strchr(s->labelled.v[i], '/');
		*slash = '\0';
		if (label_pvc(s, s->labelled.v[i], slash + 1, 0))
			astra__log_warn("cannot remove the label of PVC %s/%s",
			        s->labelled.v[i], slash + 1);
		*slash = '/';
	}
	if (delete_snapshots) {
		for (size_t i = 0; i < s->created_vgs.n; i++) {
			char *slash = strchr(s->created_vgs.v[i], '/');
			*slash = '\0';
			(void)astra__kube_delete(s->k, &s->vgs_r,
			        s->created_vgs.v[i], slash + 1, NULL);
			*slash = '/';
		}
		for (size_t i = 0; i < s->nvols; i++)
			if (s->vols[i].vs && !s->vols[i].group)
				(void)astra__kube_delete(s->k, &s->vs_r,
				        s->vols[i].ns, s->vols[i].vs, NULL);
	}
	astra__err_restore(&e);
}

/* ---- the record ---- */

/* Runs one hook stage; its results go into `hooks` (the record). */
static int hook_stage(snap *s, const astra__hook_set *hs, char **nss,
        size_t nns, astra__json *hooks, const char *stage)
{
	char what[512];
	snprintf(what, sizeof(what), "snapshot %s of app %s", s->name,
	        s->app->name);
	astra__hook_run_options ro = { 0 };
	ro.namespaces = (const char *const *)nss;
	ro.nnamespaces = nns;
	ro.op = &s->op;
	ro.what = what;
	astra__log_debug("snapshot %s: stage %s", s->name, stage);
	return astra__hook_run_stage(s->k, hs, stage, &ro, hooks);
}

/* The pre-restore, post-restore and verify hooks, with their scripts,
 * travel in the record so a restore (or a backup's test restore) into any
 * cluster can run them. */
static astra__json *restore_hooks_json(const astra__hook_set *hs)
{
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && i < hs->n; i++)
		if (!strcmp(hs->v[i].stage, "pre-restore") ||
		        !strcmp(hs->v[i].stage, "post-restore") ||
		        !strcmp(hs->v[i].stage, "verify"))
			astra__json_push(arr, astra__hook_json(&hs->v[i], 1));
	return arr;
}

/* *out = a copy of `v` (stays NULL when `v` is NULL). */
static int dup_opt(char **out, const char *v)
{
	if (!v)
		return 0;
	*out = astra__strdup(v);
	return *out ? 0 : astra__err_oom();
}

/* The record's volumes, copied from s->vols; on failure the copies made
 * so far stay in rec (counted by rec->nvolumes) for astra__snap_rec_free. */
static int record_volumes(const snap *s, astra__snap_rec *rec)
{
	rec->volumes = astra__calloc(s->nvols + 1, sizeof(*rec->volumes));
	if (!rec->volumes)
		return astra__err_oom();
	int rc = 0;
	for (size_t i = 0; !rc && i < s->nvols; i++) {
		const vol *v = &s->vols[i];
		astra__snap_vol *o = &rec->volumes[i];
		rec->nvolumes = i + 1;
		o->ready_to_use = v->ready;
		if (!(rc = dup_opt(&o->ns, v->ns)) &&
		        !(rc = dup_opt(&o->pvc, v->pvc)) &&
		        !(rc = dup_opt(&o->driver, v->driver)) &&
		        !(rc = dup_opt(&o->volume_snapshot, v->vs)) &&
		        !(rc = dup_opt(&o->group, v->group)) &&
		        !(rc = dup_opt(&o->restore_size, v->restore_size)) &&
		        !(rc = dup_opt(&o->consistency,
		                  !v->live ? "snapshot"
		                           : (v->live_read ? ASTRA_SNAP_LIVE
		                                           : "none"))) &&
		        v->live && !v->live_read)
			rc = dup_opt(&o->reason, v->reason);
	}
	return rc;
}

int astra__snap_secret_resource(astra__kube *k, astra__kube_resource *r)
{
	return astra__kube_find_kind(k, "", "v1", "Secret", r);
}

/* Sets rec->manifest_parts, encodes the record into *out (caller frees;
 * NULL on failure) and creates the record's Secrets: the first holds
 * record.json and the first part of the gzipped manifests, the others
 * (astra-snap-<name>-part-<n>) the rest. */
static int save_record(snap *s, astra__snap_rec *rec,
        const astra__json *manifests, astra__json **out)
{
	astra__kube_resource sr;
	int rc = astra__snap_secret_resource(s->k, &sr);
	if (rc)
		return rc;
	astra_buf plain = ASTRA_BUF_INIT, gz = ASTRA_BUF_INIT;
	astra_buf rec_text = ASTRA_BUF_INIT;
	rc = astra__json_print_buf(&plain, manifests, 0);
	if (!rc)
		rc = astra__gzip(&gz, plain.ptr, plain.size);
	size_t parts = gz.size / PART_MAX + 1;
	rec->manifest_parts = (int64_t)parts;
	if (!rc)
		rc = astra__snap_rec_encode(rec, out);
	if (!rc)
		rc = astra__json_print_buf(&rec_text, *out, 0);
	for (size_t p = 0; p < parts && !rc; p++) {
		char name[300], key[64];
		if (p == 0)
			snprintf(name, sizeof(name),
			        ASTRA_SNAP_SECRET_PREFIX "%s", s->name);
		else
			snprintf(name, sizeof(name),
			        ASTRA_SNAP_SECRET_PREFIX "%s-part-%zu", s->name,
			        p);
		astra__json *sec = astra__json_new_object();
		astra__json *md = meta(s, name, s->app->home);
		astra__json *data = astra__json_new_object();
		astra_buf b64 = ASTRA_BUF_INIT;
		if (!sec || !md || !data) {
			astra__json_free(sec);
			astra__json_free(md);
			astra__json_free(data);
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json *labels = astra__json_get(md, "labels");
		astra__json_set_str(labels, ASTRA_SNAP_LABEL_RECORD,
		        p == 0 ? "true" : "part");
		astra__json_set_str(sec, "apiVersion", "v1");
		astra__json_set_str(sec, "kind", "Secret");
		astra__json_set_str(sec, "type", ASTRA_SNAP_SECRET_TYPE);
		astra__json_set(sec, "metadata", md);
		if (p == 0) {
			astra__base64_encode(&b64, rec_text.ptr, rec_text.size);
			astra__json_set_str(data, "record.json", b64.ptr);
			astra__buf_clear(&b64);
		}
		size_t off = p * PART_MAX;
		size_t len =
		        gz.size - off < PART_MAX ? gz.size - off : PART_MAX;
		astra__base64_encode(&b64, gz.ptr + off, len);
		snprintf(key, sizeof(key), "manifests.json.gz");
		astra__json_set_str(data, key, b64.ptr);
		astra_buf_dispose(&b64);
		astra__json_set(sec, "data", data);
		rc = astra__kube_create(
		        s->k, &sr, s->app->home, sec, NULL, NULL);
		if (rc == ASTRA_EEXISTS)
			rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
			        "a snapshot named %s already exists for app %s",
			        s->name, s->app->name);
		astra__json_free(sec);
	}
	astra_buf_dispose(&plain);
	astra_buf_dispose(&gz);
	astra_buf_dispose(&rec_text);
	astra__kube_resource_clear(&sr);
	return rc;
}

static int valid_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (!len || len > 200)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		            (n[i] >= '0' && n[i] <= '9') || n[i] == '-' ||
		            n[i] == '.'))
			return 0;
	return n[0] != '-' && n[len - 1] != '-';
}

/* ---- astra_snapshot_create, step by step ---- */

/* Sets the snapshot's name (given, or "<app>-<UTC time>") and checks it. */
static int snap_name(snap *s, const astra_snapshot_options *o)
{
	if (o && o->name) {
		snprintf(s->name, sizeof(s->name), "%s", o->name);
	} else {
		time_t t = (time_t)(astra__wall_ns() / 1000000000LL);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(s->name, sizeof(s->name),
		        "%s-%04d%02d%02d%02d%02d%02d", s->app->name,
		        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		        tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	if (!valid_name(s->name))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "\"%s\" is not a valid snapshot name (lower-case "
		        "letters, digits, '-' and '.', at most 200)",
		        s->name);
	return 0;
}

/* Finds the snapshot kinds and lists their classes. Guarantees on success:
 * vs_r and vsc_r resolved; have_vgs says whether group snapshots (and
 * their classes, in *gclasses) can be used. */
static int snap_find_classes(snap *s, const astra_snapshot_options *o,
        astra__json **classes, astra__json **gclasses)
{
	const char *hint = "install the external-snapshotter CRDs and the "
	                   "snapshot controller";
	int rc;
	if ((rc = find(s->k, "snapshot.storage.k8s.io", "VolumeSnapshot",
	             &s->vs_r, hint)) ||
	        (rc = find(s->k, "snapshot.storage.k8s.io",
	                 "VolumeSnapshotClass", &s->vsc_r, hint)))
		return rc;
	s->have_vgs =
	        !(o && (o->flags & ASTRA_SNAPSHOT_F_NO_GROUP)) &&
	        astra__kube_find_kind(s->k, "groupsnapshot.storage.k8s.io",
	                NULL, "VolumeGroupSnapshot", &s->vgs_r) == 0 &&
	        astra__kube_find_kind(s->k, "groupsnapshot.storage.k8s.io",
	                NULL, "VolumeGroupSnapshotClass", &s->vgsc_r) == 0;
	astra_error_clear();
	if ((rc = astra__kube_list_all(s->k, &s->vsc_r, NULL, NULL, classes)))
		return rc;
	if (s->have_vgs && astra__kube_list_all(s->k, &s->vgsc_r, NULL, NULL,
	                           gclasses) != 0) {
		astra_error_clear();
		s->have_vgs = 0;
	}
	return 0;
}

/* snap_find_classes when a volume is a CSI one: an app whose volumes are
 * all local, hostPath, nfs, ... needs no snapshot CRDs in the cluster. */
static int snap_find_classes_csi(snap *s, const astra_snapshot_options *o,
        astra__json **classes, astra__json **gclasses)
{
	for (size_t i = 0; i < s->nvols; i++)
		if (!s->vols[i].live)
			return snap_find_classes(s, o, classes, gclasses);
	return 0;
}

/* Creates the snapshots: one group snapshot per namespace and driver that
 * has a group class, else individual VolumeSnapshots of one driver created
 * one right after the other while the app is quiesced. Fails before
 * creating anything more when a driver has no class. */
static int snap_create_all(
        snap *s, const astra__json *classes, const astra__json *gclasses)
{
	astra_app *app = s->app;
	size_t groups = 0;
	int rc = 0;
	for (size_t i = 0; i < s->nvols && !rc; i++) {
		vol *v = &s->vols[i];
		if (v->live || v->vs || v->group)
			continue; /* handled with its group, or read live */
		const astra__json *gc =
		        s->have_vgs
		                ? pick_class(gclasses, v->driver,
		                          app->snapshot_class,
		                          "groupsnapshot.storage.kubernetes."
		                          "io/is-default-class")
		                : NULL;
		if (gc) {
			rc = create_group(s, v->ns, v->driver,
			        astra__json_string_value(
			                astra__json_path(gc, "metadata.name")),
			        groups++);
			s->group_used = 1;
			continue;
		}
		const astra__json *c = pick_class(classes, v->driver,
		        app->snapshot_class,
		        "snapshot.storage.kubernetes.io/is-default-class");
		if (!c)
			return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
			        "PVC %s/%s: no VolumeSnapshotClass for CSI "
			        "driver %s%s%s",
			        v->ns, v->pvc, v->driver,
			        app->snapshot_class ? " named " : "",
			        app->snapshot_class ? app->snapshot_class : "");
		for (size_t j = i; j < s->nvols && !rc; j++)
			if (!s->vols[j].live &&
			        !strcmp(s->vols[j].driver, v->driver) &&
			        !s->vols[j].vs && !s->vols[j].group)
				rc = create_individual(s, &s->vols[j],
				        astra__json_string_value(
				                astra__json_path(
				                        c, "metadata.name")));
		s->individual_used = 1;
	}
	return rc;
}

/* Waits, one namespace at a time (with watches), until every snapshot is
 * ready to use or the deadline passes. */
static int snap_wait_all(snap *s)
{
	int rc = 0;
	for (size_t i = 0; i < s->nvols && !rc; i++) {
		int first = !s->vols[i].live;
		for (size_t j = 0; j < i; j++)
			first &= s->vols[j].live ||
			         strcmp(s->vols[j].ns, s->vols[i].ns) != 0;
		if (first)
			rc = wait_namespace(s, s->vols[i].ns);
	}
	return rc;
}

/* Whether any class of `classes` serves CSI driver `driver`. */
static int has_class(const astra__json *classes, const char *driver)
{
	for (size_t i = 0; i < astra__json_size(classes); i++) {
		const char *d =
		        astra__json_str(astra__json_at(classes, i), "driver");
		if (d && !strcmp(d, driver))
			return 1;
	}
	return 0;
}

/* Marks the CSI volumes whose driver has no snapshot class at all (group
 * or single) as read live, then,
 * for a backup (s->live), asks whether each volume read live can be
 * read: the first that cannot fails the snapshot before anything is
 * taken. A local snapshot records those volumes as not taken. */
static int snap_classify(
        snap *s, const astra__json *classes, const astra__json *gclasses)
{
	for (size_t i = 0; i < s->nvols; i++) {
		vol *v = &s->vols[i];
		if (v->live || has_class(classes, v->driver) ||
		        (s->have_vgs && has_class(gclasses, v->driver)))
			continue;
		/* a class the app names but the driver lacks stays an error
		 * (snap_create_all): only a driver without any class is read
		 * live */
		v->live = 1;
		v->reason = astra__aprintf(
		        "no VolumeSnapshotClass for its CSI driver %s",
		        v->driver);
		if (!v->reason)
			return astra__err_oom();
	}
	for (size_t i = 0; i < s->nvols; i++) {
		vol *v = &s->vols[i];
		if (!v->live)
			continue;
		if (!s->live) {
			astra__log_warn(
			        "snapshot %s: PVC %s/%s is not taken (%s); "
			        "only a backup can hold its data",
			        s->name, v->ns, v->pvc, v->reason);
			continue;
		}
		int rc = s->live->check(
		        s->live->payload, v->ns, v->pvc, v->reason);
		if (rc)
			return rc;
	}
	return 0;
}

/* For a backup: reads the volumes no snapshot can take, live, while the
 * app is still quiesced (after the other volumes' snapshots are ready,
 * before the post-snapshot hooks). */
static int snap_read_live(snap *s)
{
	if (!s->live)
		return 0;
	astra__json *arr = astra__json_new_array();
	int rc = arr ? 0 : astra__err_oom();
	for (size_t i = 0; !rc && i < s->nvols; i++) {
		vol *v = &s->vols[i];
		if (!v->live)
			continue;
		astra__json *o = astra__json_new_object();
		if (!o || astra__json_set_str(o, "namespace", v->ns) ||
		        astra__json_set_str(o, "pvc", v->pvc) ||
		        astra__json_set_str(o, "reason", v->reason) ||
		        astra__json_set_str(
		                o, "consistency", ASTRA_SNAP_LIVE) ||
		        astra__json_push(arr, o)) {
			astra__json_free(o);
			rc = astra__err_oom();
		}
	}
	if (!rc && astra__json_size(arr)) {
		astra__log_debug("snapshot %s: reading %zu volume(s) live",
		        s->name, astra__json_size(arr));
		rc = s->live->read(s->live->payload, arr, s->manifests);
	}
	for (size_t i = 0; !rc && i < s->nvols; i++)
		s->vols[i].live_read = s->vols[i].live;
	astra__json_free(arr);
	return rc;
}

/* Runs the post-snapshot hooks, always once the pre hooks ran. Returns the
 * first failure: rc when the snapshot had failed (its message then says
 * how the post hooks went), else the hooks' result. */
static int snap_post_hooks(snap *s, const astra__hook_set *hs, char **nss,
        size_t nns, astra__json *hooks, int rc)
{
	astra__saved_err e;
	astra__err_save(&e);
	int prc = hook_stage(s, hs, nss, nns, hooks, "post-snapshot");
	if (!rc)
		return prc;
	const astra__json *ps =
	        astra__json_at(hooks, astra__json_size(hooks) - 1);
	astra__err(e.code, e.klass,
	        "%s (post-snapshot hooks ran: %lld, failed: %lld)", e.message,
	        (long long)astra__json_int(ps, "hooks", 0),
	        (long long)astra__json_int(ps, "failed", 0));
	return rc;
}

/* Fills the snapshot's record (takes `hooks` and the collection's
 * warnings) and saves it with the manifests; *out receives the record as
 * written (caller frees). On failure the created snapshots are deleted
 * and *out is NULL. */
static int snap_write_record(snap *s, astra__json **out, astra__json *hooks,
        const astra__hook_set *hs, astra__app_collection *col, uint64_t t0)
{
	char when[24];
	astra__fmt_utc(when, astra__wall_ns() / 1000000000LL);
	astra__snap_rec rec;
	memset(&rec, 0, sizeof(rec));
	*out = NULL;
	rec.hooks = hooks;
	rec.warnings = col->warnings;
	col->warnings = NULL;
	int rc;
	if (!(rc = dup_opt(&rec.app, s->app->name)) &&
	        !(rc = dup_opt(&rec.name, s->name)) &&
	        !(rc = dup_opt(&rec.ns, s->app->home)) &&
	        !(rc = dup_opt(&rec.created, when)) &&
	        !(rc = dup_opt(&rec.state, "completed")) &&
	        !(rc = dup_opt(&rec.consistency,
	                  !s->group_used && !s->individual_used
	                          ? "none"
	                          : (s->group_used && !s->individual_used
	                                            ? "group"
	                                            : "individual"))) &&
	        !(rc = record_volumes(s, &rec))) {
		rec.resources = (int64_t)astra__json_size(col->objects);
		rec.hook_definitions = restore_hooks_json(hs);
		rec.duration_ms =
		        (int64_t)((astra__mono_ns() - t0) / 1000000ULL);
		rc = rec.hook_definitions ? 0 : astra__err_oom();
	}
	if (!rc)
		rc = save_record(s, &rec, col->objects, out);
	astra__snap_rec_free(&rec);
	if (rc) {
		astra__json_free(*out);
		*out = NULL;
		undo(s, 1);
	}
	return rc;
}

/*
 * An app snapshot: pre-snapshot hooks, the app's manifests, one snapshot
 * per PVC (grouped where the driver can), a wait until all are ready,
 * post-snapshot hooks (always, once the pre hooks ran), then the record.
 * Guarantees: on failure nothing it created is left (snapshots deleted,
 * PVC labels removed) and no record exists; on success the record names
 * every volume's snapshot, all ready to use.
 */
astra_status astra_snapshot_create(
        astra_app *app, const astra_snapshot_options *o, astra_buf *record_out)
{
	return astra__snapshot_create_live(app, o, NULL, record_out);
}

int astra__snapshot_create_live(astra_app *app, const astra_snapshot_options *o,
        const astra__snap_live *live, astra_buf *record_out)
{
	ASTRA_ASSERT_ARG(app);
	int rc;
	if (o && (rc = astra__check_version(o->version,
	                  ASTRA_SNAPSHOT_OPTIONS_VERSION,
	                  "astra_snapshot_options")))
		return rc;
	snap s;
	memset(&s, 0, sizeof(s));
	s.app = app;
	s.k = app->k;
	s.live = live;
	astra__op_init(&s.op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o && o->cancel ? o->cancel
	                       : astra__cluster_cancel(app->cluster));
	s.op.p.stage = ASTRA_STAGE_SNAPSHOTTING;
	unsigned timeout = o && o->timeout_s ? o->timeout_s : 300;
	if ((rc = snap_name(&s, o)))
		return rc;
	astra__app_collection col;
	memset(&col, 0, sizeof(col));
	astra__json *rec = NULL;
	astra__json *hooks = astra__json_new_array();
	astra__json *classes = NULL, *gclasses = NULL;
	astra__hook_set hs = { 0 };
	char **hook_ns = NULL;
	size_t hook_nns = 0;
	uint64_t t0 = astra__mono_ns();
	if (!hooks) {
		rc = ASTRA_ENOMEM;
		goto out;
	}
	if ((rc = find(s.k, "", "PersistentVolumeClaim", &s.pvc_r, "")) ||
	        (rc = find(s.k, "", "PersistentVolume", &s.pv_r, "")) ||
	        (rc = astra__hook_load(s.k, app->home, app->name, &hs)) ||
	        (rc = astra__hook_app_namespaces(app, &hook_ns, &hook_nns)))
		goto out;

	/* from the pre-snapshot hooks on, the post hooks run whatever
	 * happens */
	if (!(rc = hook_stage(
	              &s, &hs, hook_ns, hook_nns, hooks, "pre-snapshot")) &&
	        !(rc = astra__app_collect(app, 1, &s.op, &col)) &&
	        !(rc = prepare_volumes(&s, col.pvcs)) && s.nvols &&
	        !(rc = snap_find_classes_csi(&s, o, &classes, &gclasses)) &&
	        !(rc = snap_classify(&s, classes, gclasses))) {
		s.deadline_ns =
		        astra__mono_ns() + (uint64_t)timeout * 1000000000ULL;
		s.manifests = col.objects;
		if (!(rc = snap_create_all(&s, classes, gclasses)) &&
		        !(rc = snap_wait_all(&s)))
			rc = snap_read_live(&s);
	}
	rc = snap_post_hooks(&s, &hs, hook_ns, hook_nns, hooks, rc);
	undo(&s, rc != 0);
	if (rc)
		goto out;
	rc = snap_write_record(&s, &rec, hooks, &hs, &col, t0);
	hooks = NULL;
	if (!rc && record_out)
		rc = astra__json_print_buf(record_out, rec, 1);
out:
	if (rc)
		astra__err_prefix(
		        rc, "snapshot %s of app %s", s.name, app->name);
	vols_free(&s);
	astra__kube_resource_clear(&s.vs_r);
	astra__kube_resource_clear(&s.vgs_r);
	astra__kube_resource_clear(&s.vsc_r);
	astra__kube_resource_clear(&s.vgsc_r);
	astra__kube_resource_clear(&s.pvc_r);
	astra__kube_resource_clear(&s.pv_r);
	astra__json_free(classes);
	astra__json_free(gclasses);
	astra__json_free(rec);
	astra__json_free(hooks);
	astra__app_collection_free(&col);
	astra__hook_set_free(&hs);
	free(hook_ns);
	return rc;
}
