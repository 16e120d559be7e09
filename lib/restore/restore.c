/*
 * Restore: plan (filter, map namespaces and storage classes, order,
 * sanitize), then apply group by group, objects of a group in parallel.
 * PVCs are created and filled (from the vault through volume access, or
 * from their VolumeSnapshot) before the workloads that mount them.
 * docs/backups.md lists the order and the sanitizing rules.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "astra/backup.h"
#include "app/app.h"
#include "mover/mover.h"
#include "repo/catalog.h"
#include "hook/hook.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/vec.h"
#include <time.h>
#include "kube/cluster_internal.h"
#include "kube/selector.h"
#include "restore/restore.h"
#include "astra/hook.h"
#include "repo/data.h"
#include "repo/vault_internal.h"
#include "snap/snap.h"
#include "restore/inplace.h"

astra_status astra_restore_options_init(
        astra_restore_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_restore_options, RESTORE, o, version,
	        offsetof(astra_restore_options, mover),
	        offsetof(astra_restore_options, inplace_timeout_s),
	        sizeof(defaults));
}

/* ---- order ---- */

enum {
	G_CRD,
	G_NAMESPACE,
	G_CLASSES,
	G_PVC,
	G_CONFIG,
	G_WORKLOAD,
	G_REST,
	G_COUNT
};

static int group_of(const char *group, const char *kind)
{
	if (!strcmp(kind, "CustomResourceDefinition"))
		return G_CRD;
	if (!strcmp(kind, "Namespace"))
		return G_NAMESPACE;
	if (!strcmp(kind, "StorageClass") ||
	        !strcmp(kind, "VolumeSnapshotClass") ||
	        !strcmp(kind, "VolumeGroupSnapshotClass") ||
	        !strcmp(kind, "PriorityClass"))
		return G_CLASSES;
	if (!strcmp(kind, "PersistentVolumeClaim"))
		return G_PVC;
	static const char *const config[] = { "ServiceAccount", "Secret",
		"ConfigMap", "Role", "RoleBinding", "ClusterRole",
		"ClusterRoleBinding", "LimitRange", "ResourceQuota",
		"NetworkPolicy", "PodDisruptionBudget", NULL };
	for (size_t i = 0; config[i]; i++)
		if (!strcmp(kind, config[i]))
			return G_CONFIG;
	static const char *const work[] = { "Deployment", "StatefulSet",
		"DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", NULL };
	if (!strcmp(group, "apps") || !strcmp(group, "batch") || !group[0])
		for (size_t i = 0; work[i]; i++)
			if (!strcmp(kind, work[i]))
				return G_WORKLOAD;
	return G_REST;
}

/* ---- mappings and filters ---- */

typedef struct {
	char **from, **to;
	size_t n;
} mapping;

static int parse_map(
        mapping *m, const char *const *v, size_t n, const char *what)
{
	m->from = astra__calloc(n + 1, sizeof(char *));
	m->to = astra__calloc(n + 1, sizeof(char *));
	m->n = 0;
	if (!m->from || !m->to)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *eq = v[i] ? strchr(v[i], '=') : NULL;
		if (!eq || eq == v[i] || !eq[1])
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "%s mapping \"%s\" is not SRC=DST", what,
			        v[i] ? v[i] : "");
		m->from[m->n] = astra__strndup(v[i], (size_t)(eq - v[i]));
		m->to[m->n] = astra__strdup(eq + 1);
		m->n++;
	}
	return 0;
}

static void free_map(mapping *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->from[i]);
		free(m->to[i]);
	}
	free(m->from);
	free(m->to);
}

static const char *mapped(const mapping *m, const char *v)
{
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->from[i], v) || !strcmp(m->from[i], "*"))
			return m->to[i];
	return v;
}

