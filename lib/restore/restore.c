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
#include "repo/data.h"
#include "repo/vault_internal.h"
#include "snap/snap.h"

astra_status astra_restore_options_init(
        astra_restore_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_restore_options, RESTORE, o, version,
	        offsetof(astra_restore_options, mover), sizeof(defaults));
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
	if ((!strcmp(kind, "RoleBinding") ||
	            !strcmp(kind, "ClusterRoleBinding"))) {
		astra__json *subs = astra__json_get(obj, "subjects");
		for (size_t i = 0; i < astra__json_size(subs); i++) {
			astra__json *s = astra__json_at(subs, i);
			const char *sns = astra__json_str(s, "namespace");
			if (sns)
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
} item;

struct rctx {
	astra__kube *k;
	astra__repo *repo; /* NULL for snapshot restores */
	astra__volume_access va;
	astra__mover *mover; /* NULL: host path */
	unsigned flags;
	astra__op op;
	pthread_mutex_t mu;
	astra__json *items; /* report items */
	uint64_t created, replaced, skipped, failed;
};

static void report(
        rctx *c, const astra__json *obj, const char *result, const char *reason)
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
		astra__json_push(c->items, e);
	}
	if (!strcmp(result, "created"))
		c->created++;
	else if (!strcmp(result, "replaced"))
		c->replaced++;
	else if (!strcmp(result, "failed"))
		c->failed++;
	else
		c->skipped++;
	c->op.p.items_done++;
	pthread_mutex_unlock(&c->mu);
}

static int fill_pvc(rctx *c, item *it, const char *ns, const char *name)
{
	int rc = astra__pvc_wait_bound(c->k, ns, name, 300, NULL);
	char *path = NULL;
	if (!rc)
		rc = astra__volume_path(c->k, &c->va, ns, name, &path);
	if (!rc) {
		astra__restore_params p = { 0 };
		astra__restore_out ro;
		memset(&ro, 0, sizeof(ro));
		p.cancel = c->op.cancel;
		rc = astra__data_restore(c->repo, it->pvc_data, path, &p, &ro);
		astra__json_free(ro.report);
	}
	free(path);
	return rc;
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
	/* mover Jobs fill a volume in the control namespace first; the PVC
	 * is created bound to it (mover.h) */
	char *pv = NULL;
	int moved = c->mover && it->pvc_data && c->repo &&
	            !strcmp(kind, "PersistentVolumeClaim");
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
	if (!rc && pv)
		rc = astra__mover_restore_bound(c->mover, ns, name, pv, &c->op);
	else if (!rc && !moved && !strcmp(kind, "PersistentVolumeClaim") &&
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
	astra__pool *pool;
	item_vec groups[G_COUNT];
} restore_run;

static void item_free(item *it)
{
	astra__json_free(it->obj);
	free(it->pvc_data);
	free(it->pvc_vs);
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
	             o->version >= 2 ? o->mover : NULL, c->op.cancel)))
		return rc;
	if (run->brec.nvolumes && !c->mover && !c->va.cb &&
	        !c->va.template_path)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "backup %s has volume data, and no volume access was "
		        "given (a host-path template or a callback)",
		        o->backup);
	return 0;
}

/* Whether manifest object `m` (of API group `group`) is restored: not one
 * its controller recreates, not a PersistentVolume, and kept by the
 * include and exclude filters (namespaces and CRDs come with what needs
 * them). */
static int restore_wanted(const astra_restore_options *o, const astra__json *m,
        const char *group, const char *kind, const char *ns, const char *name)
{
	/* recreated by their controller, or bound anew */
	const astra__json *refs = astra__json_get(
	        astra__json_get(m, "metadata"), "ownerReferences");
	int controlled = 0;
	for (size_t k = 0; k < astra__json_size(refs); k++)
		controlled |= astra__json_bool(
		        astra__json_at(refs, k), "controller", 0);
	if (controlled || !strcmp(kind, "PersistentVolume"))
		return 0;
	int keep = o->n_include == 0;
	for (size_t k = 0; k < o->n_include && !keep; k++)
		keep = filter_match(o->include[k], group, kind, ns, name);
	for (size_t k = 0; k < o->n_exclude && keep; k++)
		keep = !filter_match(o->exclude[k], group, kind, ns, name);
	if (!keep && o->n_include &&
	        (!strcmp(kind, "Namespace") ||
	                !strcmp(kind, "CustomResourceDefinition")))
		keep = 1;
	return keep;
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
		if (!restore_wanted(o, m, group, kind, ns, name))
			continue;
		item *it = astra__calloc(1, sizeof(*it));
		if (!it)
			return ASTRA_ENOMEM;
		it->c = &run->c;
		it->obj = astra__json_dup(m);
		if (!strcmp(kind, "PersistentVolumeClaim") && ns) {
			if (o->backup)
				rc = backup_data_for(
				        &run->brec, ns, name, &it->pvc_data);
			else
				rc = data_for(svols, ns, name, "volumeSnapshot",
				        &it->pvc_vs);
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
	/* post-restore hooks, from the record, in the restored namespaces */
	const astra__json *hookdefs =
	        run->srec ? astra__json_get(run->srec, "hookDefinitions")
	                  : run->brec.hook_definitions;
	int hrc = run_post_restore(c, hookdefs, run->man, &run->nsmap, rep);
	if (out)
		rc = astra__json_print_buf(out, rep, 1);
	astra__json_free(rep);
	if (!rc && hrc)
		rc = astra__err_prefix(hrc, "restore");
	if (!rc && c->failed)
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_KUBE,
		        "%llu object(s) could not be restored (see the report)",
		        (unsigned long long)c->failed);
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
	astra__mover_free(run->c.mover);
	free_map(&run->nsmap);
	free_map(&run->scmap);
	astra__appbackup_rec_free(&run->brec);
	astra__json_free(run->srec);
	astra__json_free(run->man);
	astra__json_free(run->c.items);
	pthread_mutex_destroy(&run->c.mu);
}

astra_status astra_restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *o, astra_buf *out)
{
	ASTRA_ASSERT_ARG(target);
	ASTRA_ASSERT_ARG(o);
	int rc = restore_check(o, vault);
	if (rc)
		return rc;
	restore_run run;
	if (!(rc = restore_init(&run, target, vault, o)) &&
	        !(rc = restore_maps(&run, o)) &&
	        !(rc = restore_load(&run, vault, o)) &&
	        !(rc = restore_plan(&run, o)) && !(rc = restore_apply(&run, o)))
		rc = restore_report(&run, out);
	restore_free(&run);
	return rc;
}
