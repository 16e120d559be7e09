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
#include <sys/stat.h>

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
#include "core/map.h"
#include "kube/cluster_internal.h"
#include "repo/data.h"
#include "repo/tree.h"
#include "repo/vault_internal.h"
#include "snap/snap.h"

astra_status astra_backup_options_init(
        astra_backup_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_backup_options, BACKUP, o, version,
	        offsetof(astra_backup_options, mover), sizeof(defaults));
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

/* Fills volume record *out (zeroed) from what backing it up found; on
 * failure (ASTRA_ENOMEM) nothing is left to free. */
static int volume_rec(astra__appbackup_vol *out, const char *ns,
        const char *pvc, const char *sc, const char *size,
        const astra__json *am, const astra__backup_out *bo)
{
	memset(out, 0, sizeof(*out));
	out->bytes = (int64_t)bo->bytes_total;
	out->files = (int64_t)bo->files;
	if (!(out->ns = astra__strdup(ns)) ||
	        !(out->pvc = astra__strdup(pvc)) ||
	        (sc && !(out->storage_class = astra__strdup(sc))) ||
	        (size && !(out->size = astra__strdup(size))) ||
	        (am && !(out->access_modes = astra__json_dup(am))) ||
	        !(out->data = astra__strdup(bo->id))) {
		astra__appbackup_vol_free(out);
		return astra__err_oom();
	}
	return 0;
}

/* Backs up one volume: a temporary PVC from the VolumeSnapshot, its
 * directory through the data mover, then the PVC is deleted. On success
 * *out holds the volume's record (the caller frees it); on failure it is
 * left zeroed or untouched and the error names the volume. */
static int backup_volume(astra__kube *k, astra__repo *r,
        const astra__volume_access *va, const char *backup,
        const astra__json *v, const astra__json *man, astra__op *op,
        astra__appbackup_vol *out)
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
	/* the backup's name hashed: any length, always a valid name, and
	 * two backups of one PVC never share a temporary PVC */
	snprintf(tmp, sizeof(tmp), "astra-bk-%.200s-%016llx", pvc,
	        (unsigned long long)astra__hash_bytes(backup, strlen(backup)));
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
		/* its bytes join the app-wide stream (docs/backups.md) */
		astra__op_part part = { op, NULL, 1, 0, 0 };
		p.progress_cb = astra__op_part_cb;
		p.payload = &part;
		p.cancel = op->cancel;
		rc = astra__data_backup(r, path, &p, &bo);
	}
	if (created) {
		astra__saved_err e;
		astra__err_save(&e);
		if (astra__kube_delete(k, &pr, ns, tmp, NULL) != 0)
			astra__log_warn(
			        "cannot delete temporary PVC %s/%s", ns, tmp);
		if (rc)
			astra__err_restore(&e);
	}
	if (!rc)
		rc = volume_rec(out, ns, pvc, sc, size,
		        astra__json_get(spec, "accessModes"), &bo);
	else
		astra__err_prefix(rc, "volume %s/%s", ns, pvc);
	free(text);
	free(path);
	astra__json_free(obj);
	if (text)
		astra__kube_resource_clear(&pr);
	return rc;
}

/*
 * astra_backup_create, step by step. Each step starts where the one before
 * it left `bk`, and on failure returns the error with what it created
 * recorded in `bk`, for backup_finish to undo: the post-backup hooks run
 * once the pre-backup ones have (pre_ran without post_ran), the snapshot
 * is unmarked (marked) and deleted when the backup took it (own_snapshot).
 */
typedef struct {
	astra_app *app;
	const astra_backup_options *o;
	astra__repo *r;
	astra__kube *k;
	astra__op op;
	astra__volume_access va;
	char name[256], key[300], snapname[256], what[600];
	uint64_t t0;
	astra__hook_set hs;
	char **hook_ns;
	size_t hook_nns;
	astra__hook_run_options ro;
	astra__json *bstages; /* the pre- and post-backup hook results */
	int pre_ran, post_ran, own_snapshot, marked;
	astra__json *snap, *man; /* the snapshot's record and manifests */
	astra__writer *w;
	astra__session *session;
	astra__mover *mover;
	astra_buf mtext;
	astra__id mid; /* the manifests blob */
	astra__appbackup_rec rec; /* the volumes, then the whole record */
	astra__json *svols; /* the snapshot's volumes it took (to back up) */
	astra__appbackup_vol *live; /* the volumes read live (live_read) */
	size_t nlive;
} bk;