/* "GROUP/KIND[/NAMESPACE[/NAME]]" */
static int filter_match(const char *f, const char *group, const char *kind,
        const char *ns, const char *name)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", f);
	char *parts[4] = { 0 };
	int n = 0;
	char *p = buf;
	while (n < 4) {
		char *slash = strchr(p, '/');
		parts[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (n < 2)
		return 0;
	const char *g = strcmp(parts[0], "core") ? parts[0] : "";
	if (strcmp(g, "*") && strcmp(g, group))
		return 0;
	if (strcmp(parts[1], "*") && strcasecmp(parts[1], kind))
		return 0;
	if (n > 2 && parts[2][0] && strcmp(parts[2], "*") &&
	        (!ns || strcmp(parts[2], ns)))
		return 0;
	if (n > 3 && parts[3][0] && strcmp(parts[3], "*") &&
	        strcmp(parts[3], name))
		return 0;
	return 1;
}

/* ---- sanitizing ---- */

static int sanitize(astra__json *obj, const mapping *nsmap,
        const mapping *scmap, const char *kind)
{
	astra__json *md = astra__json_get(obj, "metadata");
	static const char *const meta_drop[] = { "uid", "resourceVersion",
		"generation", "creationTimestamp", "managedFields", "selfLink",
		"ownerReferences", "deletionTimestamp",
		"deletionGracePeriodSeconds", NULL };
	for (size_t i = 0; meta_drop[i]; i++)
		astra__json_del(md, meta_drop[i]);
	astra__json_del(obj, "status");
	static const char *const ann_drop[] = {
		"pv.kubernetes.io/bind-completed",
		"pv.kubernetes.io/bound-by-controller",
		"volume.kubernetes.io/selected-node",
		"volume.beta.kubernetes.io/storage-provisioner",
		"volume.kubernetes.io/storage-provisioner",
		"deployment.kubernetes.io/revision", NULL
	};
	astra__json *ann = astra__json_get(md, "annotations");
	for (size_t i = 0; ann && ann_drop[i]; i++)
		astra__json_del(ann, ann_drop[i]);
	const char *ns = astra__json_str(md, "namespace");
	if (ns)
		astra__json_set_str(md, "namespace", mapped(nsmap, ns));
	if (!strcmp(kind, "Namespace"))
		astra__json_set_str(
		        md, "name", mapped(nsmap, astra__json_str(md, "name")));
	astra__json *spec = astra__json_get(obj, "spec");
	if (!strcmp(kind, "Service") && spec) {
		const char *cip = astra__json_str(spec, "clusterIP");
		if (!cip || strcmp(cip, "None")) {
			astra__json_del(spec, "clusterIP");
			astra__json_del(spec, "clusterIPs");
		}
		astra__json *ports = astra__json_get(spec, "ports");
		for (size_t i = 0; i < astra__json_size(ports); i++)
			astra__json_del(astra__json_at(ports, i), "nodePort");
	}
	if (!strcmp(kind, "PersistentVolumeClaim") && spec) {
		astra__json_del(spec, "volumeName");
		astra__json_del(spec, "dataSource");
		astra__json_del(spec, "dataSourceRef");
		const char *sc = astra__json_str(spec, "storageClassName");
		if (sc || scmap->n)
			astra__json_set_str(spec, "storageClassName",
			        mapped(scmap, sc ? sc : "*"));
	}
	if (!strcmp(kind, "StatefulSet") && spec) {
		astra__json *tpls =
		        astra__json_get(spec, "volumeClaimTemplates");
		for (size_t i = 0; i < astra__json_size(tpls); i++) {
			astra__json *ts = astra__json_get(
			        astra__json_at(tpls, i), "spec");
			const char *sc =
			        astra__json_str(ts, "storageClassName");
			if (ts && (sc || scmap->n))
				astra__json_set_str(ts, "storageClassName",
				        mapped(scmap, sc ? sc : "*"));
		}
	}
	if (!strcmp(kind, "Pod") && spec)
		astra__json_del(spec, "nodeName");
	/* a binding never gains subjects: a RoleBinding's ServiceAccounts
	 * in a mapped namespace follow it there; a ClusterRoleBinding keeps
	 * its subjects exactly (remapping would grant the cluster-wide role
	 * to the target namespace's accounts) */
	if (!strcmp(kind, "RoleBinding")) {
		astra__json *subs = astra__json_get(obj, "subjects");
		for (size_t i = 0; i < astra__json_size(subs); i++) {
			astra__json *s = astra__json_at(subs, i);
			const char *sk = astra__json_str(s, "kind");
			const char *sns = astra__json_str(s, "namespace");
			if (sns && sk && !strcmp(sk, "ServiceAccount"))
				astra__json_set_str(
				        s, "namespace", mapped(nsmap, sns));
		}
	}
	return 0;
}

/* ---- apply ---- */

typedef struct rctx rctx;

typedef struct {
	rctx *c;
	astra__json *obj;
	char *pvc_data; /* data snapshot id to fill the PVC with */
	char *pvc_vs; /* or: VolumeSnapshot to clone from */
	char *pvc_none; /* or: why the snapshot holds no data for it */
	uint64_t pvc_bytes; /* the data's recorded size (progress) */
} item;

struct rctx {
	astra__kube *k;
	astra__repo *repo; /* NULL for snapshot restores */
	astra__volume_access va;
	astra__mover *mover; /* NULL: host path */
	const char *ctl_ns; /* the target cluster's control namespace */
	unsigned flags;
	astra__op op;
	pthread_mutex_t mu;
	astra__json *items; /* report items */
	uint64_t created, replaced, skipped, failed;
	astra__inplace *ip; /* an in-place restore */
	uint64_t rolled_back;
};

static void report_src(rctx *c, const astra__json *obj, const char *result,
        const char *reason, const char *source);

static void report(
        rctx *c, const astra__json *obj, const char *result, const char *reason)
{
	report_src(c, obj, result, reason, NULL);
}

/* The outcome of one object, with where its data came from (may be
 * NULL). */
static void report_src(rctx *c, const astra__json *obj, const char *result,
        const char *reason, const char *source)
{
	const astra__json *md = astra__json_get(obj, "metadata");
	pthread_mutex_lock(&c->mu);
	astra__json *e = astra__json_new_object();
	if (e) {
		astra__json_set_str(e, "kind", astra__json_str(obj, "kind"));
		const char *ns = astra__json_str(md, "namespace");
		if (ns)
			astra__json_set_str(e, "namespace", ns);
		astra__json_set_str(e, "name", astra__json_str(md, "name"));
		astra__json_set_str(e, "result", result);
		if (reason)
			astra__json_set_str(e, "reason", reason);
		if (source)
			astra__json_set_str(e, "source", source);
		astra__json_push(c->items, e);
	}
	if (!strcmp(result, "created"))
		c->created++;
	else if (!strcmp(result, "rolled-back"))
		c->rolled_back++;
	else if (!strcmp(result, "replaced"))
		c->replaced++;
	else if (!strcmp(result, "failed"))
		c->failed++;
	else
		c->skipped++;
	c->op.p.items_done++;
	pthread_mutex_unlock(&c->mu);
}

/* Progress after PVC `it` was filled: the volume counts as an item, and
 * whatever of its recorded bytes its restore did not report is done. */
static void pvc_filled(rctx *c, const item *it, uint64_t reported)
{
	pthread_mutex_lock(&c->mu);
	if (it->pvc_bytes > reported)
		c->op.p.bytes_done += it->pvc_bytes - reported;
	if (c->op.p.bytes_done > c->op.p.bytes_total)
		c->op.p.bytes_done = c->op.p.bytes_total;
	c->op.p.items_done++;
	(void)astra__op_report(&c->op, 0);
	pthread_mutex_unlock(&c->mu);
}

static int fill_pvc(rctx *c, item *it, const char *ns, const char *name)
{
	int rc = astra__pvc_wait_bound(c->k, ns, name, 300, NULL);
	char *path = NULL;
	/* the volume's bytes join the restore's one progress stream */
	astra__op_part part = { &c->op, &c->mu, 0, 0, 0 };
	if (!rc)
		rc = astra__volume_path(c->k, &c->va, ns, name, &path);
	if (!rc) {
		astra__restore_params p = { 0 };
		astra__restore_out ro;
		memset(&ro, 0, sizeof(ro));
		p.cancel = c->op.cancel;
		p.progress_cb = astra__op_part_cb;
		p.payload = &part;
		rc = astra__data_restore(c->repo, it->pvc_data, path, &p, &ro);
		astra__json_free(ro.report);
		if (!rc)
			pvc_filled(c, it, part.done);
	}
	free(path);
	return rc;
}

/* In place: existing PVC `it` is rolled back (inplace.c). */
static void rollback_pvc(rctx *c, item *it, const astra__kube_resource *r)
{
	char source[600] = "", msg[1200];
	int rc = astra__inplace_pvc(c->ip, r, it->obj, it->pvc_vs, it->pvc_data,
	        source, sizeof(source));
	if (rc) {
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		report_src(
		        c, it->obj, "failed", msg, source[0] ? source : NULL);
	} else {
		report_src(c, it->obj, "rolled-back", NULL, source);
	}
}

static void apply_one(void *arg)
{
	item *it = arg;
	rctx *c = it->c;
	astra__json *obj = it->obj;
	const astra__json *md = astra__json_get(obj, "metadata");
	const char *ns = astra__json_str(md, "namespace");
	const char *name = astra__json_str(md, "name");
	char msg[1200];
	if (astra_cancel_requested(c->op.cancel)) {
		report(c, obj, "failed", "cancelled");
		return;
	}
	astra__kube_resource r;
	int rc = astra__kube_find_object(c->k, obj, &r);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		report(c, obj, "failed", msg);
		return;
	}
	const char *kind = astra__json_str(obj, "kind");
	if (it->pvc_none) {
		/* an empty PVC would pass for restored data */
		report(c, obj, "failed", it->pvc_none);
		astra__kube_resource_clear(&r);
		return;
	}
	int is_pvc = !strcmp(kind, "PersistentVolumeClaim");
	if (is_pvc && c->ip && c->mover && it->pvc_data) {
		/* in place: an existing PVC is replaced by one the mover
		 * fills (inplace.c); a missing one is created below */
		astra__json *cur = NULL;
		int g = astra__kube_get(c->k, &r, ns, name, &cur);
		astra__json_free(cur);
		if (!g) {
			rollback_pvc(c, it, &r);
			astra__kube_resource_clear(&r);
			return;
		}
		astra_error_clear();
	}
	/* mover Jobs fill a volume in the control namespace first; the PVC
	 * is created bound to it (mover.h) */
	char *pv = NULL;
	int moved = c->mover && it->pvc_data && c->repo && is_pvc;
	if (moved && (rc = astra__mover_restore(c->mover, ns, name, obj,
	                      it->pvc_data, &c->op, &pv))) {
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		report(c, obj, "failed", msg);
		astra__kube_resource_clear(&r);
		return;
	}
	if (pv)
		astra__json_set_str(
		        astra__json_get(obj, "spec"), "volumeName", pv);
	if (it->pvc_vs) {
		/* from a snapshot: the PVC clones its VolumeSnapshot */
		astra__json *spec = astra__json_get(obj, "spec");
		char *ds = astra__aprintf(
		        "{\"apiGroup\":\"snapshot.storage.k8s.io\",\"kind\":"
		        "\"VolumeSnapshot\",\"name\":\"%s\"}",
		        it->pvc_vs);
		astra__json *dsj = NULL;
		if (ds && astra__json_parse(&dsj, ds, strlen(ds), "ds") == 0)
			astra__json_set(spec, "dataSource", dsj);
		free(ds);
	}
	rc = astra__kube_create(
	        c->k, &r, r.namespaced ? ns : NULL, obj, NULL, NULL);
	const char *result = "created";
	if (rc == ASTRA_EEXISTS && c->ip &&
	        !strcmp(kind, "PersistentVolumeClaim")) {
		astra_error_clear();
		if (pv) { /* appeared meanwhile: the filled volume goes */
			astra__mover_restore_undo(c->mover, pv);
			free(pv);
			pv = NULL;
		}
		rollback_pvc(c, it, &r);
		astra__kube_resource_clear(&r);
		return;
	}
	if (rc == ASTRA_EEXISTS) {
		int cluster_scoped = !r.namespaced;
		if ((c->flags & ASTRA_RESTORE_F_REPLACE) && !cluster_scoped &&
		        strcmp(kind, "PersistentVolumeClaim")) {
			astra__kube_write_options wo = { 0 };
			wo.field_manager = "astra-restore";
			wo.force = 1;
			rc = astra__kube_apply(c->k, &r, ns, obj, &wo, NULL);
			result = "replaced";
		} else {
			if (pv)
				astra__mover_restore_undo(c->mover, pv);
			free(pv);
			astra_error_clear();
			report(c, obj, "skipped", "exists");
			astra__kube_resource_clear(&r);
			return;
		}
	}
	if (pv && rc)
		astra__mover_restore_undo(c->mover, pv);
	if (!rc && pv) {
		rc = astra__mover_restore_bound(c->mover, ns, name, pv, &c->op);
		if (!rc)
			pvc_filled(c, it, 0);
	} else if (!rc && !moved && !strcmp(kind, "PersistentVolumeClaim") &&
	           it->pvc_data && c->repo)
		rc = fill_pvc(c, it, ns, name);
	free(pv);
	if (!rc && !strcmp(kind, "CustomResourceDefinition")) {
		/* later groups need it served: wait for discovery */
		const char *n = name;
		const char *dot = strchr(n, '.');
		const char *kindname = astra__json_str(
		        astra__json_path(obj, "spec.names"), "kind");
		for (int i = 0; dot && kindname && i < 60; i++) {
			astra__kube_resource cr;
			if (astra__kube_find_kind(
			            c->k, dot + 1, NULL, kindname, &cr) == 0) {
				astra__kube_resource_clear(&cr);
				break;
			}
			astra_error_clear();
			struct timespec ts = { 0, 500000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (rc) {
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		report(c, obj, "failed", msg);
	} else {
		report(c, obj, result, NULL);
	}
	astra__kube_resource_clear(&r);
}

/* The data snapshot id backup `rec` holds for PVC `ns`/`pvc` (*out
 * allocated; NULL when it has none). */
static int backup_data_for(const astra__appbackup_rec *rec, const char *ns,
        const char *pvc, char **out)
{
	*out = NULL;
	for (size_t i = 0; i < rec->nvolumes; i++) {
		const astra__appbackup_vol *v = &rec->volumes[i];
		if (!strcmp(v->ns, ns) && !strcmp(v->pvc, pvc)) {
			*out = astra__strdup(v->data);
			return *out ? 0 : ASTRA_ENOMEM;
		}
	}
	return 0;
}

/* The string `field` of the entry for PVC `ns`/`pvc` in the snapshot's
 * `vols` (*out allocated; NULL when there is none). */
static int data_for(const astra__json *vols, const char *ns, const char *pvc,
        const char *field, char **out)
{
	*out = NULL;
	for (size_t i = 0; i < astra__json_size(vols); i++) {
		const astra__json *v = astra__json_at(vols, i);
		const char *vns = astra__json_str(v, "namespace");
		const char *vp = astra__json_str(v, "pvc");
		const char *d = astra__json_str(v, field);
		if (vns && vp && d && !strcmp(vns, ns) && !strcmp(vp, pvc)) {
			*out = astra__strdup(d);
			return *out ? 0 : ASTRA_ENOMEM;
		}
	}
	return 0;
}

/* When the snapshot's entry for PVC `ns`/`pvc` says it was not taken (its
 * driver has no snapshots: only a backup reads it, live), *out says so. */
static int snapshot_lacks(
        const astra__json *vols, const char *ns, const char *pvc, char **out)
{
	*out = NULL;
	for (size_t i = 0; i < astra__json_size(vols); i++) {
		const astra__json *v = astra__json_at(vols, i);
		const char *vns = astra__json_str(v, "namespace");
		const char *vp = astra__json_str(v, "pvc");
		const char *c = astra__json_str(v, "consistency");
		const char *why = astra__json_str(v, "reason");
		if (!vns || !vp || strcmp(vns, ns) || strcmp(vp, pvc) || !c ||
		        !strcmp(c, "snapshot"))
			continue;
		*out = astra__aprintf(
		        "PVC %s/%s: the snapshot holds no data for it (%s); "
		        "restore it from a backup, which reads such volumes "
		        "live",
		        ns, pvc, why ? why : c);
		return *out ? 0 : astra__err_oom();
	}
	return 0;
}

#define POST_RESTORE_WAIT_MS 120000u

/* Runs the post-restore hooks `hookdefs` (from the record) in the
 * restored namespaces, mapped; their results go to rep's "hooks". The
 * error, if any, is the hooks' own. */
static int run_post_restore(rctx *c, const astra__json *hookdefs,
        const astra__json *man, const mapping *nsmap, astra__json *rep)
{
	astra__hook_set hs;
	astra__json *stages = astra__json_new_array();
	int rc = stages ? astra__hook_from_json(hookdefs, &hs)
	                : astra__err_oom();
	if (rc) {
		astra__json_free(stages);
		return rc;
	}
	/* the restored namespaces, mapped */
	const char **nss =
	        astra__calloc(astra__json_size(man) + 1, sizeof(char *));
	size_t nns = 0;
	for (size_t i = 0; nss && i < astra__json_size(man); i++) {
		const char *ns = mapped(nsmap,
		        astra__json_str(astra__json_get(astra__json_at(man, i),
		                                "metadata"),
		                "namespace"));
		int dup = !ns;
		for (size_t j = 0; !dup && j < nns; j++)
			dup = !strcmp(nss[j], ns);
		if (!dup)
			nss[nns++] = ns;
	}
	if (!nss)
		rc = astra__err_oom();
	if (!rc) {
		astra__hook_run_options ro = { 0 };
		ro.namespaces = nss;
		ro.nnamespaces = nns;
		ro.op = &c->op;
		ro.what = "restore";
		ro.wait_pods_ms = POST_RESTORE_WAIT_MS;
		rc = astra__hook_run_stage(
		        c->k, &hs, "post-restore", &ro, stages);
		astra__saved_err e;
		astra__err_save(&e);
		astra__json_set(rep, "hooks", stages);
		stages = NULL;
		if (rc)
			astra__err_restore(&e);
	}
	free(nss);
	astra__json_free(stages);
	astra__hook_set_free(&hs);
	return rc;
}

/*
 * astra_restore, step by step. The steps fill `restore_run` in order; on
 * failure each returns its error and leaves what it allocated in the run,
 * for restore_free. Nothing in the cluster is undone: objects created
 * before a failure stay (the report lists them).
 */
typedef ASTRA_VEC(item *) item_vec;

typedef struct {
	rctx c;
	mapping nsmap, scmap;
	astra__appbackup_rec brec; /* the backup's record */
	astra__json *srec; /* or the snapshot's */
	astra__json *man;
	astra__selector *include_sel, *exclude_sel; /* v3 label filters */
	int cluster_resources;
	astra__json *app; /* the "app" member of the report, when defined */
	astra__pool *pool;
	item_vec groups[G_COUNT];
	size_t wl_failed; /* in place: workloads that did not come back */
} restore_run;

static void item_free(item *it)
{
	astra__json_free(it->obj);
	free(it->pvc_data);
	free(it->pvc_vs);
	free(it->pvc_none);
	free(it);
}

/* Checks the options alone (nothing is allocated). */
static int restore_check(const astra_restore_options *o, astra_vault *vault)
{
	int rc = astra__check_version(o->version, ASTRA_RESTORE_OPTIONS_VERSION,
	        "astra_restore_options");
	if (rc)
		return rc;
	if (!o->backup == !o->snapshot)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "restore from a backup or from a snapshot (one of "
		        "the two)");
	if (o->backup && !vault)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "restoring backup %s needs its vault", o->backup);
	return 0;
}

/* Sets up the run (its lock, progress and report items). On failure
 * (ASTRA_ENOMEM) restore_free still frees it. */
static int restore_init(restore_run *run, astra_cluster *target,
        astra_vault *vault, const astra_restore_options *o)
{
	rctx *c = &run->c;
	memset(run, 0, sizeof(*run));
	c->k = astra__cluster_kube(target);
	c->ctl_ns = astra_cluster_control_namespace(target);
	c->repo = o->backup ? vault->r : NULL;
	c->va.template_path = o->volume_path;
	c->va.cb = o->volume_path_cb;
	c->va.payload = o->volume_path_payload;
	c->flags = o->flags;
	astra__op_init(&c->op, o->progress_cb, o->payload,
	        o->cancel ? o->cancel : astra__cluster_cancel(target));
	c->op.p.stage = ASTRA_STAGE_RESTORING;
	pthread_mutex_init(&c->mu, NULL);
	c->items = astra__json_new_array();
	return c->items ? 0 : ASTRA_ENOMEM;
}

/* Parses the namespace and storage-class mappings, refusing a namespace
 * mapped to itself. */
static int restore_maps(restore_run *run, const astra_restore_options *o)
{
	int rc;
	mapping *nsmap = &run->nsmap;
	if ((rc = parse_map(nsmap, o->namespace_map, o->n_namespace_map,
	             "namespace")) ||
	        (rc = parse_map(&run->scmap, o->storage_class_map,
	                 o->n_storage_class_map, "storage class")))
		return rc;
	for (size_t i = 0; i < nsmap->n; i++)
		if (!strcmp(nsmap->from[i], nsmap->to[i]))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "namespace mapping %s=%s maps a namespace to "
			        "itself",
			        nsmap->from[i], nsmap->to[i]);
	if (o->version < 3)
		return 0;
	run->cluster_resources = o->cluster_resources != 0;
	if ((rc = astra__selector_parse(
	             &run->include_sel, o->include_selector)))
		return astra__err_prefix(rc, "restore include selector");
	if ((rc = astra__selector_parse(
	             &run->exclude_sel, o->exclude_selector)))
		return astra__err_prefix(rc, "restore exclude selector");
	if (astra__selector_empty(run->exclude_sel)) {
		/* the empty selector matches everything: "none" here */
		astra__selector_free(run->exclude_sel);
		run->exclude_sel = NULL;
	}
	return 0;
}

