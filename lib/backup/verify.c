/*
 * Verification of one app backup: every object it needs is read and
 * checked (its record, its manifests blob, each volume's data snapshot with
 * its trees and the packs of its blobs), nothing else of the vault; on
 * request a test restore into scratch namespaces that are removed
 * afterwards (docs/backups.md, "Verifying a backup").
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "astra/backup.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/options.h"
#include "crypto/crypto.h"
#include "hook/hook.h"
#include "kube/cluster_internal.h"
#include "kube/kube.h"
#include "repo/catalog.h"
#include "repo/data.h"
#include "repo/vault_internal.h"

astra_status astra_backup_verify_options_init(
        astra_backup_verify_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_backup_verify_options, BACKUP_VERIFY, o,
	        version, sizeof(defaults));
}

#define VERIFY_TIMEOUT_S 300u
#define VERIFY_HOOK_WAIT_MS 120000u
#define VERIFY_CLEANUP_S 120u
#define VERIFY_LABEL "backups.astra.dev/verify"

static int dns_label(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		            (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* The options' problems, before anything is read. */
static int verify_check_opts(const astra_backup_verify_options *o)
{
	int rc;
	if (!o)
		return 0;
	if ((rc = astra__check_version(o->version,
	             ASTRA_BACKUP_VERIFY_OPTIONS_VERSION,
	             "astra_backup_verify_options")))
		return rc;
	if (o->flags & ~ASTRA_BACKUP_VERIFY_F_TEST_RESTORE)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "backup verify options: unknown flags 0x%x",
		        o->flags & ~ASTRA_BACKUP_VERIFY_F_TEST_RESTORE);
	if (!(o->flags & ASTRA_BACKUP_VERIFY_F_TEST_RESTORE))
		return 0;
	if (!o->cluster)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "backup verify options: a test restore needs a target "
		        "cluster");
	if (o->namespace_prefix && !dns_label(o->namespace_prefix, 50))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "backup verify options: namespace prefix \"%.80s\" is "
		        "not a DNS label of at most 50 characters (lower-case "
		        "letters, digits and '-')",
		        o->namespace_prefix);
	return 0;
}

/* ---- test restore ---- */

typedef struct {
	astra_vault *vault;
	const char *name;
	const astra_backup_verify_options *o;
	astra__kube *k;
	astra__op *op;
	const astra__json *man;
	const astra__json *hookdefs;
	char **src, **dst, **maps; /* namespaces, and "SRC=DST" */
	size_t nns;
	int *created; /* dst[i] was created by this run */
	astra__json *tr; /* the report's "testRestore" */
} trun;

static int has_str(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* The backup's namespaces (of its objects, and its Namespace objects),
 * each with a scratch name "<prefix>-<8 random hex digits>". */
static int tr_namespaces(trun *t)
{
	size_t n = astra__json_size(t->man);
	t->src = astra__calloc(n + 1, sizeof(char *));
	t->dst = astra__calloc(n + 1, sizeof(char *));
	t->maps = astra__calloc(n + 1, sizeof(char *));
	t->created = astra__calloc(n + 1, sizeof(int));
	if (!t->src || !t->dst || !t->maps || !t->created)
		return astra__err_oom();
	const char *prefix = t->o->namespace_prefix ? t->o->namespace_prefix
	                                            : "astra-verify";
	astra__json *nsmap = astra__json_new_object();
	if (!nsmap)
		return astra__err_oom();
	astra__json_set(t->tr, "namespaces", nsmap);
	for (size_t i = 0; i < n; i++) {
		const astra__json *m = astra__json_at(t->man, i);
		const astra__json *md = astra__json_get(m, "metadata");
		const char *kind = astra__json_str(m, "kind");
		const char *ns = astra__json_str(md, "namespace");
		if (kind && !strcmp(kind, "Namespace"))
			ns = astra__json_str(md, "name");
		if (!ns || has_str(t->src, t->nns, ns))
			continue;
		uint8_t rnd[4];
		int rc = astra__random(rnd, sizeof(rnd));
		if (rc)
			return rc;
		size_t k = t->nns;
		t->src[k] = astra__strdup(ns);
		t->dst[k] = astra__aprintf("%s-%02x%02x%02x%02x", prefix,
		        rnd[0], rnd[1], rnd[2], rnd[3]);
		t->maps[k] = t->dst[k] ? astra__aprintf("%s=%s", ns, t->dst[k])
		                       : NULL;
		t->nns++; /* freed by the caller, also when incomplete */
		if (!t->src[k] || !t->dst[k] || !t->maps[k])
			return astra__err_oom();
		astra__json_set_str(nsmap, ns, t->dst[k]);
	}
	if (!t->nns)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "backup %s has no namespaced objects to restore",
		        t->name);
	return 0;
}