/* Sets up `b` for a backup of `app` (nothing allocated yet). */
static void backup_init(bk *b, astra_app *app, astra_vault *vault,
        const astra_backup_options *o)
{
	memset(b, 0, sizeof(*b));
	b->app = app;
	b->o = o;
	b->r = vault->r;
	b->k = app->k;
	astra__op_init(&b->op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o && o->cancel ? o->cancel
	                       : astra__cluster_cancel(app->cluster));
	b->op.p.stage = ASTRA_STAGE_BACKING_UP;
	b->va.template_path = o ? o->volume_path : NULL;
	b->va.cb = o ? o->volume_path_cb : NULL;
	b->va.payload = o ? o->volume_path_payload : NULL;
	b->mtext = (astra_buf)ASTRA_BUF_INIT;
}

/* Names the backup (the given name, else "<app>-<UTC time>") and checks
 * that the name is valid and not taken in the vault. Creates nothing; on
 * success the error state is cleared. */
static int backup_name(bk *b)
{
	int rc;
	if (b->o && b->o->name) {
		snprintf(b->name, sizeof(b->name), "%s", b->o->name);
	} else {
		time_t t = (time_t)(astra__wall_ns() / 1000000000LL);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(b->name, sizeof(b->name),
		        "%s-%04d%02d%02d%02d%02d%02d", b->app->name,
		        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		        tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	if ((rc = astra__appbackup_key(b->key, sizeof(b->key), b->name)))
		return rc;
	if (astra__appbackup_exists(b->r, b->name))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_REPO,
		        "backup %s already exists in %s", b->name,
		        astra__repo_url(b->r));
	astra_error_clear();
	return 0;
}

/* Loads the app's hooks and runs the pre-backup ones. Once they started
 * (pre_ran), the post-backup hooks always run: after the volumes here, or
 * in backup_finish after a failure. */
static int backup_pre_hooks(bk *b)
{
	int rc;
	snprintf(b->what, sizeof(b->what), "backup %s of app %s", b->name,
	        b->app->name);
	b->ro.op = &b->op;
	b->ro.what = b->what;
	if (!(b->bstages = astra__json_new_array()))
		return astra__err_oom();
	if ((rc = astra__hook_load(b->k, b->app->home, b->app->name, &b->hs)) ||
	        (rc = astra__hook_app_namespaces(
	                 b->app, &b->hook_ns, &b->hook_nns)))
		return rc;
	b->ro.namespaces = (const char *const *)b->hook_ns;
	b->ro.nnamespaces = b->hook_nns;
	b->pre_ran = 1;
	return astra__hook_run_stage(
	        b->k, &b->hs, "pre-backup", &b->ro, b->bstages);
}

/* ---- volumes no snapshot can take: read live, while quiesced ---- */

/* Makes the mover (Jobs, or NULL: this process) and starts the writer
 * session before the snapshot: the volumes read live are backed up while
 * the snapshot holds the app quiesced. */
static int backup_access(bk *b)
{
	int rc = astra__mover_new(&b->mover, b->k, b->r,
	        b->o && b->o->version >= 2 ? b->o->mover : NULL,
	        astra_cluster_control_namespace(b->app->cluster), b->op.cancel);
	if (!rc)
		rc = astra__data_session_start(b->r, &b->session);
	return rc;
}

static void live_free(bk *b)
{
	for (size_t i = 0; i < b->nlive; i++)
		astra__appbackup_vol_free(&b->live[i]);
	free(b->live);
	b->live = NULL;
	b->nlive = 0;
	astra__json_free(b->svols);
	b->svols = NULL;
}

/* Before anything is taken: can this backup read PVC ns/pvc, which no
 * snapshot can take, live? Mover Jobs mount any PVC; a host-path template
 * or a callback must give a directory this process can read. */
static int live_check(
        void *payload, const char *ns, const char *pvc, const char *reason)
{
	bk *b = payload;
	if (b->mover)
		return 0;
	if (!b->va.cb && !b->va.template_path)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "PVC %s/%s cannot be backed up: %s, and this backup "
		        "has no way to read the live volume (give a volume "
		        "path template, a volume path callback or mover Jobs)",
		        ns, pvc, reason);
	char *path = NULL;
	int rc = astra__volume_path(b->k, &b->va, ns, pvc, &path);
	struct stat st;
	if (rc)
		astra__err_prefix(rc,
		        "PVC %s/%s cannot be backed up (%s) nor read live", ns,
		        pvc, reason);
	else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_OS,
		        "PVC %s/%s cannot be backed up (%s) nor read live: "
		        "its volume path %s is not a directory this process "
		        "can reach",
		        ns, pvc, reason, path);
	free(path);
	return rc;
}