/* Loads the record and manifests (the backup's from the vault, decoded, or
 * the snapshot's from the cluster); with a backup, chooses how volume data
 * moves and checks that volumes, if any, can be reached. */
static int restore_load(
        restore_run *run, astra_vault *vault, const astra_restore_options *o)
{
	rctx *c = &run->c;
	int rc;
	if (o->backup)
		rc = astra__appbackup_load_rec(
		        vault->r, o->backup, &run->brec, &run->man);
	else
		rc = astra__snap_load(c->k, o->snapshot_app, o->snapshot,
		        &run->srec, &run->man, NULL);
	if (rc)
		return rc;
	if (o->snapshot && run->nsmap.n)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "a snapshot restores into its own namespaces (PVCs can "
		        "only clone VolumeSnapshots of their namespace); "
		        "restore from a backup to map namespaces");
	if (!o->backup)
		return 0;
	if ((rc = astra__mover_new(&c->mover, c->k, c->repo,
	             o->version >= 2 ? o->mover : NULL, c->ctl_ns,
	             c->op.cancel)))
		return rc;
	if (run->brec.nvolumes && !c->mover && !c->va.cb &&
	        !c->va.template_path)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "backup %s has volume data, and no volume access was "
		        "given (a host-path template or a callback)",
		        o->backup);
	return 0;
}

