/*
 * In-place restores: an ASTRA_RESTORE_F_REPLACE restore into the app's own
 * namespaces rolls its volumes back. Order: pre-restore hooks (in the pods
 * still running) -> the app's workloads scaled to zero, each count
 * recorded in an annotation first -> per existing PVC, once no pod uses
 * it: deleted and re-created from its VolumeSnapshot (snapshot), or its
 * data overwritten from the vault so the tree equals the backup (backup)
 * -> the rest of the restore (restore.c) -> counts put back, workloads
 * waited for -> post-restore hooks (restore.c). docs/backups.md describes
 * it for users.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astra/vault.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "hook/hook.h"
#include "repo/data.h"
#include "restore/inplace.h"

#define DEFAULT_TIMEOUT_S 300u
#define POLL_MS 1000

typedef struct {
	astra__kube_resource r;
	char *kind, *ns, *name;
	int daemonset;
	int64_t replicas; /* recorded (not for a DaemonSet) */
	int scaled; /* scaled down by this restore: to put back */
	int was_ready; /* ready before (or scaled down by an interrupted
	                  restore): waited for after */
	char *reason; /* why it failed; NULL: restored */
	char *note; /* restored, with a remark */
} wl;

struct astra__inplace {
	astra__inplace_params p;
	unsigned timeout_s;
	ASTRA_VEC(wl) wls;
	astra__json *pre_stages;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static uint64_t deadline_of(const astra__inplace *ip)
{
	return astra__mono_ns() + (uint64_t)ip->timeout_s * 1000000000ULL;
}

/* Records why `w` failed (the first reason stays). */
static void wl_fail(wl *w, const char *what, const char *detail)
{
	if (w->reason)
		return;
	w->reason = astra__aprintf("%s%s", what, detail ? detail : "");
}

/* ---- scaling ---- */

static int is_workload(const char *group, const char *kind)
{
	if (strcmp(group, "apps"))
		return 0;
	return !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
	       !strcmp(kind, "ReplicaSet") || !strcmp(kind, "DaemonSet");
}

static int controlled(const astra__json *m)
{
	const astra__json *refs = astra__json_get(
	        astra__json_get(m, "metadata"), "ownerReferences");
	for (size_t k = 0; k < astra__json_size(refs); k++)
		if (astra__json_bool(astra__json_at(refs, k), "controller", 0))
			return 1;
	return 0;
}

/* The count annotation of `live` as recorded by an earlier, interrupted
 * in-place restore: 1 and *n, or 0 when it has none (or a bad one). */
static int recorded_count(const astra__json *live, int64_t *n)
{
	const char *a =
	        astra__json_str(astra__json_path(live, "metadata.annotations"),
	                ASTRA_INPLACE_ANNOTATION);
	if (!a || !*a)
		return 0;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(a, &end, 10);
	if (errno || *end || v < 0 || v > INT32_MAX)
		return 0;
	*n = v;
	return 1;
}

/* Scales workload `w` (its object `live`) down, recording its count first
 * (a count an interrupted restore recorded is kept). */
static int scale_down(astra__inplace *ip, wl *w, const astra__json *live)
{
	char *patch;
	if (w->daemonset) {
		patch = astra__aprintf(
		        "{\"metadata\":{\"annotations\":{\"%s\":\"paused\"}},"
		        "\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{"
		        "\"%s\":\"true\"}}}}}",
		        ASTRA_INPLACE_ANNOTATION, ASTRA_INPLACE_PAUSE_KEY);
	} else {
		patch = astra__aprintf(
		        "{\"metadata\":{\"annotations\":{\"%s\":\"%lld\"}},"
		        "\"spec\":{\"replicas\":0}}",
		        ASTRA_INPLACE_ANNOTATION, (long long)w->replicas);
	}
	if (!patch)
		return astra__err_oom();
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-restore-inplace";
	wo.op = ip->p.op;
	int rc = astra__kube_patch(ip->p.k, &w->r, w->ns, w->name,
	        ASTRA_KUBE_PATCH_MERGE, patch, strlen(patch), &wo, NULL);
	free(patch);
	return rc;
}

static int is_ready(const wl *w, const astra__json *live, char *why, size_t n);

/* Records and scales down every workload of `man` that exists. */
static int scale_all_down(astra__inplace *ip, const astra__json *man)
{
	for (size_t i = 0; i < astra__json_size(man); i++) {
		const astra__json *m = astra__json_at(man, i);
		const char *av = astra__json_str(m, "apiVersion");
		const char *kind = astra__json_str(m, "kind");
		const char *ns = astra__json_str(
		        astra__json_get(m, "metadata"), "namespace");
		const char *name =
		        astra__json_str(astra__json_get(m, "metadata"), "name");
		if (!av || !kind || !ns || !name || controlled(m))
			continue;
		char group[256] = "";
		const char *slash = strchr(av, '/');
		if (slash)
			snprintf(group, sizeof(group), "%.*s",
			        (int)(slash - av), av);
		if (!is_workload(group, kind))
			continue;
		wl w;
		memset(&w, 0, sizeof(w));
		if (astra__kube_find_object(ip->p.k, m, &w.r)) {
			astra_error_clear();
			continue; /* not served here: nothing runs */
		}
		astra__json *live = NULL;
		int rc = astra__kube_get(ip->p.k, &w.r, ns, name, &live);
		if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			astra__kube_resource_clear(&w.r);
			continue; /* not there: created by the restore */
		}
		w.kind = astra__strdup(kind);
		w.ns = astra__strdup(ns);
		w.name = astra__strdup(name);
		w.daemonset = !strcmp(kind, "DaemonSet");
		if (!w.kind || !w.ns || !w.name ||
		        astra_vec_push(&ip->wls, w)) {
			free(w.kind);
			free(w.ns);
			free(w.name);
			astra__kube_resource_clear(&w.r);
			astra__json_free(live);
			return astra__err_oom();
		}
		wl *pw = &ip->wls.v[ip->wls.n - 1];
		if (!rc) {
			char why[200];
			int interrupted = recorded_count(live, &pw->replicas);
			if (!interrupted && !pw->daemonset)
				pw->replicas = astra__json_int(
				        astra__json_get(live, "spec"),
				        "replicas", 1);
			pw->was_ready = interrupted ||
			                is_ready(pw, live, why, sizeof(why));
			rc = scale_down(ip, pw, live);
		}
		if (rc == ASTRA_ECANCELLED) {
			astra__json_free(live);
			return rc;
		}
		if (rc)
			wl_fail(pw, "could not be scaled down: ",
			        astra_error_last()->message);
		else
			pw->scaled = 1;
		astra__log_info("in-place restore: %s %s/%s scaled down%s",
		        kind, ns, name, rc ? " FAILED" : "");
		astra__json_free(live);
	}
	return 0;
}