/* Backs up the live volume of PVC `v` ({"namespace", "pvc"}) from the
 * directory the volume access gives, into *out. */
static int live_volume(bk *b, const astra__json *v, const astra__json *man,
        astra__appbackup_vol *out)
{
	const char *ns = astra__json_str(v, "namespace");
	const char *pvc = astra__json_str(v, "pvc");
	const astra__json *spec = astra__json_get(
	        find_manifest(man, "PersistentVolumeClaim", ns, pvc), "spec");
	const char *size = astra__json_str(
	        astra__json_path(spec, "resources.requests"), "storage");
	char *path = NULL;
	astra__backup_out bo;
	memset(&bo, 0, sizeof(bo));
	int rc = astra__volume_path(b->k, &b->va, ns, pvc, &path);
	if (!rc) {
		char source[600], tag_app[300], tag_pvc[600];
		snprintf(source, sizeof(source), "pvc:%s/%s", ns, pvc);
		snprintf(tag_app, sizeof(tag_app), "backup=%s", b->name);
		snprintf(tag_pvc, sizeof(tag_pvc), "pvc=%s/%s", ns, pvc);
		const char *tags[] = { tag_app, tag_pvc };
		astra__backup_params p = { 0 };
		p.tags = tags;
		p.ntags = 2;
		p.source = source;
		p.progress_cb = b->op.cb;
		p.payload = b->op.payload;
		p.cancel = b->op.cancel;
		rc = astra__data_backup(b->r, path, &p, &bo);
	}
	if (!rc)
		rc = volume_rec(out, ns, pvc,
		        astra__json_str(spec, "storageClassName"), size,
		        astra__json_get(spec, "accessModes"), &bo);
	if (!rc && !(out->consistency = astra__strdup(ASTRA_SNAP_LIVE))) {
		astra__appbackup_vol_free(out);
		rc = astra__err_oom();
	}
	if (rc)
		astra__err_prefix(rc, "volume %s/%s (read live)", ns, pvc);
	free(path);
	return rc;
}

/* While the app is quiesced: backs up the volumes no snapshot can take
 * (`vols`), by mover Jobs mounting the live PVCs read-only, else one by
 * one here; into b->live. */
static int live_read(
        void *payload, const astra__json *vols, const astra__json *man)
{
	bk *b = payload;
	size_t n = astra__json_size(vols);
	int rc = 0;
	if (!(b->live = astra__calloc(n + 1, sizeof(*b->live))))
		return astra__err_oom();
	if (b->mover) {
		astra__json *out = astra__json_new_array();
		rc = out ? astra__mover_backup(
		                   b->mover, b->name, vols, man, &b->op, out)
		         : astra__err_oom();
		for (size_t i = 0; !rc && i < astra__json_size(out); i++)
			if (!(rc = astra__appbackup_vol_decode(
			              astra__json_at(out, i), b->name, i,
			              &b->live[i])))
				b->nlive = i + 1;
		astra__json_free(out);
		return rc;
	}
	for (size_t i = 0; !rc && i < n; i++)
		if (!(rc = live_volume(
		              b, astra__json_at(vols, i), man, &b->live[i])))
			b->nlive = i + 1;
	return rc;
}

/* b->svols: the snapshot's volumes to back up from their VolumeSnapshots.
 * A volume the snapshot did not take is refused (a given snapshot cannot
 * have its data), unless this backup read it live (b->live). */