/* Why object `m` is a record of the library rather than a user object
 * (NULL when it is none): app, hook and policy definitions and snapshot
 * records are recreated for the restored app, never copied. The labels are
 * those of lib/app, lib/hook, lib/policy and lib/snap (docs/apps.md). */
static const char *record_kind(const astra__json *m)
{
	const astra__json *labels = astra__json_path(m, "metadata.labels");
	static const char *const recs[][2] = {
		{ "apps.astra.dev/definition", "an app definition" },
		{ "hooks.astra.dev/definition", "a hook definition" },
		{ "policies.astra.dev/policy", "a policy record" },
		{ "snapshots.astra.dev/record", "a snapshot record" },
	};
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		if (astra__json_str(labels, recs[i][0]))
			return recs[i][1];
	return NULL;
}

/* Whether manifest object `m` (of API group `group`) is restored: not one
 * its controller recreates, not a PersistentVolume, and kept by the
 * include and exclude filters, name and label (namespaces and CRDs come
 * with what needs them). Records and cluster-scoped objects without the
 * opt-in are not restored and say why in *skip (reported "skipped"). */
static int restore_wanted(const restore_run *run,
        const astra_restore_options *o, const astra__json *m, const char *group,
        const char *kind, const char *ns, const char *name, const char **skip)
{
	*skip = record_kind(m);
	if (*skip)
		return 0;
	/* recreated by their controller, or bound anew */
	const astra__json *refs = astra__json_get(
	        astra__json_get(m, "metadata"), "ownerReferences");
	int controlled = 0;
	for (size_t k = 0; k < astra__json_size(refs); k++)
		controlled |= astra__json_bool(
		        astra__json_at(refs, k), "controller", 0);
	if (controlled || !strcmp(kind, "PersistentVolume"))
		return 0;
	const astra__json *labels = astra__json_path(m, "metadata.labels");
	int has_include =
	        o->n_include ||
	        (run->include_sel && !astra__selector_empty(run->include_sel));
	int keep = o->n_include == 0;
	for (size_t k = 0; k < o->n_include && !keep; k++)
		keep = filter_match(o->include[k], group, kind, ns, name);
	if (keep && run->include_sel)
		keep = astra__selector_matches(run->include_sel, labels);
	for (size_t k = 0; k < o->n_exclude && keep; k++)
		keep = !filter_match(o->exclude[k], group, kind, ns, name);
	if (keep && run->exclude_sel)
		keep = !astra__selector_matches(run->exclude_sel, labels);
	if (!keep && has_include &&
	        (!strcmp(kind, "Namespace") ||
	                !strcmp(kind, "CustomResourceDefinition")))
		keep = 1;
	if (keep && !ns && strcmp(kind, "Namespace") &&
	        !run->cluster_resources) {
		*skip = "cluster-scoped: restored only on request "
		        "(cluster_resources, astractl --cluster-resources)";
		return 0;
	}
	return keep;
}

