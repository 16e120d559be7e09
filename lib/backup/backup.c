/*
 * Application backups: a snapshot (taken, or given), its manifests as a
 * blob in the vault, each volume's data read from a PVC restored from its
 * VolumeSnapshot through a volume access strategy, and a sealed record
 * `appbackups/<name>` written last (docs/backups.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "astra/snapshot.h"
#include "mover/mover.h"
#include "repo/catalog.h"
#include "hook/hook.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "repo/data.h"
#include "repo/tree.h"
#include "repo/vault_internal.h"
#include "snap/snap.h"

astra_status astra_backup_options_init(
        astra_backup_options *o, unsigned int version)
{
	ASTRA__OPTIONS_DEFAULTS(
	        astra_backup_options, ASTRA_BACKUP_OPTIONS_INIT);
	static const size_t sizes[] = { offsetof(astra_backup_options, mover),
		sizeof(defaults) };
	_Static_assert(ASTRA__NELEM(sizes) == ASTRA_BACKUP_OPTIONS_VERSION,
	        "one size per version");
	return astra__options_init(o, &defaults, sizes, ASTRA__NELEM(sizes),
	        version, "astra_backup_options");
}

/* ---- records ---- */

static char *temp_pvc_manifest(const char *name, const char *ns, const char *vs,
        const char *sc, const char *size)
{
	return astra__aprintf(
	        "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
	        "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
	        "\"labels\":{\"backups.astra.dev/temporary\":\"true\"}},"
	        "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
	        "%s%s%s\"resources\":{\"requests\":{\"storage\":\"%s\"}},"
	        "\"dataSource\":{\"apiGroup\":\"snapshot.storage.k8s.io\","
	        "\"kind\":\"VolumeSnapshot\",\"name\":\"%s\"}}}",
	        name, ns, sc ? "\"storageClassName\":\"" : "", sc ? sc : "",
	        sc ? "\"," : "", size, vs);
}

static const astra__json *find_manifest(const astra__json *man,
        const char *kind, const char *ns, const char *name)
{
	for (size_t i = 0; i < astra__json_size(man); i++) {
		const astra__json *m = astra__json_at(man, i);
		const astra__json *md = astra__json_get(m, "metadata");
		const char *k = astra__json_str(m, "kind");
		const char *n = astra__json_str(md, "name");
		const char *s = astra__json_str(md, "namespace");
		if (k && n && !strcmp(k, kind) && !strcmp(n, name) &&
		        ((!ns && !s) || (ns && s && !strcmp(ns, s))))
			return m;
	}
	return NULL;
}

/* Backs up one volume: a temporary PVC from the VolumeSnapshot, its
 * directory through the data mover, then the PVC is deleted. */
static int backup_volume(astra__kube *k, astra__repo *r,
        const astra__volume_access *va, const char *backup,
        const astra__json *v, const astra__json *man, astra__op *op,
        astra__json *out)
{
	const char *ns = astra__json_str(v, "namespace");
	const char *pvc = astra__json_str(v, "pvc");
	const char *vs = astra__json_str(v, "volumeSnapshot");
	const char *size = astra__json_str(v, "restoreSize");
	const astra__json *orig =
	        find_manifest(man, "PersistentVolumeClaim", ns, pvc);
	const astra__json *spec = astra__json_get(orig, "spec");
	const char *sc = astra__json_str(spec, "storageClassName");
	if (!size)
		size = astra__json_str(
		        astra__json_path(spec, "resources.requests"),
		        "storage");
	char tmp[253];
	snprintf(tmp, sizeof(tmp), "astra-bk-%.200s-%.30s", pvc, backup);
	for (char *p = tmp; *p; p++)
		if (*p == '.')
			*p = '-';
	astra__kube_resource pr;
	astra__json *obj = NULL;
	char *text = temp_pvc_manifest(tmp, ns, vs, sc, size ? size : "1Gi");
	char *path = NULL;
	int created = 0;
	int rc = text ? astra__kube_find_kind(
	                        k, "", "v1", "PersistentVolumeClaim", &pr)
	              : ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_parse(&obj, text, strlen(text), "pvc");
	if (!rc) {
		rc = astra__kube_create(k, &pr, ns, obj, NULL, NULL);
		created = rc == 0;
	}
	if (!rc)
		rc = astra__pvc_wait_bound(k, ns, tmp, 300, op);
	if (!rc)
		rc = astra__volume_path(k, va, ns, tmp, &path);
	astra__backup_out bo;
	memset(&bo, 0, sizeof(bo));
	if (!rc) {
		char source[600], tag_app[300], tag_pvc[600];
		snprintf(source, sizeof(source), "pvc:%s/%s", ns, pvc);
		snprintf(tag_app, sizeof(tag_app), "backup=%s", backup);
		snprintf(tag_pvc, sizeof(tag_pvc), "pvc=%s/%s", ns, pvc);
		const char *tags[] = { tag_app, tag_pvc };
		astra__backup_params p = { 0 };
		p.tags = tags;
		p.ntags = 2;
		p.source = source;
		p.progress_cb = op->cb;
		p.payload = op->payload;
		p.cancel = op->cancel;
		rc = astra__data_backup(r, path, &p, &bo);
	}
	if (created) {
		astra_error e = *astra_error_last();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", e.message);
		if (astra__kube_delete(k, &pr, ns, tmp, NULL) != 0)
			astra__log_warn(
			        "cannot delete temporary PVC %s/%s", ns, tmp);
		if (rc)
			astra__err(e.code, e.klass, "%s", msg);
	}
	if (!rc) {
		astra__json_set_str(out, "namespace", ns);
		astra__json_set_str(out, "pvc", pvc);
		if (sc)
			astra__json_set_str(out, "storageClass", sc);
		if (size)
			astra__json_set_str(out, "size", size);
		const astra__json *am = astra__json_get(spec, "accessModes");
		if (am)
			astra__json_set(
			        out, "accessModes", astra__json_dup(am));
		astra__json_set_str(out, "data", bo.id);
		astra__json_set_int(out, "bytes", (int64_t)bo.bytes_total);
		astra__json_set_int(out, "files", (int64_t)bo.files);
	} else {
		astra__err_prefix(rc, "volume %s/%s", ns, pvc);
	}
	free(text);
	free(path);
	astra__json_free(obj);
	if (text)
		astra__kube_resource_clear(&pr);
	return rc;
}

