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
	ASTRA__OPTIONS_DEFAULTS(
	        astra_restore_options, ASTRA_RESTORE_OPTIONS_INIT);
	static const size_t sizes[] = { offsetof(astra_restore_options, mover),
		sizeof(defaults) };
	_Static_assert(ASTRA__NELEM(sizes) == ASTRA_RESTORE_OPTIONS_VERSION,
	        "one size per version");
	return astra__options_init(o, &defaults, sizes, ASTRA__NELEM(sizes),
	        version, "astra_restore_options");
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
	if (c->mover) /* a Job mounts the PVC (and binds it) */
		return astra__mover_restore(
		        c->mover, ns, name, it->pvc_data, &c->op);
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
			astra_error_clear();
			report(c, obj, "skipped", "exists");
			astra__kube_resource_clear(&r);
			return;
		}
	}
	if (!rc && !strcmp(kind, "PersistentVolumeClaim") && it->pvc_data &&
	        c->repo)
		rc = fill_pvc(c, it, ns, name);
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

static int run_post_restore(rctx *c, const astra__json *rec,
        const astra__json *man, const mapping *nsmap, astra__json *rep)
{
	astra__hook_set hs;
	astra__json *stages = astra__json_new_array();
	int rc = stages ? astra__hook_from_json(
	                          astra__json_get(rec, "hookDefinitions"), &hs)
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
		astra_error e = *astra_error_last();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", e.message);
		astra__json_set(rep, "hooks", stages);
		stages = NULL;
		if (rc)
			astra__err(e.code, e.klass, "%s", msg);
	}
	free(nss);
	astra__json_free(stages);
	astra__hook_set_free(&hs);
	return rc;
}