/* Counts PVC item `it`'s data in the progress totals: one more item, and
 * the volume's recorded bytes (docs/backups.md, "Progress"). */
static void plan_volume_progress(restore_run *run, item *it)
{
	for (size_t i = 0; i < run->brec.nvolumes; i++) {
		const astra__appbackup_vol *v = &run->brec.volumes[i];
		if (strcmp(v->data, it->pvc_data))
			continue;
		it->pvc_bytes = v->bytes > 0 ? (uint64_t)v->bytes : 0;
		run->c.op.p.bytes_total += it->pvc_bytes;
		run->c.op.p.items_total++;
		return;
	}
}

/* Plans: every wanted manifest object becomes an item (a sanitized copy,
 * with the data to fill a PVC from) in its group, counted in the
 * progress total. On failure the items planned so far stay in the groups
 * (restore_free frees them); nothing was applied. */
static int restore_plan(restore_run *run, const astra_restore_options *o)
{
	int rc = 0;
	const astra__json *svols = astra__json_get(run->srec, "volumes");
	for (size_t i = 0; i < astra__json_size(run->man); i++) {
		const astra__json *m = astra__json_at(run->man, i);
		const char *av = astra__json_str(m, "apiVersion");
		const char *kind = astra__json_str(m, "kind");
		const astra__json *md = astra__json_get(m, "metadata");
		const char *ns = astra__json_str(md, "namespace");
		const char *name = astra__json_str(md, "name");
		if (!av || !kind || !name)
			continue;
		char group[256] = "";
		const char *slash = strchr(av, '/');
		if (slash)
			snprintf(group, sizeof(group), "%.*s",
			        (int)(slash - av), av);
		const char *skip = NULL;
		if (!restore_wanted(run, o, m, group, kind, ns, name, &skip)) {
			if (skip) {
				/* reported under its target namespace */
				astra__json *r = astra__json_dup(m);
				if (!r)
					return ASTRA_ENOMEM;
				if (ns)
					astra__json_set_str(
					        astra__json_get(r, "metadata"),
					        "namespace",
					        mapped(&run->nsmap, ns));
				run->c.op.p.items_total++;
				report(&run->c, r, "skipped", skip);
				astra__json_free(r);
			}
			continue;
		}
		item *it = astra__calloc(1, sizeof(*it));
		if (!it)
			return ASTRA_ENOMEM;
		it->c = &run->c;
		it->obj = astra__json_dup(m);
		if (!strcmp(kind, "PersistentVolumeClaim") && ns) {
			if (o->backup) {
				rc = backup_data_for(
				        &run->brec, ns, name, &it->pvc_data);
				if (!rc && it->pvc_data)
					plan_volume_progress(run, it);
			} else if (!(rc = data_for(svols, ns, name,
			                     "volumeSnapshot", &it->pvc_vs)) &&
			           !it->pvc_vs) {
				rc = snapshot_lacks(
				        svols, ns, name, &it->pvc_none);
			}
		}
		if (!rc)
			rc = sanitize(it->obj, &run->nsmap, &run->scmap, kind);
		int g = group_of(group, kind);
		if (rc || astra_vec_push(&run->groups[g], it)) {
			item_free(it);
			return rc ? rc : ASTRA_ENOMEM;
		}
		run->c.op.p.items_total++;
	}
	return 0;
}