astra_status astra_backup_create(astra_app *app, astra_vault *vault,
        const astra_backup_options *o, astra_buf *record_out)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(vault);
	int rc;
	if (o &&
	        (rc = astra__check_version(o->version,
	                 ASTRA_BACKUP_OPTIONS_VERSION, "astra_backup_options")))
		return rc;
	astra__repo *r = vault->r;
	astra__kube *k = app->k;
	astra__op op;
	astra__op_init(&op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o && o->cancel ? o->cancel
	                       : astra__cluster_cancel(app->cluster));
	op.p.stage = ASTRA_STAGE_BACKING_UP;
	astra__volume_access va = { o ? o->volume_path : NULL,
		o ? o->volume_path_cb : NULL,
		o ? o->volume_path_payload : NULL };
	char name[256], key[300], snapname[256];
	uint64_t t0 = astra__mono_ns();
	if (o && o->name) {
		snprintf(name, sizeof(name), "%s", o->name);
	} else {
		time_t t = (time_t)(astra__wall_ns() / 1000000000LL);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(name, sizeof(name), "%s-%04d%02d%02d%02d%02d%02d",
		        app->name, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		        tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	if ((rc = astra__appbackup_key(key, sizeof(key), name)))
		return rc;
	if (astra__appbackup_exists(r, name))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_REPO,
		        "backup %s already exists in %s", name,
		        astra__repo_url(r));
	astra_error_clear();

	/* pre-backup hooks; from here on the post-backup hooks always run */
	astra__hook_set hs = { 0 };
	char **hook_ns = NULL;
	size_t hook_nns = 0;
	astra__json *bstages = astra__json_new_array();
	int pre_ran = 0, post_ran = 0, own_snapshot = 0, marked = 0;
	astra__json *snap = NULL, *man = NULL, *rec = NULL, *vols = NULL;
	astra__writer *w = NULL;
	astra__session *session = NULL;
	astra__mover *mover = NULL;
	astra_buf mtext = ASTRA_BUF_INIT;
	char what[600];
	snprintf(what, sizeof(what), "backup %s of app %s", name, app->name);
	astra__hook_run_options ro = { 0 };
	ro.op = &op;
	ro.what = what;
	if (!bstages) {
		rc = astra__err_oom();
		goto done;
	}
	if ((rc = astra__hook_load(k, app->home, app->name, &hs)) ||
	        (rc = astra__hook_app_namespaces(app, &hook_ns, &hook_nns)))
		goto done;
	ro.namespaces = (const char *const *)hook_ns;
	ro.nnamespaces = hook_nns;
	pre_ran = 1;
	if ((rc = astra__hook_run_stage(k, &hs, "pre-backup", &ro, bstages)))
		goto done;

	/* the snapshot */
	own_snapshot = !(o && o->snapshot);
	if (own_snapshot) {
		astra_snapshot_options so;
		astra_snapshot_options_init(
		        &so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
		snprintf(snapname, sizeof(snapname), "%s-bk", name);
		so.name = snapname;
		so.cancel = op.cancel;
		if ((rc = astra_snapshot_create(app, &so, NULL))) {
			own_snapshot = 0; /* nothing to delete */
			goto done;
		}
	} else {
		snprintf(snapname, sizeof(snapname), "%s", o->snapshot);
	}
	/* while its volumes are read, the snapshot cannot be deleted */
	char user[300];
	snprintf(user, sizeof(user), "backup/%s", name);
	if ((rc = astra__snap_mark_in_use(k, app->name, snapname, user)))
		goto done;
	marked = 1;
	if ((rc = astra__snap_load(k, app->name, snapname, &snap, &man, NULL)))
		goto done;
	const astra__json *svols = astra__json_get(snap, "volumes");
	if ((rc = astra__mover_new(&mover, k, r,
	             o && o->version >= 2 ? o->mover : NULL, op.cancel)))
		goto done;
	if (astra__json_size(svols) && !mover && !va.cb && !va.template_path) {
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "app %s has %zu PVC(s), and no volume access was given "
		        "(a host-path template or a callback)",
		        app->name, astra__json_size(svols));
		goto done;
	}
	/* manifests: one blob (deduplicated like everything else). A writer
	 * session covers it from before the index is read until the record
	 * is written: gc must not sweep the pack of a deduplicated
	 * manifests blob while the volumes are copied. */
	if ((rc = astra__data_session_start(r, &session)))
		goto done;
	if ((rc = astra__writer_new(&w, r)) ||
	        (rc = astra__json_print_buf(&mtext, man, 0)))
		goto done;
	astra__id mid;
	if ((rc = astra__writer_add(w, ASTRA_BLOB_DATA, mtext.ptr, mtext.size,
	             &mid, 0, NULL)) ||
	        (rc = astra__writer_flush(w)))
		goto done;
	/* volumes */
	vols = astra__json_new_array();
	op.p.items_total = astra__json_size(svols);
	if (mover && vols) /* in-cluster Jobs, in parallel */
		rc = astra__mover_backup(mover, name, svols, man, &op, vols);
	for (size_t i = 0; !mover && vols && i < astra__json_size(svols) && !rc;
	        i++) {
		astra__json *v = astra__json_new_object();
		if (!v) {
			rc = ASTRA_ENOMEM;
			break;
		}
		rc = backup_volume(
		        k, r, &va, name, astra__json_at(svols, i), man, &op, v);
		if (!rc)
			rc = astra__json_push(vols, v);
		else
			astra__json_free(v);
		op.p.items_done++;
	}
	if (!vols && !rc)
		rc = ASTRA_ENOMEM;
	if (rc)
		goto done;
	/* post-backup hooks, then the record, last */
	post_ran = 1;
	if ((rc = astra__hook_run_stage(k, &hs, "post-backup", &ro, bstages)))
		goto done;
	rec = astra__json_new_object();
	if (!rec) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	char mhex[ASTRA_ID_HEX], when[24];
	astra__id_hex(&mid, mhex);
	astra__fmt_utc(when, astra__wall_ns() / 1000000000LL);
	astra__json *src = astra__json_new_object();
	astra__json_set_str(src, "server", astra_cluster_server(app->cluster));
	astra__json_set_str(
	        src, "context", astra_cluster_context_name(app->cluster));
	astra__json_set_int(rec, "format", ASTRA_APPBACKUP_FORMAT);
	astra__json_set_str(rec, "name", name);
	astra__json_set_str(rec, "app", app->name);
	astra__json_set(rec, "definition", astra__json_dup(app->def));
	astra__json_set(rec, "source", src);
	astra__json_set_str(rec, "created", when);
	astra__json_set_str(rec, "state", "completed");
	astra__json_set_str(rec, "snapshot", snapname);
	astra__json_set_str(
	        rec, "consistency", astra__json_str(snap, "consistency"));
	astra__json_set_str(rec, "manifests", mhex);
	astra__json_set_int(rec, "resources", (int64_t)astra__json_size(man));
	astra__json_set(rec, "volumes", vols);
	vols = NULL;
	astra__json *hooks = astra__json_new_array();
	const astra__json *shooks = astra__json_get(snap, "hooks");
	astra__json_push(hooks, astra__json_dup(astra__json_at(bstages, 0)));
	for (size_t i = 0; i < astra__json_size(shooks); i++)
		astra__json_push(
		        hooks, astra__json_dup(astra__json_at(shooks, i)));
	astra__json_push(hooks, astra__json_dup(astra__json_at(bstages, 1)));
	astra__json_set(rec, "hooks", hooks);
	astra__json_set(rec, "hookDefinitions",
	        astra__json_dup(astra__json_get(snap, "hookDefinitions")));
	astra__json_set_int(rec, "durationMs",
	        (int64_t)((astra__mono_ns() - t0) / 1000000ULL));
	if ((rc = astra__data_session_verify(session)) ||
	        (rc = astra__repo_put_json(r, key, rec, ASTRA_PUT_IF_ABSENT)))
		goto done;
	if (record_out)
		rc = astra__json_print_buf(record_out, rec, 1);
done:
	if (pre_ran && !post_ran) {
		astra_error e = *astra_error_last();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", e.message);
		(void)astra__hook_run_stage(
		        k, &hs, "post-backup", &ro, bstages);
		const astra__json *ps =
		        astra__json_at(bstages, astra__json_size(bstages) - 1);
		astra__err(e.code, e.klass,
		        "%s (post-backup hooks ran: %lld, failed: %lld)", msg,
		        (long long)astra__json_int(ps, "hooks", 0),
		        (long long)astra__json_int(ps, "failed", 0));
	}
	if (marked &&
	        astra__snap_mark_in_use(k, app->name, snapname, NULL) != 0)
		astra__log_warn("cannot unmark snapshot %s", snapname);
	if (own_snapshot) {
		astra_error e = *astra_error_last();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", e.message);
		if (astra_snapshot_delete(app->cluster, app->name, snapname) !=
		        0)
			astra__log_warn(
			        "cannot delete snapshot %s of backup %s",
			        snapname, name);
		if (rc)
			astra__err(e.code, e.klass, "%s", msg);
	}
	if (rc)
		astra__err_prefix(rc, "backup %s of app %s", name, app->name);
	astra__data_session_end(session);
	astra__writer_free(w);
	astra__mover_free(mover);
	astra_buf_dispose(&mtext);
	astra__json_free(snap);
	astra__json_free(man);
	astra__json_free(rec);
	astra__json_free(vols);
	astra__json_free(bstages);
	astra__hook_set_free(&hs);
	free(hook_ns);
	return rc;
}