/* Creates the scratch namespaces, labelled with the backup; a name that
 * exists already is an error (it is never deleted by this run). */
static int tr_create_namespaces(trun *t)
{
	astra__kube_resource nr;
	int rc = astra__kube_find_kind(t->k, "", "v1", "Namespace", &nr);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < t->nns; i++) {
		char *text = astra__aprintf(
		        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
		        "\"metadata\":{\"name\":\"%s\",\"labels\":{"
		        "\"" VERIFY_LABEL "\":\"%s\"}}}",
		        t->dst[i], t->name);
		astra__json *obj = NULL;
		rc = text ? astra__json_parse(&obj, text, strlen(text), "ns")
		          : astra__err_oom();
		if (!rc)
			rc = astra__kube_create(
			        t->k, &nr, NULL, obj, NULL, NULL);
		if (!rc)
			t->created[i] = 1;
		else
			astra__err_prefix(
			        rc, "scratch namespace %s", t->dst[i]);
		astra__json_free(obj);
		free(text);
	}
	astra__kube_resource_clear(&nr);
	return rc;
}

/* Deletes the scratch namespaces this run created and waits until they
 * are gone (at most VERIFY_CLEANUP_S). Works after a cancel. Keeps the
 * caller's error; notes the outcome in the report's "cleanup". */
static void tr_cleanup(trun *t)
{
	astra__saved_err e;
	astra__err_save(&e);
	astra__kube_resource nr;
	char msg[600] = "";
	if (astra__kube_find_kind(t->k, "", "v1", "Namespace", &nr) != 0) {
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		goto out;
	}
	for (size_t i = 0; i < t->nns; i++) {
		if (!t->created[i])
			continue;
		if (astra__kube_delete(t->k, &nr, NULL, t->dst[i], NULL) != 0 &&
		        astra_error_last()->code != ASTRA_ENOTFOUND && !msg[0])
			snprintf(msg, sizeof(msg),
			        "cannot delete scratch namespace %s: %s",
			        t->dst[i], astra_error_last()->message);
	}
	uint64_t until = astra__mono_ns() + VERIFY_CLEANUP_S * 1000000000ULL;
	for (size_t i = 0; i < t->nns && !msg[0]; i++) {
		if (!t->created[i])
			continue;
		for (;;) {
			astra__json *ns = NULL;
			int rc = astra__kube_get(
			        t->k, &nr, NULL, t->dst[i], &ns);
			astra__json_free(ns);
			if (rc == ASTRA_ENOTFOUND)
				break;
			if (astra__mono_ns() > until) {
				snprintf(msg, sizeof(msg),
				        "scratch namespace %s still exists "
				        "after %u s",
				        t->dst[i], VERIFY_CLEANUP_S);
				break;
			}
			astra__sleep_ms(500);
		}
	}
	astra__kube_resource_clear(&nr);
out:
	if (msg[0])
		astra__log_warn("backup %s: test restore: %s", t->name, msg);
	astra__json_set_str(t->tr, "cleanup", msg[0] ? msg : "deleted");
	astra__err_restore(&e);
}