/* Readiness of `w` (its object `live`): 1 when ready; else 0 and `why`. */
static int is_ready(const wl *w, const astra__json *live, char *why, size_t n)
{
	const astra__json *st = astra__json_get(live, "status");
	int64_t gen = astra__json_int(
	        astra__json_get(live, "metadata"), "generation", 0);
	int64_t obs = astra__json_int(st, "observedGeneration", 0);
	if (w->daemonset) {
		int64_t want = astra__json_int(st, "desiredNumberScheduled", 0);
		int64_t ready = astra__json_int(st, "numberReady", 0);
		int64_t upd = astra__json_int(st, "updatedNumberScheduled", 0);
		snprintf(why, n, "%lld of %lld pods ready", (long long)ready,
		        (long long)want);
		return obs >= gen && ready == want && upd == want;
	}
	int64_t want = w->replicas;
	int64_t ready = astra__json_int(st, "readyReplicas", 0);
	int64_t cur = astra__json_int(st, "replicas", 0);
	int64_t spec =
	        astra__json_int(astra__json_get(live, "spec"), "replicas", 1);
	snprintf(why, n, "%lld of %lld replicas ready", (long long)ready,
	        (long long)want);
	if (!strcmp(w->kind, "Deployment") &&
	        astra__json_int(st, "updatedReplicas", 0) < want)
		return 0;
	return obs >= gen && spec == want && ready >= want && cur == want;
}

/* ---- volumes ---- */