astra_status astra_restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *o, astra_buf *out)
{
	ASTRA_ASSERT_ARG(target);
	ASTRA_ASSERT_ARG(o);
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
	rctx c;
	memset(&c, 0, sizeof(c));
	c.k = astra__cluster_kube(target);
	c.repo = o->backup ? vault->r : NULL;
	c.va.template_path = o->volume_path;
	c.va.cb = o->volume_path_cb;
	c.va.payload = o->volume_path_payload;
	c.flags = o->flags;
	astra__op_init(&c.op, o->progress_cb, o->payload,
	        o->cancel ? o->cancel : astra__cluster_cancel(target));
	c.op.p.stage = ASTRA_STAGE_RESTORING;
	pthread_mutex_init(&c.mu, NULL);
	c.items = astra__json_new_array();
	mapping nsmap = { 0 }, scmap = { 0 };
	astra__json *rec = NULL, *man = NULL;
	astra__pool *pool = NULL;
	ASTRA_VEC(item *) groups[G_COUNT];
	memset(groups, 0, sizeof(groups));
	if (!c.items) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if ((rc = parse_map(&nsmap, o->namespace_map, o->n_namespace_map,
	             "namespace")) ||
	        (rc = parse_map(&scmap, o->storage_class_map,
	                 o->n_storage_class_map, "storage class")))
		goto done;
	for (size_t i = 0; i < nsmap.n; i++)
		if (!strcmp(nsmap.from[i], nsmap.to[i])) {
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "namespace mapping %s=%s maps a namespace to "
			        "itself",
			        nsmap.from[i], nsmap.to[i]);
			goto done;
		}
	if (o->backup)
		rc = astra__appbackup_load(vault->r, o->backup, &rec, &man);
	else
		rc = astra__snap_load(
		        c.k, o->snapshot_app, o->snapshot, &rec, &man, NULL);
	if (rc)
		goto done;
	if (o->snapshot && nsmap.n) {
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "a snapshot restores into its own namespaces (PVCs can "
		        "only clone VolumeSnapshots of their namespace); "
		        "restore from a backup to map namespaces");
		goto done;
	}
	const astra__json *vols = astra__json_get(rec, "volumes");
	if (o->backup &&
	        (rc = astra__mover_new(&c.mover, c.k, c.repo,
	                 o->version >= 2 ? o->mover : NULL, c.op.cancel)))
		goto done;
	if (o->backup && astra__json_size(vols) && !c.mover && !c.va.cb &&
	        !c.va.template_path) {
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "backup %s has volume data, and no volume access was "
		        "given (a host-path template or a callback)",
		        o->backup);
		goto done;
	}
	/* plan */
	for (size_t i = 0; i < astra__json_size(man); i++) {
		const astra__json *m = astra__json_at(man, i);
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
		/* recreated by their controller, or bound anew */
		const astra__json *refs =
		        astra__json_get(md, "ownerReferences");
		int controlled = 0;
		for (size_t k = 0; k < astra__json_size(refs); k++)
			controlled |= astra__json_bool(
			        astra__json_at(refs, k), "controller", 0);
		if (controlled || !strcmp(kind, "PersistentVolume"))
			continue;
		int keep = o->n_include == 0;
		for (size_t k = 0; k < o->n_include && !keep; k++)
			keep = filter_match(
			        o->include[k], group, kind, ns, name);
		for (size_t k = 0; k < o->n_exclude && keep; k++)
			keep = !filter_match(
			        o->exclude[k], group, kind, ns, name);
		/* namespaces and CRDs come with what needs them */
		if (!keep && o->n_include &&
		        (!strcmp(kind, "Namespace") ||
		                !strcmp(kind, "CustomResourceDefinition")))
			keep = 1;
		if (!keep)
			continue;
		item *it = astra__calloc(1, sizeof(*it));
		if (!it) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		it->c = &c;
		it->obj = astra__json_dup(m);
		if (!strcmp(kind, "PersistentVolumeClaim") && ns) {
			if (o->backup)
				rc = data_for(
				        vols, ns, name, "data", &it->pvc_data);
			else
				rc = data_for(vols, ns, name, "volumeSnapshot",
				        &it->pvc_vs);
		}
		if (!rc)
			rc = sanitize(it->obj, &nsmap, &scmap, kind);
		int g = group_of(group, kind);
		if (rc || astra_vec_push(&groups[g], it)) {
			astra__json_free(it->obj);
			free(it->pvc_data);
			free(it->pvc_vs);
			free(it);
			if (!rc)
				rc = ASTRA_ENOMEM;
			goto done;
		}
		c.op.p.items_total++;
	}
	/* apply, group by group */
	unsigned conc = o->concurrency ? o->concurrency : 8;
	if ((rc = astra__pool_new(&pool, conc, (size_t)conc * 4)))
		goto done;
	for (int g = 0; g < G_COUNT && !rc; g++) {
		for (size_t i = 0; i < groups[g].n; i++)
			astra__pool_submit(pool, apply_one, groups[g].v[i]);
		astra__pool_wait(pool);
		rc = astra__op_report(&c.op, 1);
	}
	if (rc)
		goto done;
	astra__json *rep = astra__json_new_object();
	if (!rep) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	astra__json_set_int(rep, "created", (int64_t)c.created);
	astra__json_set_int(rep, "replaced", (int64_t)c.replaced);
	astra__json_set_int(rep, "skipped", (int64_t)c.skipped);
	astra__json_set_int(rep, "failed", (int64_t)c.failed);
	astra__json_set(rep, "items", c.items);
	c.items = NULL;
	/* post-restore hooks, from the record, in the restored namespaces */
	int hrc = run_post_restore(&c, rec, man, &nsmap, rep);
	if (out)
		rc = astra__json_print_buf(out, rep, 1);
	astra__json_free(rep);
	if (!rc && hrc)
		rc = astra__err_prefix(hrc, "restore");
	if (!rc && c.failed)
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_KUBE,
		        "%llu object(s) could not be restored (see the report)",
		        (unsigned long long)c.failed);
done:
	if (pool)
		astra__pool_free(pool);
	for (int g = 0; g < G_COUNT; g++) {
		for (size_t i = 0; i < groups[g].n; i++) {
			astra__json_free(groups[g].v[i]->obj);
			free(groups[g].v[i]->pvc_data);
			free(groups[g].v[i]->pvc_vs);
			free(groups[g].v[i]);
		}
		astra_vec_free(&groups[g]);
	}
	astra__mover_free(c.mover);
	free_map(&nsmap);
	free_map(&scmap);
	astra__json_free(rec);
	astra__json_free(man);
	astra__json_free(c.items);
	pthread_mutex_destroy(&c.mu);
	return rc;
}