/* Applies the plan, group by group, the objects of a group in parallel
 * (`concurrency` at once, default 8); each outcome goes to the report.
 * Stops between groups when the operation is cancelled. */
static int restore_apply(restore_run *run, const astra_restore_options *o)
{
	unsigned conc = o->concurrency ? o->concurrency : 8;
	int rc = astra__pool_new(&run->pool, conc, (size_t)conc * 4);
	for (int g = 0; g < G_COUNT && !rc; g++) {
		for (size_t i = 0; i < run->groups[g].n; i++)
			astra__pool_submit(
			        run->pool, apply_one, run->groups[g].v[i]);
		astra__pool_wait(run->pool);
		rc = astra__op_report(&run->c.op, 1);
	}
	return rc;
}

/* The report (counts, items, then the post-restore hooks' results) to
 * `out`; the post-restore hooks run first. Returns the hooks' failure,
 * else ASTRA_EPARTIAL when objects failed, else 0 (or the printing's). */
static int restore_report(restore_run *run, astra_buf *out)
{
	rctx *c = &run->c;
	int rc = 0;
	astra__json *rep = astra__json_new_object();
	if (!rep)
		return ASTRA_ENOMEM;
	astra__json_set_int(rep, "created", (int64_t)c->created);
	astra__json_set_int(rep, "replaced", (int64_t)c->replaced);
	astra__json_set_int(rep, "skipped", (int64_t)c->skipped);
	astra__json_set_int(rep, "failed", (int64_t)c->failed);
	astra__json_set(rep, "items", c->items);
	c->items = NULL;
	if (run->app) {
		astra__json_set(rep, "app", run->app);
		run->app = NULL;
	}
	/* post-restore hooks, from the record, in the restored namespaces */
	const astra__json *hookdefs =
	        run->srec ? astra__json_get(run->srec, "hookDefinitions")
	                  : run->brec.hook_definitions;
	int hrc = run_post_restore(c, hookdefs, run->man, &run->nsmap, rep);
	if (c->ip && !rc)
		rc = astra__inplace_report(c->ip, rep, c->rolled_back);
	if (out && !rc)
		rc = astra__json_print_buf(out, rep, 1);
	astra__json_free(rep);
	if (!rc && hrc)
		rc = astra__err_prefix(hrc, "restore");
	if (!rc && c->failed)
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_KUBE,
		        "%llu object(s) could not be restored (see the report)",
		        (unsigned long long)c->failed);
	if (!rc && run->wl_failed)
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_KUBE,
		        "%zu workload(s) did not come back after the in-place "
		        "restore (see the report's workloads)",
		        run->wl_failed);
	return rc;
}