typedef struct {
	astra__repo *r;
	const char *app;
	astra__json *arr;
} list_ctx;

static int list_cb(astra__json *rec, void *payload)
{
	list_ctx *l = payload;
	const char *a = astra__json_str(rec, "app");
	if (l->app && (!a || strcmp(a, l->app))) {
		astra__json_free(rec);
		return 0;
	}
	astra__json_del(rec, "definition");
	return astra__json_push(l->arr, rec);
}

static int cmp_created(const void *a, const void *b)
{
	const char *x = astra__json_str(*(astra__json *const *)a, "created");
	const char *y = astra__json_str(*(astra__json *const *)b, "created");
	return strcmp(x ? x : "", y ? y : "");
}

astra_status astra_backup_list(
        astra_vault *vault, const char *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(out);
	list_ctx l = { vault->r, app, astra__json_new_array() };
	if (!l.arr)
		return ASTRA_ENOMEM;
	int rc = astra__appbackup_list(vault->r, list_cb, &l);
	if (rc < 0) {
		astra__json_free(l.arr);
		return rc;
	}
	size_t n = astra__json_size(l.arr);
	astra__json **v = astra__calloc(n + 1, sizeof(*v));
	astra__json *sorted = astra__json_new_array();
	rc = (!v || !sorted) ? ASTRA_ENOMEM : 0;
	for (size_t i = 0; !rc && i < n; i++)
		v[i] = astra__json_dup(astra__json_at(l.arr, i));
	if (!rc) {
		qsort(v, n, sizeof(*v), cmp_created);
		for (size_t i = 0; i < n; i++)
			astra__json_push(sorted, v[i]);
		rc = astra__json_print_buf(out, sorted, 1);
	}
	free(v);
	astra__json_free(sorted);
	astra__json_free(l.arr);
	return rc;
}

astra_status astra_backup_get(
        astra_vault *vault, const char *name, astra_buf *out)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(name);
	ASTRA_ASSERT_ARG(out);
	astra__json *rec = NULL;
	int rc = astra__appbackup_load(vault->r, name, &rec, NULL);
	if (!rc)
		rc = astra__json_print_buf(out, rec, 1);
	astra__json_free(rec);
	return rc;
}

astra_status astra_backup_delete(astra_vault *vault, const char *name)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(name);
	astra__json *rec = NULL;
	int rc = astra__appbackup_load(vault->r, name, &rec, NULL);
	if (rc)
		return rc;
	/* the record first: a half-deleted backup is then invisible, and its
	 * volume data is reclaimed by gc either way */
	rc = astra__appbackup_delete(vault->r, name);
	const astra__json *vols = astra__json_get(rec, "volumes");
	for (size_t i = 0; !rc && i < astra__json_size(vols); i++) {
		const char *id =
		        astra__json_str(astra__json_at(vols, i), "data");
		if (id && astra_vault_forget(vault, id) != 0 &&
		        astra_error_last()->code != ASTRA_ENOTFOUND)
			rc = astra_error_last()->code;
	}
	astra__json_free(rec);
	return rc;
}