static int tr_restore(trun *t)
{
	const astra_backup_verify_options *o = t->o;
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = t->name;
	ro.namespace_map = (const char *const *)t->maps;
	ro.n_namespace_map = t->nns;
	ro.volume_path = o->volume_path;
	ro.volume_path_cb = o->volume_path_cb;
	ro.volume_path_payload = o->volume_path_payload;
	ro.mover = o->mover;
	ro.progress_cb = o->progress_cb;
	ro.payload = o->payload;
	ro.cancel = o->cancel;
	astra_buf rep = ASTRA_BUF_INIT;
	int rc = astra_restore(o->cluster, t->vault, &ro, &rep);
	if (rep.ptr) {
		astra__saved_err e;
		astra__err_save(&e);
		astra__json *j = NULL;
		if (astra__json_parse(
		            &j, rep.ptr, rep.size, "restore report") == 0)
			astra__json_set(t->tr, "restore", j);
		astra__err_restore(&e);
	}
	astra_buf_dispose(&rep);
	if (rc)
		astra__err_prefix(rc, "restore into the scratch namespaces");
	return rc;
}

/* Whether workload `w` (a Deployment, StatefulSet, DaemonSet or
 * ReplicaSet as the server returns it) is ready; *ready and *want say how
 * many of its pods are. */
static int workload_ready(
        const astra__json *w, const char *kind, int64_t *ready, int64_t *want)
{
	const astra__json *st = astra__json_get(w, "status");
	const astra__json *spec = astra__json_get(w, "spec");
	int64_t gen = astra__json_int(
	        astra__json_get(w, "metadata"), "generation", 0);
	int64_t seen = astra__json_int(st, "observedGeneration", 0);
	if (!strcmp(kind, "DaemonSet")) {
		*want = astra__json_int(st, "desiredNumberScheduled", 0);
		*ready = astra__json_int(st, "numberReady", 0);
	} else {
		*want = astra__json_int(spec, "replicas", 1);
		*ready = astra__json_int(st, "readyReplicas", 0);
	}
	return seen >= gen && *ready >= *want;
}

static int is_workload(const char *kind)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet",
		"DaemonSet", "ReplicaSet", NULL };
	for (size_t i = 0; kind && kinds[i]; i++)
		if (!strcmp(kind, kinds[i]))
			return 1;
	return 0;
}

static const char *dst_of(const trun *t, const char *ns)
{
	for (size_t i = 0; ns && i < t->nns; i++)
		if (!strcmp(t->src[i], ns))
			return t->dst[i];
	return ns;
}

/* Waits until every workload the backup restored (not one a controller
 * owns) is ready, at most the timeout; the report's "workloads" says how
 * far each got. ASTRA_ETIMEOUT naming the first one not ready. */