/* Waits until no running or pending pod of `ns` mounts PVC `pvc`. */
static int wait_unused(astra__inplace *ip, const char *ns, const char *pvc)
{
	astra__kube_resource pr;
	int rc = astra__kube_find_kind(ip->p.k, "", "v1", "Pod", &pr);
	if (rc)
		return rc;
	uint64_t deadline = deadline_of(ip);
	char user[300] = "";
	for (;;) {
		astra__json *pods = NULL;
		astra__kube_list_options lo = { 0 };
		lo.op = ip->p.op;
		if ((rc = astra__kube_list_all(ip->p.k, &pr, ns, &lo, &pods)))
			break;
		user[0] = '\0';
		for (size_t i = 0; i < astra__json_size(pods) && !user[0];
		        i++) {
			const astra__json *p = astra__json_at(pods, i);
			const char *phase = astra__json_str(
			        astra__json_get(p, "status"), "phase");
			if (phase && (!strcmp(phase, "Succeeded") ||
			                     !strcmp(phase, "Failed")))
				continue;
			const astra__json *vols =
			        astra__json_path(p, "spec.volumes");
			for (size_t v = 0; v < astra__json_size(vols); v++) {
				const char *cn = astra__json_str(
				        astra__json_get(astra__json_at(vols, v),
				                "persistentVolumeClaim"),
				        "claimName");
				if (cn && !strcmp(cn, pvc)) {
					snprintf(user, sizeof(user), "%s",
					        astra__json_str(
					                astra__json_get(
					                        p, "metadata"),
					                "name"));
					break;
				}
			}
		}
		astra__json_free(pods);
		if (!user[0])
			break;
		if (astra__mono_ns() > deadline) {
			rc = astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "PVC %s/%s is still used by pod %s after %u s "
			        "(its workload was not scaled down): its data "
			        "was not rolled back",
			        ns, pvc, user, ip->timeout_s);
			break;
		}
		if ((rc = astra__op_check(ip->p.op)))
			break;
		sleep_ms(POLL_MS);
	}
	astra__kube_resource_clear(&pr);
	return rc;
}

/* Waits until PVC ns/name is gone (its finalizer released). */
static int wait_gone(astra__inplace *ip, const astra__kube_resource *r,
        const char *ns, const char *name)
{
	uint64_t deadline = deadline_of(ip);
	for (;;) {
		astra__json *o = NULL;
		int rc = astra__kube_get(ip->p.k, r, ns, name, &o);
		astra__json_free(o);
		if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			return 0;
		}
		if (rc)
			return rc;
		if (astra__mono_ns() > deadline)
			return astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "PVC %s/%s was not deleted within %u s", ns,
			        name, ip->timeout_s);
		if ((rc = astra__op_check(ip->p.op)))
			return rc;
		sleep_ms(POLL_MS / 2);
	}
}

/* 1 when the PVC's StorageClass binds only for a pod
 * (WaitForFirstConsumer); 0 otherwise or when unknown. */
static int binds_late(astra__inplace *ip, const astra__json *obj)
{
	const char *sc = astra__json_str(
	        astra__json_get(obj, "spec"), "storageClassName");
	astra__kube_resource r;
	if (!sc || astra__kube_find_kind(ip->p.k, "storage.k8s.io", NULL,
	                   "StorageClass", &r)) {
		astra_error_clear();
		return 0;
	}
	astra__json *o = NULL;
	int late = 0;
	if (astra__kube_get(ip->p.k, &r, NULL, sc, &o) == 0) {
		const char *m = astra__json_str(o, "volumeBindingMode");
		late = m && !strcmp(m, "WaitForFirstConsumer");
	} else {
		astra_error_clear();
	}
	astra__json_free(o);
	astra__kube_resource_clear(&r);
	return late;
}

/* From a snapshot: checks VolumeSnapshot `vs` first (the PVC stays when it
 * cannot be used), then deletes the PVC and re-creates it from `vs`. */