static int snapshot_volumes(bk *b)
{
	const astra__json *all = astra__json_get(b->snap, "volumes");
	if (!(b->svols = astra__json_new_array()))
		return astra__err_oom();
	for (size_t i = 0; i < astra__json_size(all); i++) {
		const astra__json *v = astra__json_at(all, i);
		const char *c = astra__json_str(v, "consistency");
		const char *ns = astra__json_str(v, "namespace");
		const char *pvc = astra__json_str(v, "pvc");
		int read = 0;
		for (size_t j = 0; ns && pvc && j < b->nlive; j++)
			read |= !strcmp(b->live[j].ns, ns) &&
			        !strcmp(b->live[j].pvc, pvc);
		if (!c || !strcmp(c, "snapshot")) {
			if (astra__json_push(b->svols, astra__json_dup(v)))
				return astra__err_oom();
		} else if (!read) {
			const char *why = astra__json_str(v, "reason");
			return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
			        "PVC %s/%s: snapshot %s holds no data for it "
			        "(%s); back the app up without --snapshot, so "
			        "that the volume is read live while the app is "
			        "quiesced",
			        ns ? ns : "?", pvc ? pvc : "?", b->snapname,
			        why ? why : c);
		}
	}
	return 0;
}

/* Appends the volumes read live to the record, after the snapshot's, and
 * marks those as "snapshot". */
static int backup_volumes_live(bk *b)
{
	for (size_t i = 0; i < b->rec.nvolumes; i++)
		if (!b->rec.volumes[i].consistency &&
		        !(b->rec.volumes[i].consistency =
		                        astra__strdup("snapshot")))
			return astra__err_oom();
	for (size_t i = 0; i < b->nlive; i++) {
		b->rec.volumes[b->rec.nvolumes++] = b->live[i];
		memset(&b->live[i], 0, sizeof(b->live[i]));
		b->op.p.items_done++;
	}
	b->nlive = 0;
	return 0;
}

/* Takes the backup's own snapshot ("<name>-bk") unless one was given, marks
 * it in use (it cannot be deleted while its volumes are read) and loads its
 * record and manifests into b->snap and b->man. */
static int backup_snapshot(bk *b)
{
	int rc;
	b->own_snapshot = !(b->o && b->o->snapshot);
	if (b->own_snapshot) {
		astra_snapshot_options so;
		astra_snapshot_options_init(
		        &so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
		snprintf(b->snapname, sizeof(b->snapname), "%s-bk", b->name);
		so.name = b->snapname;
		so.cancel = b->op.cancel;
		astra__snap_live live = { live_check, live_read, b };
		if ((rc = astra__snapshot_create_live(
		             b->app, &so, &live, NULL))) {
			b->own_snapshot = 0; /* nothing to delete */
			return rc;
		}
	} else {
		snprintf(
		        b->snapname, sizeof(b->snapname), "%s", b->o->snapshot);
	}
	char user[300];
	snprintf(user, sizeof(user), "backup/%s", b->name);
	if ((rc = astra__snap_mark_in_use(
	             b->k, b->app->name, b->snapname, user)))
		return rc;
	b->marked = 1;
	if ((rc = astra__snap_load(
	             b->k, b->app->name, b->snapname, &b->snap, &b->man, NULL)))
		return rc;
	return snapshot_volumes(b);
}

/* Chooses how volume data moves (b->mover: Jobs, or NULL: this process)
 * and checks that volumes, if any, can be reached. */
static int backup_mover(bk *b)
{
	const astra__json *svols = b->svols;
	if (astra__json_size(svols) && !b->mover && !b->va.cb &&
	        !b->va.template_path)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "app %s has %zu PVC(s), and no volume access was given "
		        "(a host-path template or a callback)",
		        b->app->name, astra__json_size(svols));
	return 0;
}

/* Stores the manifests as one blob (deduplicated like everything else;
 * its id in b->mid). A writer session starts first and covers it from
 * before the index is read until the record is written: gc must not sweep
 * the pack of a deduplicated manifests blob while the volumes are copied.
 * The session ends in backup_finish. */
static int backup_manifests(bk *b)
{
	int rc;
	if (!b->session && (rc = astra__data_session_start(b->r, &b->session)))
		return rc;
	if ((rc = astra__writer_new(&b->w, b->r)) ||
	        (rc = astra__json_print_buf(&b->mtext, b->man, 0)))
		return rc;
	if ((rc = astra__writer_add(b->w, ASTRA_BLOB_DATA, b->mtext.ptr,
	             b->mtext.size, &b->mid, 0, NULL)))
		return rc;
	return astra__writer_flush(b->w);
}