static int tr_wait_ready(trun *t)
{
	unsigned timeout = t->o->timeout_s ? t->o->timeout_s : VERIFY_TIMEOUT_S;
	uint64_t until = astra__mono_ns() + (uint64_t)timeout * 1000000000ULL;
	astra__json *ws = astra__json_new_array();
	if (!ws)
		return astra__err_oom();
	astra__json_set(t->tr, "workloads", ws);
	int rc = 0;
	t->op->p.stage = ASTRA_STAGE_WAITING;
	for (size_t i = 0; !rc && i < astra__json_size(t->man); i++) {
		const astra__json *m = astra__json_at(t->man, i);
		const astra__json *md = astra__json_get(m, "metadata");
		const char *kind = astra__json_str(m, "kind");
		const char *name = astra__json_str(md, "name");
		const char *ns = dst_of(t, astra__json_str(md, "namespace"));
		if (!is_workload(kind) || !name || !ns ||
		        astra__json_size(
		                astra__json_get(md, "ownerReferences")))
			continue;
		astra__kube_resource wr;
		if ((rc = astra__kube_find_object(t->k, m, &wr)))
			break;
		int64_t ready = 0, want = 0;
		int ok = 0;
		for (;;) {
			astra__json *w = NULL;
			rc = astra__kube_get(t->k, &wr, ns, name, &w);
			if (!rc)
				ok = workload_ready(w, kind, &ready, &want);
			astra__json_free(w);
			if (rc || ok)
				break;
			if (astra__mono_ns() > until) {
				rc = astra__err(ASTRA_ETIMEOUT,
				        ASTRA_ERROR_KUBE,
				        "%s %s/%s is not ready after %u s (%lld "
				        "of %lld pods ready)",
				        kind, ns, name, timeout,
				        (long long)ready, (long long)want);
				break;
			}
			if ((rc = astra__op_report(t->op, 0)))
				break;
			astra__sleep_ms(1000);
		}
		astra__kube_resource_clear(&wr);
		astra__json *e = astra__json_new_object();
		if (!e)
			return astra__err_oom();
		astra__json_set_str(e, "kind", kind);
		astra__json_set_str(e, "namespace", ns);
		astra__json_set_str(e, "name", name);
		astra__json_set_bool(e, "ready", ok);
		astra__json_set_int(e, "readyReplicas", ready);
		astra__json_set_int(e, "replicas", want);
		astra__json_push(ws, e);
	}
	return rc;
}

/* Runs the backup's "verify" hooks in the scratch namespaces. */
static int tr_hooks(trun *t)
{
	astra__hook_set hs;
	int rc = astra__hook_from_json(t->hookdefs, &hs);
	if (rc)
		return rc;
	astra__json *stages = astra__json_new_array();
	if (!stages) {
		astra__hook_set_free(&hs);
		return astra__err_oom();
	}
	char what[400];
	snprintf(what, sizeof(what), "verification of backup %s", t->name);
	astra__hook_run_options ro = { 0 };
	ro.namespaces = (const char *const *)t->dst;
	ro.nnamespaces = t->nns;
	ro.op = t->op;
	ro.what = what;
	ro.wait_pods_ms = VERIFY_HOOK_WAIT_MS;
	rc = astra__hook_run_stage(t->k, &hs, "verify", &ro, stages);
	astra__json_set(t->tr, "hooks", stages);
	astra__hook_set_free(&hs);
	return rc;
}

static int test_restore(astra_vault *vault, const char *name,
        const astra_backup_verify_options *o, astra__op *op,
        const astra__json *man, const astra__json *hookdefs, astra__json *rep)
{
	trun t;
	memset(&t, 0, sizeof(t));
	t.vault = vault;
	t.name = name;
	t.o = o;
	t.op = op;
	t.man = man;
	t.hookdefs = hookdefs;
	t.k = astra__cluster_kube(o->cluster);
	if (!(t.tr = astra__json_new_object()))
		return astra__err_oom();
	astra__json_set(rep, "testRestore", t.tr);
	int rc = tr_namespaces(&t);
	if (!rc)
		rc = tr_create_namespaces(&t);
	if (!rc)
		rc = tr_restore(&t);
	if (!rc)
		rc = tr_wait_ready(&t);
	if (!rc)
		rc = tr_hooks(&t);
	astra__json_set_bool(t.tr, "ok", rc == 0);
	if (rc)
		astra__json_set_str(t.tr, "error", astra_error_last()->message);
	tr_cleanup(&t);
	for (size_t i = 0; i < t.nns; i++) {
		free(t.src[i]);
		free(t.dst[i]);
		free(t.maps[i]);
	}
	free(t.src);
	free(t.dst);
	free(t.maps);
	free(t.created);
	if (rc)
		astra__err_prefix(rc, "test restore");
	return rc;
}

/* ---- the whole verification ---- */