/* In place (REPLACE into the app's own namespaces): the pre-restore hooks
 * and the workloads scaled down, before any object is applied
 * (inplace.c). Any other restore: nothing. */
static int restore_inplace_begin(
        restore_run *run, const astra_restore_options *o)
{
	if (!(o->flags & ASTRA_RESTORE_F_REPLACE) || run->nsmap.n)
		return 0;
	astra__inplace_params p;
	memset(&p, 0, sizeof(p));
	p.k = run->c.k;
	p.op = &run->c.op;
	p.timeout_s = o->version >= 3 ? o->inplace_timeout_s : 0;
	p.repo = run->c.repo;
	p.va = &run->c.va;
	p.mover = run->c.mover;
	p.backup = o->backup;
	p.snapshot_app = o->snapshot_app;
	p.snapshot = o->snapshot;
	const astra__json *hookdefs =
	        run->srec ? astra__json_get(run->srec, "hookDefinitions")
	                  : run->brec.hook_definitions;
	return astra__inplace_begin(&run->c.ip, &p, run->man, hookdefs);
}

/* Stores the hooks `hookdefs` (a record's "hookDefinitions") for `app`,
 * their names pushed to `names`. */
static int copy_hooks(
        astra_app *app, const astra__json *hookdefs, astra__json *names)
{
	astra__hook_set hs;
	int rc = astra__hook_from_json(hookdefs, &hs);
	for (size_t i = 0; !rc && i < hs.n; i++) {
		const astra__hook *h = &hs.v[i];
		astra_hook_options ho;
		if ((rc = astra_hook_options_init(
		             &ho, ASTRA_HOOK_OPTIONS_VERSION)))
			break;
		ho.stage = h->stage;
		ho.script = h->script;
		ho.script_len = h->script_len;
		ho.args = (const char *const *)h->args;
		ho.nargs = h->nargs;
		ho.namespace_regex = h->re_text[0];
		ho.pod_regex = h->re_text[1];
		ho.container_regex = h->re_text[2];
		ho.image_regex = h->re_text[3];
		ho.selector = h->selector_text;
		ho.timeout_s = h->timeout_s;
		ho.on_error = h->on_error;
		rc = astra_hook_create(app, h->name, &ho, ASTRA_HOOK_F_UPDATE);
		if (rc)
			rc = astra__err_prefix(rc, "hook %s", h->name);
		else
			rc = astra__json_push(
			        names, astra__json_new_string(h->name));
	}
	astra__hook_set_free(&hs);
	return rc;
}

/* 1 when definitions a and b cover the same namespaces (and selectors)
 * or Helm release. */
static int same_scope(const astra__json *a, const astra__json *b)
{
	static const char *const keys[] = { "namespaces", "helm" };
	int same = 1;
	for (size_t i = 0; same && i < 2; i++) {
		char *x = NULL, *y = NULL;
		const astra__json *ja = astra__json_get(a, keys[i]);
		const astra__json *jb = astra__json_get(b, keys[i]);
		if (!ja || !jb)
			same = !ja && !jb;
		else if (astra__json_print(&x, ja, 0) ||
		         astra__json_print(&y, jb, 0))
			same = 0;
		else
			same = !strcmp(x, y);
		free(x);
		free(y);
	}
	return same;
}

int astra__restore_define_app(astra_cluster *target, const astra__json *def,
        const char *const *namespace_map, size_t n_namespace_map,
        const char *name, const astra__json *hookdefs, astra__json **out)
{
	*out = NULL;
	mapping nsmap;
	memset(&nsmap, 0, sizeof(nsmap));
	astra__json *d = astra__json_dup(def);
	astra__json *info = astra__json_new_object();
	astra__json *hooks = astra__json_new_array();
	char *text = NULL;
	astra_app *app = NULL;
	int rc = d && info && hooks ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = parse_map(
		        &nsmap, namespace_map, n_namespace_map, "namespace");
	if (rc)
		goto done;
	astra__json_set_str(d, "name", name);
	astra__json *nss = astra__json_get(d, "namespaces");
	for (size_t i = 0; i < astra__json_size(nss); i++) {
		astra__json *n = astra__json_at(nss, i);
		astra__json_set_str(
		        n, "name", mapped(&nsmap, astra__json_str(n, "name")));
	}
	astra__json *helm = astra__json_get(d, "helm");
	if (helm && astra__json_str(helm, "namespace"))
		astra__json_set_str(helm, "namespace",
		        mapped(&nsmap, astra__json_str(helm, "namespace")));
	if ((rc = astra__json_print(&text, d, 0)))
		goto done;
	rc = astra_app_define(&app, target, text, 0);
	if (rc == ASTRA_EEXISTS) {
		/* a rerun of the same restore: the same app is fine */
		astra_error_clear();
		if ((rc = astra_app_get(&app, target, name)))
			goto done;
		if (!same_scope(app->def, d)) {
			rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
			        "app %s exists and covers other namespaces; "
			        "name the restored app (app_name, --app-name)",
			        name);
			goto done;
		}
	}
	if (rc)
		goto done;
	if ((rc = copy_hooks(app, hookdefs, hooks)))
		goto done;
	astra__json_set_str(info, "name", name);
	astra__json_set(info, "hooks", hooks);
	hooks = NULL;
	*out = info;
	info = NULL;
done:
	if (rc)
		rc = astra__err_prefix(
		        rc, "defining the restored app %s", name);
	astra_app_free(app);
	free(text);
	free_map(&nsmap);
	astra__json_free(d);
	astra__json_free(info);
	astra__json_free(hooks);
	return rc;
}