/* The last report of the volumes: every item and byte done (with mover
 * Jobs the bytes are only known per finished volume, so the total is what
 * they moved). */
static int backup_progress_end(bk *b)
{
	if (b->op.p.bytes_total < b->op.p.bytes_done)
		b->op.p.bytes_total = b->op.p.bytes_done;
	b->op.p.bytes_done = b->op.p.bytes_total;
	b->op.p.items_done = b->op.p.items_total;
	return astra__op_report(&b->op, 1);
}

/* Backs up every volume of the snapshot, into b->rec.volumes (in the
 * snapshot's order): by mover Jobs in parallel, else one by one here. On
 * failure the volumes done so far stay in b->rec (freed with it). */
static int backup_volumes(bk *b)
{
	const astra__json *svols = b->svols;
	size_t n = astra__json_size(svols);
	int rc = 0;
	b->rec.volumes =
	        astra__calloc(n + b->nlive + 1, sizeof(*b->rec.volumes));
	/* items: the objects (stored with the manifests), then the volumes */
	b->op.p.items_total = astra__json_size(b->man) + n + b->nlive;
	b->op.p.items_done = astra__json_size(b->man);
	if (!b->rec.volumes)
		return ASTRA_ENOMEM;
	if (b->mover) { /* in-cluster Jobs, in parallel */
		astra__json *vols = astra__json_new_array();
		rc = vols ? astra__mover_backup(b->mover, b->name, svols,
		                    b->man, &b->op, vols)
		          : ASTRA_ENOMEM;
		for (size_t i = 0; !rc && i < astra__json_size(vols); i++)
			if (!(rc = astra__appbackup_vol_decode(
			              astra__json_at(vols, i), b->name, i,
			              &b->rec.volumes[i])))
				b->rec.nvolumes = i + 1;
		astra__json_free(vols);
		return rc ? rc : backup_progress_end(b);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		rc = backup_volume(b->k, b->r, &b->va, b->name,
		        astra__json_at(svols, i), b->man, &b->op,
		        &b->rec.volumes[i]);
		if (!rc)
			b->rec.nvolumes = i + 1;
		b->op.p.items_done++;
	}
	return rc ? rc : backup_progress_end(b);
}

/* The hook results of the record: pre-backup, the snapshot's stages,
 * post-backup (NULL without memory). */
static astra__json *backup_hooks_json(const bk *b)
{
	astra__json *hooks = astra__json_new_array();
	const astra__json *shooks = astra__json_get(b->snap, "hooks");
	astra__json_push(hooks, astra__json_dup(astra__json_at(b->bstages, 0)));
	for (size_t i = 0; i < astra__json_size(shooks); i++)
		astra__json_push(
		        hooks, astra__json_dup(astra__json_at(shooks, i)));
	astra__json_push(hooks, astra__json_dup(astra__json_at(b->bstages, 1)));
	return hooks;
}

/* Fills b->rec (its volumes are there already) and writes it as
 * `appbackups/<name>`, if absent, once the writer session is verified;
 * the record, pretty, goes to `record_out` when given. Nothing to undo:
 * a record not written leaves only data gc reclaims. */