static int from_snapshot(astra__inplace *ip, const astra__kube_resource *r,
        const astra__json *obj, const char *ns, const char *name,
        const char *vs)
{
	astra__kube_resource vr;
	int rc = astra__kube_find_kind(ip->p.k, "snapshot.storage.k8s.io", NULL,
	        "VolumeSnapshot", &vr);
	if (rc)
		return rc;
	astra__json *v = NULL;
	rc = astra__kube_get(ip->p.k, &vr, ns, vs, &v);
	astra__kube_resource_clear(&vr);
	if (rc) {
		astra__json_free(v);
		return astra__err_prefix(rc, "VolumeSnapshot %s/%s", ns, vs);
	}
	int ready =
	        astra__json_bool(astra__json_get(v, "status"), "readyToUse", 0);
	astra__json_free(v);
	if (!ready)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "VolumeSnapshot %s/%s is not ready to use: PVC %s "
		        "was left as it is",
		        ns, vs, name);
	if ((rc = wait_unused(ip, ns, name)))
		return rc;
	astra__kube_write_options wo = { 0 };
	wo.op = ip->p.op;
	wo.propagation = "Background";
	rc = astra__kube_delete(ip->p.k, r, ns, name, &wo);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		rc = 0;
	}
	if (!rc)
		rc = wait_gone(ip, r, ns, name);
	if (rc)
		return astra__err_prefix(rc, "replacing PVC %s/%s", ns, name);
	astra__log_info("in-place restore: PVC %s/%s deleted, re-created from "
	                "VolumeSnapshot %s",
	        ns, name, vs);
	rc = astra__kube_create(ip->p.k, r, ns, obj, NULL, NULL);
	if (!rc && !binds_late(ip, obj))
		rc = astra__pvc_wait_bound(
		        ip->p.k, ns, name, ip->timeout_s, ip->p.op);
	if (rc)
		return astra__err_prefix(rc,
		        "PVC %s/%s was deleted and its re-creation from "
		        "VolumeSnapshot %s failed",
		        ns, name, vs);
	return 0;
}

/* Through mover Jobs, which never mount a tenant's PVC: a new volume is
 * filled from the backup in the control namespace and handed over, and
 * the PVC is replaced by one bound to it (the old volume goes with the old
 * PVC, by its reclaim policy). */
static int from_backup_mover(astra__inplace *ip, const astra__kube_resource *r,
        const astra__json *obj, const char *ns, const char *name,
        const char *data)
{
	char *pv = NULL;
	int rc = astra__mover_restore_replace(
	        ip->p.mover, ns, name, obj, data, ip->p.op, &pv);
	if (rc)
		return rc;
	astra__kube_write_options wo = { 0 };
	wo.op = ip->p.op;
	wo.propagation = "Background";
	rc = astra__kube_delete(ip->p.k, r, ns, name, &wo);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		rc = 0;
	}
	if (!rc)
		rc = wait_gone(ip, r, ns, name);
	astra__json *o = rc ? NULL : astra__json_dup(obj);
	if (!rc && !o)
		rc = ASTRA_ENOMEM;
	if (!rc) {
		astra__json *spec = astra__json_get(o, "spec");
		astra__json_free(astra__json_take(spec, "dataSource"));
		astra__json_free(astra__json_take(spec, "dataSourceRef"));
		astra__json_set_str(spec, "volumeName", pv);
		rc = astra__kube_create(ip->p.k, r, ns, o, NULL, NULL);
	}
	astra__json_free(o);
	if (rc) {
		astra__saved_err e;
		astra__err_save(&e);
		astra__mover_restore_undo(ip->p.mover, pv);
		astra__err_restore(&e);
	} else {
		rc = astra__mover_restore_bound(
		        ip->p.mover, ns, name, pv, ip->p.op);
	}
	free(pv);
	if (rc)
		return astra__err_prefix(rc, "replacing PVC %s/%s", ns, name);
	astra__log_info("in-place restore: PVC %s/%s replaced by one filled "
	                "from the backup by a mover Job",
	        ns, name);
	return 0;
}

/* From a backup: the PVC's data is overwritten so the tree equals the
 * backup's, through the volume's directory (which must exist: a path that
 * leads nowhere is not the volume), or the PVC is replaced by one a mover
 * Job filled. */
static int from_backup(astra__inplace *ip, const astra__kube_resource *r,
        const astra__json *obj, const char *ns, const char *name,
        const char *data)
{
	int rc = wait_unused(ip, ns, name);
	if (rc)
		return rc;
	if (ip->p.mover)
		return from_backup_mover(ip, r, obj, ns, name, data);
	char *path = NULL;
	if ((rc = astra__volume_path(ip->p.k, ip->p.va, ns, name, &path)))
		return rc;
	struct stat sb;
	int err = lstat(path, &sb) != 0 ? errno : 0;
	if (err || !S_ISDIR(sb.st_mode)) {
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "the volume of PVC %s/%s cannot be reached at %s (%s): "
		        "its data was not rolled back",
		        ns, name, path,
		        err ? strerror(err) : "not a directory");
		free(path);
		return rc;
	}
	astra__restore_params p;
	memset(&p, 0, sizeof(p));
	p.flags = ASTRA_DATA_RESTORE_F_OVERWRITE |
	          ASTRA_DATA_RESTORE_F_DELETE_EXTRAS;
	p.cancel = ip->p.op->cancel;
	astra__restore_out ro;
	memset(&ro, 0, sizeof(ro));
	rc = astra__data_restore(ip->p.repo, data, path, &p, &ro);
	astra__json_free(ro.report);
	free(path);
	return rc;
}