int astra__restore_app_hooks(astra_app *a, astra__json **out)
{
	*out = NULL;
	astra__hook_set hs;
	memset(&hs, 0, sizeof(hs));
	astra__json *arr = astra__json_new_array();
	int rc = arr ? astra__hook_load(a->k, a->home, a->name, &hs)
	             : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < hs.n; i++) {
		astra__json *h = astra__hook_json(&hs.v[i], 1);
		rc = h ? astra__json_push(arr, h) : ASTRA_ENOMEM;
	}
	astra__hook_set_free(&hs);
	if (rc) {
		astra__json_free(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* *out: the hooks of app `app` of cluster c (as astra__restore_app_hooks),
 * or NULL when c has no such app. */
static int source_hooks(astra_cluster *c, const char *app, astra__json **out)
{
	*out = NULL;
	astra_app *a = NULL;
	int rc = astra_app_get(&a, c, app);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0;
	}
	if (!rc)
		rc = astra__restore_app_hooks(a, out);
	astra_app_free(a);
	return rc;
}

/* With a namespace map, defines the restored app (the record's definition,
 * its namespaces mapped) under o->app_name or "<app>-<first target
 * namespace>" (at most 53 characters), with the source app's hooks. A
 * record without a definition defines nothing. */
static int restore_define(
        restore_run *run, astra_cluster *target, const astra_restore_options *o)
{
	if (!o->backup || !run->nsmap.n || !run->brec.definition)
		return 0;
	/* app names are DNS labels of at most 53 characters (docs/apps.md);
	 * a given name is checked by the definition itself */
	char name[256];
	const char *given = o->version >= 3 ? o->app_name : NULL;
	if (given && strlen(given) >= sizeof(name))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "app name \"%.40s...\" is too long", given);
	if (given) {
		snprintf(name, sizeof(name), "%s", given);
	} else {
		snprintf(name, sizeof(name), "%s-%s", run->brec.app,
		        run->nsmap.to[0]);
		size_t n = strlen(name);
		if (n > 53) {
			/* keep the target namespace, shorten the app */
			size_t tl = strlen(run->nsmap.to[0]);
			size_t keep = tl < 51 ? 52 - tl : 1;
			snprintf(name, sizeof(name), "%.*s-%s", (int)keep,
			        run->brec.app, run->nsmap.to[0]);
			name[53] = '\0';
			for (n = strlen(name); n && name[n - 1] == '-'; n--)
				name[n - 1] = '\0';
		}
	}
	/* the source app's hooks, all stages, when it is defined in this
	 * cluster; else the post-restore hooks the record carries */
	astra__json *hookdefs = NULL;
	int rc = source_hooks(target, run->brec.app, &hookdefs);
	if (rc)
		return rc;
	rc = astra__restore_define_app(target, run->brec.definition,
	        o->namespace_map, o->n_namespace_map, name,
	        hookdefs ? hookdefs : run->brec.hook_definitions, &run->app);
	astra__json_free(hookdefs);
	astra__json *pols = rc ? NULL : astra__json_new_array();
	if (!rc && !pols)
		rc = ASTRA_ENOMEM;
	if (!rc && o->version >= 3 && o->with_policies)
		rc = astra__restore_copy_policies(
		        target, run->brec.app, target, name, pols);
	if (pols)
		astra__json_set(run->app, "policies", pols);
	return rc;
}

/* Frees everything the steps left in `run` (after the pool: its workers
 * use the items). */
static void restore_free(restore_run *run)
{
	if (run->pool)
		astra__pool_free(run->pool);
	for (int g = 0; g < G_COUNT; g++) {
		for (size_t i = 0; i < run->groups[g].n; i++)
			item_free(run->groups[g].v[i]);
		astra_vec_free(&run->groups[g]);
	}
	astra__inplace_free(run->c.ip);
	astra__mover_free(run->c.mover);
	astra__selector_free(run->include_sel);
	astra__selector_free(run->exclude_sel);
	astra__json_free(run->app);
	free_map(&run->nsmap);
	free_map(&run->scmap);
	astra__appbackup_rec_free(&run->brec);
	astra__json_free(run->srec);
	astra__json_free(run->man);
	astra__json_free(run->c.items);
	pthread_mutex_destroy(&run->c.mu);
}

int astra__restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *o, int define, astra_buf *out)
{
	int rc = restore_check(o, vault);
	if (rc)
		return rc;
	restore_run run;
	if (!(rc = restore_init(&run, target, vault, o)) &&
	        !(rc = restore_maps(&run, o)) &&
	        !(rc = restore_load(&run, vault, o)) &&
	        !(rc = restore_plan(&run, o)) &&
	        !(rc = restore_inplace_begin(&run, o))) {
		rc = restore_apply(&run, o);
		if (run.c.ip)
			run.wl_failed = astra__inplace_end(run.c.ip);
		if (!rc) {
			/* the objects are there: report them also when the
			 * app cannot be defined, then fail with that */
			int drc = define ? restore_define(&run, target, o) : 0;
			astra__saved_err e;
			astra__err_save(&e);
			if (drc && !run.app) {
				/* the report says why no app was defined */
				run.app = astra__json_new_object();
				if (run.app)
					astra__json_set_str(
					        run.app, "error", e.message);
			}
			rc = restore_report(&run, out);
			if (drc && !rc) {
				astra__err_restore(&e);
				rc = drc;
			} else if (drc) {
				/* objects failed: that stays the error */
				astra__log_warn("the restored app was not "
				                "defined: %s",
				        e.message);
			}
		}
	} else if (run.c.ip) {
		/* scaled down before a failure: put back */
		astra__saved_err e;
		astra__err_save(&e);
		astra__inplace_end(run.c.ip);
		astra__err_restore(&e);
	}
	restore_free(&run);
	return rc;
}

astra_status astra_restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *o, astra_buf *out)
{
	ASTRA_ASSERT_ARG(target);
	ASTRA_ASSERT_ARG(o);
	return astra__restore(target, vault, o, 1, out);
}