static int backup_record(bk *b, astra_buf *record_out)
{
	astra__appbackup_rec *rec = &b->rec;
	astra__json *j = NULL;
	char mhex[ASTRA_ID_HEX], when[24];
	astra__id_hex(&b->mid, mhex);
	astra__fmt_utc(when, astra__wall_ns() / 1000000000LL);
	const astra_cluster *cl = b->app->cluster;
	rec->format = ASTRA_APPBACKUP_FORMAT;
	rec->has_source = 1;
	rec->resources = (int64_t)astra__json_size(b->man);
	const char *consistency = astra__json_str(b->snap, "consistency");
	const char *server = astra_cluster_server(cl);
	const char *context = astra_cluster_context_name(cl);
	const astra__json *hdefs = astra__json_get(b->snap, "hookDefinitions");
	if (!(rec->name = astra__strdup(b->name)) ||
	        !(rec->app = astra__strdup(b->app->name)) ||
	        (b->app->def &&
	                !(rec->definition = astra__json_dup(b->app->def))) ||
	        (server && !(rec->server = astra__strdup(server))) ||
	        (context && !(rec->context = astra__strdup(context))) ||
	        !(rec->created = astra__strdup(when)) ||
	        !(rec->state = astra__strdup("completed")) ||
	        !(rec->snapshot = astra__strdup(b->snapname)) ||
	        (consistency &&
	                !(rec->consistency = astra__strdup(consistency))) ||
	        !(rec->manifests = astra__strdup(mhex)) ||
	        !(rec->hooks = backup_hooks_json(b)) ||
	        (hdefs && !(rec->hook_definitions = astra__json_dup(hdefs))))
		return astra__err_oom();
	rec->duration_ms = (int64_t)((astra__mono_ns() - b->t0) / 1000000ULL);
	int rc;
	if ((rc = astra__appbackup_encode(rec, &j)) ||
	        (rc = astra__data_session_verify(b->session)) ||
	        (rc = astra__repo_put_json(
	                 b->r, b->key, j, ASTRA_PUT_IF_ABSENT)))
		goto done;
	if (record_out)
		rc = astra__json_print_buf(record_out, j, 1);
done:
	astra__json_free(j);
	return rc;
}

/* Undoes what the steps left behind (see bk) and frees `b`; returns `rc`
 * with, on failure, the error of the step that failed, told how many
 * post-backup hooks ran and prefixed with the backup's name. */
static int backup_finish(bk *b, int rc)
{
	if (b->pre_ran && !b->post_ran) {
		astra__saved_err e;
		astra__err_save(&e);
		(void)astra__hook_run_stage(
		        b->k, &b->hs, "post-backup", &b->ro, b->bstages);
		const astra__json *ps = astra__json_at(
		        b->bstages, astra__json_size(b->bstages) - 1);
		astra__err(e.code, e.klass,
		        "%s (post-backup hooks ran: %lld, failed: %lld)",
		        e.message, (long long)astra__json_int(ps, "hooks", 0),
		        (long long)astra__json_int(ps, "failed", 0));
	}
	if (b->marked && astra__snap_mark_in_use(
	                         b->k, b->app->name, b->snapname, NULL) != 0)
		astra__log_warn("cannot unmark snapshot %s", b->snapname);
	if (b->own_snapshot) {
		astra__saved_err e;
		astra__err_save(&e);
		if (astra_snapshot_delete(
		            b->app->cluster, b->app->name, b->snapname) != 0)
			astra__log_warn(
			        "cannot delete snapshot %s of backup %s",
			        b->snapname, b->name);
		if (rc)
			astra__err_restore(&e);
	}
	if (rc)
		astra__err_prefix(
		        rc, "backup %s of app %s", b->name, b->app->name);
	astra__data_session_end(b->session);
	astra__writer_free(b->w);
	astra__mover_free(b->mover);
	astra_buf_dispose(&b->mtext);
	astra__json_free(b->snap);
	astra__json_free(b->man);
	astra__appbackup_rec_free(&b->rec);
	live_free(b);
	astra__json_free(b->bstages);
	astra__hook_set_free(&b->hs);
	free(b->hook_ns);
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
	bk b;
	backup_init(&b, app, vault, o);
	b.t0 = astra__mono_ns();
	if ((rc = backup_name(&b)))
		return rc; /* nothing to undo yet */
	if (!(rc = backup_pre_hooks(&b)) && !(rc = backup_access(&b)) &&
	        !(rc = backup_snapshot(&b)) && !(rc = backup_mover(&b)) &&
	        !(rc = backup_manifests(&b)) && !(rc = backup_volumes(&b)) &&
	        !(rc = backup_volumes_live(&b))) {
		/* post-backup hooks, then the record, last */
		b.post_ran = 1;
		rc = astra__hook_run_stage(
		        b.k, &b.hs, "post-backup", &b.ro, b.bstages);
		if (!rc)
			rc = backup_record(&b, record_out);
	}
	return backup_finish(&b, rc);
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

/* Forgets the data snapshots tagged backup=<name>: the volumes of a
 * backup whose record cannot be read (each volume's data snapshot carries
 * that tag, docs/backups.md). */
static int forget_tagged(astra_vault *vault, const char *name)
{
	astra__json *snaps = NULL;
	int rc = astra__snapshot_list(vault->r, &snaps);
	for (size_t i = 0; !rc && i < astra__json_size(snaps); i++) {
		const astra__json *s = astra__json_at(snaps, i);
		const char *b =
		        astra__json_str(astra__json_get(s, "tags"), "backup");
		const char *id = astra__json_str(s, "id");
		if (!b || !id || strcmp(b, name))
			continue;
		astra__log_warn("backup %s: forgetting its data snapshot %s "
		                "(found by its tag)",
		        name, id);
		if (astra_vault_forget(vault, id) != 0 &&
		        astra_error_last()->code != ASTRA_ENOTFOUND)
			rc = astra_error_last()->code;
	}
	astra__json_free(snaps);
	return rc;
}

/* 1 when app `a` covers namespace `ns` */
static int covers(const astra_app *a, const char *ns)
{
	for (size_t i = 0; i < a->nns; i++)
		if (!strcmp(a->ns[i].name, ns))
			return 1;
	return a->helm_namespace && !strcmp(a->helm_namespace, ns);
}

/* 0 when backup `name` (record `rec`) is `owner`'s: the same app name, and
 * every namespace its recorded definition covers is one `owner` covers;
 * else ASTRA_EAUTH naming the backup and its app. */
static int check_owner(const astra__appbackup_rec *rec, const char *name,
        const astra_app *owner)
{
	if (!rec->app || strcmp(rec->app, owner->name))
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_POLICY,
		        "backup %s belongs to app \"%s\", not to app \"%s\": "
		        "not deleted",
		        name, rec->app ? rec->app : "", owner->name);
	astra_app *was = NULL;
	if (!rec->definition || astra__app_parse(&was, rec->definition) != 0) {
		astra_error_clear();
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_POLICY,
		        "backup %s records no readable app definition, so it "
		        "cannot be told to be app \"%s\"'s: not deleted",
		        name, owner->name);
	}
	int rc = 0;
	const char *other = NULL;
	for (size_t i = 0; i < was->nns && !other; i++)
		if (!covers(owner, was->ns[i].name))
			other = was->ns[i].name;
	if (!other && was->helm_namespace &&
	        !covers(owner, was->helm_namespace))
		other = was->helm_namespace;
	if (other)
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_POLICY,
		        "backup %s of app \"%s\" covers namespace %s, which "
		        "app \"%s\" (defined in namespace %s) does not: not "
		        "deleted",
		        name, rec->app, other, owner->name, owner->home);
	astra__app_release(was);
	return rc;
}