int astra__inplace_pvc(astra__inplace *ip, const astra__kube_resource *r,
        const astra__json *obj, const char *vs, const char *data, char *source,
        size_t nsource)
{
	const astra__json *md = astra__json_get(obj, "metadata");
	const char *ns = astra__json_str(md, "namespace");
	const char *name = astra__json_str(md, "name");
	if (ip->p.backup) {
		if (!data)
			return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
			        "backup %s holds no data for PVC %s/%s: its "
			        "data was not rolled back",
			        ip->p.backup, ns, name);
		snprintf(source, nsource, "backup %s", ip->p.backup);
		return from_backup(ip, r, obj, ns, name, data);
	}
	if (!vs)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "snapshot %s of app %s has no VolumeSnapshot of PVC "
		        "%s/%s: its data was not rolled back",
		        ip->p.snapshot, ip->p.snapshot_app, ns, name);
	snprintf(source, nsource, "snapshot %s/%s (VolumeSnapshot %s)",
	        ip->p.snapshot_app, ip->p.snapshot, vs);
	return from_snapshot(ip, r, obj, ns, name, vs);
}

/* ---- begin, end ---- */

static int run_pre_restore(
        astra__inplace *ip, const astra__json *man, const astra__json *defs)
{
	astra__hook_set hs;
	int rc = astra__hook_from_json(defs, &hs);
	if (rc)
		return rc;
	if (!astra__hook_has_stage(&hs, "pre-restore")) {
		astra__hook_set_free(&hs);
		return 0;
	}
	const char **nss =
	        astra__calloc(astra__json_size(man) + 1, sizeof(char *));
	size_t nns = 0;
	for (size_t i = 0; nss && i < astra__json_size(man); i++) {
		const char *ns = astra__json_str(
		        astra__json_get(astra__json_at(man, i), "metadata"),
		        "namespace");
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
		ro.op = ip->p.op;
		ro.what = "in-place restore";
		rc = astra__hook_run_stage(
		        ip->p.k, &hs, "pre-restore", &ro, ip->pre_stages);
	}
	free(nss);
	astra__hook_set_free(&hs);
	return rc;
}

int astra__inplace_begin(astra__inplace **out, const astra__inplace_params *p,
        const astra__json *man, const astra__json *hookdefs)
{
	*out = NULL;
	astra__inplace *ip = astra__calloc(1, sizeof(*ip));
	if (!ip)
		return astra__err_oom();
	ip->p = *p;
	ip->timeout_s = p->timeout_s ? p->timeout_s : DEFAULT_TIMEOUT_S;
	ip->pre_stages = astra__json_new_array();
	int rc = ip->pre_stages ? 0 : astra__err_oom();
	if (!rc && (rc = run_pre_restore(ip, man, hookdefs)))
		rc = astra__err_prefix(rc,
		        "in-place restore: pre-restore hooks failed, nothing "
		        "was changed");
	if (!rc)
		rc = scale_all_down(ip, man);
	*out = ip; /* what was scaled goes back in astra__inplace_end */
	return rc;
}