/* rep's "problems": the check's damaged objects. */
static void add_problems(astra__json *rep, const astra__json *ck)
{
	astra__json *probs = astra__json_get(rep, "problems");
	const astra__json *d = astra__json_get(ck, "damaged");
	for (size_t i = 0; probs && i < astra__json_size(d); i++)
		astra__json_push(probs, astra__json_dup(astra__json_at(d, i)));
}

astra_status astra_backup_verify(astra_vault *vault, const char *name,
        const astra_backup_verify_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(name);
	int rc = verify_check_opts(o);
	if (rc)
		return rc;
	astra__op op;
	astra__op_init(&op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o ? o->cancel : NULL);
	op.p.stage = ASTRA_STAGE_CHECKING;
	astra__appbackup_rec rec;
	memset(&rec, 0, sizeof(rec));
	astra__json *rep = astra__json_new_object();
	astra__json *ck = NULL, *man = NULL;
	const char **ids = NULL;
	if (!rep)
		return astra__err_oom();
	astra__json_set_str(rep, "backup", name);
	astra__json_set(rep, "problems", astra__json_new_array());
	rc = astra__appbackup_load_rec(vault->r, name, &rec, NULL);
	if (rc == ASTRA_ECORRUPT) {
		/* the record itself is damaged: that is the finding */
		char obj[300];
		snprintf(obj, sizeof(obj), "record appbackups/%s", name);
		astra__json *p = astra__json_new_object();
		astra__json_set_str(p, "object", obj);
		astra__json_set_str(p, "error", astra_error_last()->message);
		astra__json_push(astra__json_get(rep, "problems"), p);
		astra__json_set_bool(rep, "ok", 0);
		goto report;
	}
	if (rc)
		goto done;
	astra__json_set_str(rep, "app", rec.app);
	ids = astra__calloc(rec.nvolumes + 1, sizeof(*ids));
	if (!ids) {
		rc = astra__err_oom();
		goto done;
	}
	for (size_t i = 0; i < rec.nvolumes; i++)
		ids[i] = rec.volumes[i].data;
	astra__id mid;
	if (astra__id_parse(&mid, rec.manifests)) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "backup %s: manifests id \"%.80s\" is not a blob id",
		        name, rec.manifests);
		goto done;
	}
	rc = astra__data_check_some(
	        vault->r, ids, rec.nvolumes, &mid, 1, &op, &ck);
	if (ck) {
		static const char *const keys[] = { "snapshots", "trees",
			"blobs", "packs", "bytes" };
		/* the record, the data snapshot records and the packs */
		astra__json_set_int(rep, "objects",
		        1 + (int64_t)rec.nvolumes +
		                astra__json_int(ck, "packs", 0));
		for (size_t i = 0; i < 5; i++)
			astra__json_set_int(
			        rep, keys[i], astra__json_int(ck, keys[i], 0));
		add_problems(rep, ck);
	}
	astra__json_set_bool(rep, "ok", rc == 0);
	if (rc || !o || !(o->flags & ASTRA_BACKUP_VERIFY_F_TEST_RESTORE))
		goto report;
	astra__json *jrec = NULL;
	rc = astra__appbackup_load(vault->r, name, &jrec, &man);
	astra__json_free(jrec);
	if (rc) {
		astra__json_set_bool(rep, "ok", 0);
		goto report;
	}
	rc = test_restore(vault, name, o, &op, man, rec.hook_definitions, rep);
	astra__json_set_bool(rep, "ok", rc == 0);
report:
	if (report) {
		astra__saved_err e;
		astra__err_save(&e);
		int prc = astra__json_print_buf(report, rep, 1);
		if (rc)
			astra__err_restore(&e);
		else
			rc = prc;
	}
done:
	if (rc && rc != ASTRA_ENOTFOUND)
		astra__err_prefix(rc, "verify backup %s", name);
	free(ids);
	astra__json_free(ck);
	astra__json_free(man);
	astra__json_free(rep);
	astra__appbackup_rec_free(&rec);
	return rc;
}