astra_status astra_backup_delete_app(
        astra_vault *vault, const astra_app *app, const char *name)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	astra__appbackup_rec rec;
	int rc = astra__appbackup_load_rec(vault->r, name, &rec, NULL);
	if (rc == ASTRA_ECORRUPT)
		return astra__err_prefix(rc,
		        "backup %s cannot be told to be app \"%s\"'s (only "
		        "astra_backup_delete removes it)",
		        name, app->name);
	if (rc)
		return rc;
	rc = check_owner(&rec, name, app);
	astra__appbackup_rec_free(&rec);
	return rc ? rc : astra_backup_delete(vault, name);
}

astra_status astra_backup_delete(astra_vault *vault, const char *name)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(name);
	astra__appbackup_rec rec;
	int rc = astra__appbackup_load_rec(vault->r, name, &rec, NULL);
	if (rc == ASTRA_ECORRUPT) {
		/* a damaged record would otherwise stay for ever (and stop
		 * gc): its volumes are found by their tags instead */
		astra__log_warn("%s; deleting it and the data snapshots "
		                "tagged backup=%s",
		        astra_error_last()->message, name);
		astra_error_clear();
		rc = astra__appbackup_delete(vault->r, name);
		if (!rc)
			rc = forget_tagged(vault, name);
		return rc;
	}
	if (rc)
		return rc;
	/* the record first: a half-deleted backup is then invisible, and its
	 * volume data is reclaimed by gc either way */
	rc = astra__appbackup_delete(vault->r, name);
	for (size_t i = 0; !rc && i < rec.nvolumes; i++) {
		const char *id = rec.volumes[i].data;
		if (astra_vault_forget(vault, id) != 0 &&
		        astra_error_last()->code != ASTRA_ENOTFOUND)
			rc = astra_error_last()->code;
	}
	astra__appbackup_rec_free(&rec);
	return rc;
}