size_t astra__inplace_end(astra__inplace *ip)
{
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-restore-inplace";
	for (size_t i = 0; i < ip->wls.n; i++) {
		wl *w = &ip->wls.v[i];
		if (!w->scaled)
			continue;
		char *patch =
		        w->daemonset ? astra__aprintf(
		                               "{\"metadata\":{\"annotations\":"
		                               "{\"%s\":null}},\"spec\":{"
		                               "\"template\":{\"spec\":{"
		                               "\"nodeSelector\":{\"%s\":"
		                               "null}}}}}",
		                               ASTRA_INPLACE_ANNOTATION,
		                               ASTRA_INPLACE_PAUSE_KEY)
		                     : astra__aprintf(
		                               "{\"metadata\":{\"annotations\":"
		                               "{\"%s\":null}},\"spec\":{"
		                               "\"replicas\":%lld}}",
		                               ASTRA_INPLACE_ANNOTATION,
		                               (long long)w->replicas);
		int rc = patch ? astra__kube_patch(ip->p.k, &w->r, w->ns,
		                         w->name, ASTRA_KUBE_PATCH_MERGE, patch,
		                         strlen(patch), &wo, NULL)
		               : astra__err_oom();
		free(patch);
		if (rc) {
			w->scaled = 0;
			wl_fail(w,
			        "could not be scaled back (its count stays in "
			        "the " ASTRA_INPLACE_ANNOTATION
			        " annotation): ",
			        astra_error_last()->message);
		}
	}
	/* then wait for them all, under one deadline */
	uint64_t deadline = deadline_of(ip);
	size_t failed = 0;
	for (size_t i = 0; i < ip->wls.n; i++) {
		wl *w = &ip->wls.v[i];
		char why[200] = "";
		if (w->scaled && !w->was_ready && !w->reason) {
			/* it did not run before either: not waited for */
			w->note = astra__strdup("not ready before the restore "
			                        "either: not waited for");
			continue;
		}
		while (w->scaled && !w->reason) {
			astra__json *live = NULL;
			int rc = astra__kube_get(
			        ip->p.k, &w->r, w->ns, w->name, &live);
			int ok = !rc && is_ready(w, live, why, sizeof(why));
			astra__json_free(live);
			if (ok)
				break;
			if (rc)
				wl_fail(w, "could not be read back: ",
				        astra_error_last()->message);
			else if (astra__mono_ns() > deadline ||
			         astra_cancel_requested(ip->p.op->cancel)) {
				char msg[300];
				snprintf(msg, sizeof(msg),
				        "not ready within %u s after the restore "
				        "(%s)",
				        ip->timeout_s, why);
				wl_fail(w, msg, NULL);
			} else {
				sleep_ms(POLL_MS);
			}
		}
		if (w->reason) {
			failed++;
			astra__log_warn("in-place restore: %s %s/%s %s",
			        w->kind, w->ns, w->name, w->reason);
		}
	}
	astra_error_clear();
	return failed;
}

int astra__inplace_report(
        astra__inplace *ip, astra__json *rep, uint64_t rolled_back)
{
	astra__json *arr = astra__json_new_array();
	if (!arr)
		return astra__err_oom();
	for (size_t i = 0; i < ip->wls.n; i++) {
		const wl *w = &ip->wls.v[i];
		astra__json *e = astra__json_new_object();
		if (!e)
			break;
		astra__json_set_str(e, "kind", w->kind);
		astra__json_set_str(e, "namespace", w->ns);
		astra__json_set_str(e, "name", w->name);
		if (!w->daemonset)
			astra__json_set_int(e, "replicas", w->replicas);
		astra__json_set_str(
		        e, "result", w->reason ? "failed" : "restored");
		if (w->reason || w->note)
			astra__json_set_str(
			        e, "reason", w->reason ? w->reason : w->note);
		astra__json_push(arr, e);
	}
	astra__json_set(rep, "workloads", arr);
	astra__json_set_int(rep, "rolledBack", (int64_t)rolled_back);
	/* the pre-restore stage first, then what the restore ran */
	astra__json *hooks = astra__json_new_array();
	if (!hooks)
		return astra__err_oom();
	for (size_t i = 0; i < astra__json_size(ip->pre_stages); i++)
		astra__json_push(hooks,
		        astra__json_dup(astra__json_at(ip->pre_stages, i)));
	const astra__json *post = astra__json_get(rep, "hooks");
	for (size_t i = 0; i < astra__json_size(post); i++)
		astra__json_push(
		        hooks, astra__json_dup(astra__json_at(post, i)));
	astra__json_set(rep, "hooks", hooks);
	return 0;
}

void astra__inplace_free(astra__inplace *ip)
{
	if (!ip)
		return;
	for (size_t i = 0; i < ip->wls.n; i++) {
		wl *w = &ip->wls.v[i];
		astra__kube_resource_clear(&w->r);
		free(w->kind);
		free(w->ns);
		free(w->name);
		free(w->reason);
		free(w->note);
	}
	astra_vec_free(&ip->wls);
	astra__json_free(ip->pre_stages);
	free(ip);
}
