/*
 * The runner: claims due slots, takes one snapshot and one backup per
 * vault for all due policies of an app, records the results, and applies
 * retention grandfather-father-son style (docs/policies.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "astra/snapshot.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/options.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "policy/store.h"

astra_status astra_policy_run_options_init(
        astra_policy_run_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_policy_run_options, POLICY_RUN, o,
	        version, offsetof(astra_policy_run_options, vault),
	        sizeof(defaults));
}

/* One policy of the app being run. */
typedef struct {
	astra__json *cm; /* after the claim */
	astra__json *spec;
	astra_policy_options p;
	char ns[64];
	char cmname[160];
	int claimed;
	int ok;
	char error[512];
	const char *snapshot; /* taken for it */
	const char *backup;
} item;

typedef struct {
	const astra_policy_run_options *o;
	astra_cluster *c;
	astra__kube *k;
	int64_t now;
	astra__json *ran, *deleted, *skipped;
	int failed;
	/* vaults opened during this run */
	char *vault_url[16];
	astra_vault *vault[16];
	size_t nvaults;
} runner;

/* A vault opened once per run, under `key` (its URL, or "vaultRef:NAME"). */
static int open_vault(runner *R, const char *key, const char *url,
        const char *password, astra_vault **out)
{
	for (size_t i = 0; i < R->nvaults; i++)
		if (!strcmp(R->vault_url[i], key)) {
			*out = R->vault[i];
			return 0;
		}
	if (R->nvaults == 16)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_POLICY,
		        "more than 16 vaults in one run");
	astra_vault_options vo;
	astra_vault_options_init(&vo, ASTRA_VAULT_OPTIONS_VERSION);
	vo.password = password ? password : R->o->vault_password;
	vo.password_file = password ? NULL : R->o->vault_password_file;
	int rc = astra_vault_open(out, url, &vo);
	if (rc)
		return astra__err_prefix(rc, "vault %s", key);
	R->vault_url[R->nvaults] = astra__strdup(key);
	R->vault[R->nvaults++] = *out;
	return 0;
}

/* What reports and pendingDeletes call a policy's vault. */
static const char *vault_label(
        const astra_policy_options *p, char *buf, size_t n)
{
	if (p->version >= 2 && p->vault_ref && *p->vault_ref) {
		snprintf(buf, n, "vaultRef:%s", p->vault_ref);
		return buf;
	}
	return p->vault;
}

/* A vault defined in the control namespace: ConfigMap astra-vault-NAME
 * with "url" and optionally "passwordSecret" (a Secret there, key
 * "passwordKey" or "password"). */
static int open_ref(runner *R, const char *ref, astra_vault **out)
{
	char key[128];
	snprintf(key, sizeof(key), "vaultRef:%s", ref);
	for (size_t i = 0; i < R->nvaults; i++)
		if (!strcmp(R->vault_url[i], key)) {
			*out = R->vault[i];
			return 0;
		}
	const char *cns = astra_cluster_control_namespace(R->c);
	char cmname[128];
	snprintf(
	        cmname, sizeof(cmname), ASTRA_POLICY_VAULT_CM_PREFIX "%s", ref);
	astra__kube_resource r;
	astra__json *cm = NULL, *sec = NULL;
	astra_buf pw = ASTRA_BUF_INIT;
	int rc = astra__kube_find_kind(R->k, "", "v1", "ConfigMap", &r);
	if (!rc) {
		rc = astra__kube_get(R->k, &r, cns, cmname, &cm);
		astra__kube_resource_clear(&r);
	}
	if (rc == ASTRA_ENOTFOUND)
		rc = astra__err(rc, ASTRA_ERROR_POLICY,
		        "vault \"%s\": no vault definition ConfigMap %s/%s",
		        ref, cns, cmname);
	const astra__json *data = astra__json_get(cm, "data");
	const char *url = astra__json_str(data, "url");
	const char *secname = astra__json_str(data, "passwordSecret");
	const char *seckey = astra__json_str(data, "passwordKey");
	if (!seckey || !*seckey)
		seckey = "password";
	if (!rc && (!url || !*url))
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_POLICY,
		        "vault definition %s/%s has no \"url\"", cns, cmname);
	if (!rc && secname && *secname) {
		rc = astra__kube_find_kind(R->k, "", "v1", "Secret", &r);
		if (!rc) {
			rc = astra__kube_get(R->k, &r, cns, secname, &sec);
			astra__kube_resource_clear(&r);
		}
		if (rc == ASTRA_ENOTFOUND)
			rc = astra__err(rc, ASTRA_ERROR_POLICY,
			        "vault \"%s\": its password Secret %s/%s does "
			        "not exist",
			        ref, cns, secname);
		const char *b64 =
		        rc ? NULL
		           : astra__json_str(
		                     astra__json_get(sec, "data"), seckey);
		if (!rc && !b64)
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_POLICY,
			        "vault \"%s\": Secret %s/%s has no key \"%s\"",
			        ref, cns, secname, seckey);
		if (!rc && astra__base64_decode(&pw, b64, strlen(b64)))
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_POLICY,
			        "vault \"%s\": key \"%s\" of Secret %s/%s is "
			        "not base64",
			        ref, seckey, cns, secname);
		/* as a password file: one trailing line end is not part of
		 * it */
		if (!rc && pw.size && pw.ptr[pw.size - 1] == '\n')
			pw.ptr[--pw.size] = '\0';
		if (!rc && pw.size && pw.ptr[pw.size - 1] == '\r')
			pw.ptr[--pw.size] = '\0';
		if (!rc && (!pw.ptr || !pw.size))
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_POLICY,
			        "vault \"%s\": key \"%s\" of Secret %s/%s is "
			        "empty",
			        ref, seckey, cns, secname);
	}
	if (!rc)
		rc = open_vault(R, key, url, pw.ptr, out);
	if (pw.ptr)
		astra__wipe(pw.ptr, pw.size);
	astra_buf_dispose(&pw);
	if (sec)
		astra__json_free(sec);
	astra__json_free(cm);
	return rc;
}

/* The vault of policy `p` that lives in namespace `ns`, by the rules of
 * docs/security.md: a vault reference is resolved in the control
 * namespace; a URL is followed only for a policy in the control
 * namespace or when it is the vault the runner was given. */
static int policy_vault(runner *R, const char *ns,
        const astra_policy_options *p, astra_vault **out)
{
	*out = NULL;
	if (p->version >= 2 && p->vault_ref && *p->vault_ref)
		return open_ref(R, p->vault_ref, out);
	if (!p->vault || !*p->vault)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_POLICY,
		        "policy %s in namespace %s names no vault", p->name,
		        ns);
	if (astra__cluster_is_control(R->c, ns) ||
	        (R->o->version >= 2 && R->o->vault &&
	                !strcmp(R->o->vault, p->vault)))
		return open_vault(R, p->vault, p->vault, NULL, out);
	return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_POLICY,
	        "policy %s in namespace %s: its vault URL is not used (only "
	        "policies in the control namespace %s, or naming the vault "
	        "the scheduler was given, may name a vault by URL; name a "
	        "vault defined in the control namespace instead)",
	        p->name, ns, astra_cluster_control_namespace(R->c));
}

static void save_error(char *dst, size_t n)
{
	snprintf(dst, n, "%s", astra_error_last()->message);
}

/* ---- status transformations ---- */

/* *field = a copy of `v` (NULL when `v` is), the old value freed. */
static int set_str(char **field, const char *v)
{
	char *c = v ? astra__strdup(v) : NULL;
	if (v && !c)
		return astra__err_oom();
	free(*field);
	*field = c;
	return 0;
}

typedef struct {
	const item *it;
	int64_t now;
} result_args;

static int apply_result(astra__policy_status *st, void *payload)
{
	const result_args *a = payload;
	int rc = set_str(&st->last_result, a->it->ok ? "succeeded" : "failed");
	if (!rc)
		rc = set_str(&st->last_error, a->it->ok ? NULL : a->it->error);
	st->last_finished = a->now;
	st->has |= ASTRA__POLICY_ST_LAST_FINISHED;
	/* what was taken counts, also when another part of the run failed
	 * (a snapshot whose backup failed is kept and trimmed like others) */
	if (!rc && a->it->snapshot) {
		st->has |= ASTRA__POLICY_ST_SNAPSHOTS;
		rc = astra__policy_names_push(
		        &st->snapshots, &st->nsnapshots, a->it->snapshot);
	}
	if (!rc && a->it->backup) {
		st->has |= ASTRA__POLICY_ST_BACKUPS;
		rc = astra__policy_names_push(
		        &st->backups, &st->nbackups, a->it->backup);
	}
	return rc;
}

/* ---- the claim ---- */

static int claim(runner *R, item *it, int64_t slot)
{
	astra__policy_status st;
	astra__json *j = NULL;
	int rc = astra__policy_cm_status(it->cm, &st);
	if (rc)
		return rc;
	astra__sched s;
	int64_t next = 0;
	if (!astra__sched_compile(&it->p, &s)) {
		astra__sched_next(&s, R->now, &next);
		astra__sched_clear(&s);
	}
	st.last_run = R->now;
	st.last_slot = slot;
	st.next_run = next;
	st.has |= ASTRA__POLICY_ST_LAST_RUN | ASTRA__POLICY_ST_LAST_SLOT |
	          ASTRA__POLICY_ST_NEXT_RUN;
	if (!(rc = set_str(&st.last_result, "running")) &&
	        !(rc = astra__policy_status_encode(&st, &j)))
		rc = astra__policy_cm_put(it->cm, ASTRA_POLICY_KEY_STATUS, j);
	astra__json_free(j);
	astra__policy_status_free(&st);
	astra__json *updated = NULL;
	if (!rc)
		rc = astra__policy_cm_update(R->k, it->cm, &updated);
	if (!rc) {
		astra__json_free(it->cm);
		it->cm = updated;
		it->claimed = 1;
	}
	return rc;
}

/* ---- retention ---- */

typedef struct {
	const char *kind; /* "snapshot" or "backup" */
	const char *name;
	const char *vault;
} obj_ref;

static int listed_in_kept(
        char *const *a, size_t n, unsigned keep, const char *name)
{
	for (size_t i = n > keep ? n - keep : 0; i < n; i++)
		if (!strcmp(a[i], name))
			return 1;
	return 0;
}

typedef struct {
	astra__json *spec;
	astra__policy_status st;
	astra_policy_options p;
	char ns[64], cmname[160];
} pol;

/* 1 when some policy of the app keeps the object */
static int kept(const pol *ps, size_t n, const obj_ref *o)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(o->kind, "snapshot") &&
		        listed_in_kept(ps[i].st.snapshots, ps[i].st.nsnapshots,
		                ps[i].p.snapshot_retention, o->name))
			return 1;
		char lb[80];
		const char *pv = vault_label(&ps[i].p, lb, sizeof(lb));
		if (!strcmp(o->kind, "backup") && pv && o->vault &&
		        !strcmp(pv, o->vault) &&
		        listed_in_kept(ps[i].st.backups, ps[i].st.nbackups,
		                ps[i].p.backup_retention, o->name))
			return 1;
	}
	return 0;
}

/* 0 deleted (or gone), 1 to retry later, negative: failed (also retried).
 * A backup is deleted from the vault of policy `p` (never from one named
 * in its status), and only when its record belongs to `owner`. */
static int delete_obj(runner *R, const char *app, astra_app *owner,
        const pol *p, const obj_ref *o)
{
	int rc, reached = 0;
	if (!strcmp(o->kind, "snapshot")) {
		rc = astra_snapshot_delete(R->c, app, o->name);
		reached = 1;
	} else if (!owner) {
		rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_POLICY,
		        "app \"%s\" is not defined: its backups are kept", app);
	} else {
		astra_vault *v = NULL;
		rc = policy_vault(R, p->ns, &p->p, &v);
		if (!rc) {
			rc = astra_backup_delete_app(v, owner, o->name);
			reached = 1;
		}
	}
	if (reached && rc == ASTRA_EAUTH) {
		/* not this app's backup: it never will be */
		astra__log_warn("policy %s of app %s: %s; dropped from the "
		                "policy's lists",
		        p->p.name, app, astra_error_last()->message);
		return 0;
	}
	if (rc == 0 || (reached && rc == ASTRA_ENOTFOUND)) {
		astra__json *d = astra__json_new_object();
		if (d) {
			astra__json_set_str(d, "app", app);
			astra__json_set_str(d, "kind", o->kind);
			astra__json_set_str(d, "name", o->name);
			astra__json_push(R->deleted, d);
		}
		return 0;
	}
	astra__json *s = astra__json_new_object();
	if (s) {
		astra__json_set_str(s, "app", app);
		astra__json_set_str(s, "kind", o->kind);
		astra__json_set_str(s, "name", o->name);
		astra__json_set_str(s, "reason", astra_error_last()->message);
		astra__json_push(R->skipped, s);
	}
	if (reached && (rc == ASTRA_EPOLICY || rc == ASTRA_EBUSY)) {
		astra__log_info("policy: %s %s is locked; retrying later",
		        o->kind, o->name);
		return 1;
	}
	astra__log_warn("policy: cannot delete %s %s: %s", o->kind, o->name,
	        astra_error_last()->message);
	return rc;
}

typedef struct {
	astra__policy_ref *drop; /* names removed from the lists */
	size_t ndrop;
	astra__policy_ref *pending; /* the new pendingDeletes */
	size_t npending;
} trim_args;

static int has_name(const astra__policy_ref *arr, size_t n, const char *key,
        const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(arr[i].name, name) && !strcmp(arr[i].kind, key))
			return 1;
	return 0;
}

/* Keeps the names of list *arr (of *n) that `t` does not drop. */
static void trim_names(
        const trim_args *t, const char *kind, char **arr, size_t *n)
{
	size_t m = 0;
	for (size_t i = 0; i < *n; i++) {
		if (has_name(t->drop, t->ndrop, kind, arr[i]))
			free(arr[i]);
		else
			arr[m++] = arr[i];
	}
	*n = m;
}

static int apply_trim(astra__policy_status *st, void *payload)
{
	const trim_args *t = payload;
	trim_names(t, "snapshot", st->snapshots, &st->nsnapshots);
	trim_names(t, "backup", st->backups, &st->nbackups);
	st->has |= ASTRA__POLICY_ST_SNAPSHOTS | ASTRA__POLICY_ST_BACKUPS |
	           ASTRA__POLICY_ST_PENDING;
	astra__policy_refs_free(st->pending, st->npending);
	st->pending = NULL;
	st->npending = 0;
	int rc = 0;
	for (size_t i = 0; !rc && i < t->npending; i++)
		rc = astra__policy_refs_push(&st->pending, &st->npending,
		        t->pending[i].kind, t->pending[i].name,
		        t->pending[i].vault);
	return rc;
}

static void add_ref(astra__policy_ref **arr, size_t *n, const obj_ref *o)
{
	astra__policy_refs_push(arr, n, o->kind, o->name, o->vault);
}

static int retention(runner *R, const char *app)
{
	astra__json *items = NULL;
	int rc = astra__policy_list_scoped(R->c, app, &items);
	if (rc)
		return rc;
	astra_app *owner = NULL;
	if (astra_app_get(&owner, R->c, app)) {
		astra__log_warn(
		        "policy: app %s: %s", app, astra_error_last()->message);
		owner = NULL;
	}
	size_t n = astra__json_size(items);
	pol *ps = astra__calloc(n + 1, sizeof(*ps));
	if (!ps) {
		astra__json_free(items);
		return ASTRA_ENOMEM;
	}
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		const astra__json *cm = astra__json_at(items, i);
		pol *p = &ps[np];
		p->spec = astra__policy_cm_spec(cm);
		if (!p->spec || astra__policy_from_json(p->spec, &p->p) ||
		        astra__policy_cm_status(cm, &p->st)) {
			astra__json_free(p->spec);
			continue;
		}
		const astra__json *md = astra__json_get(cm, "metadata");
		snprintf(p->ns, sizeof(p->ns), "%s",
		        astra__json_str(md, "namespace"));
		snprintf(p->cmname, sizeof(p->cmname), "%s",
		        astra__json_str(md, "name"));
		np++;
	}
	for (size_t i = 0; i < np; i++) {
		pol *p = &ps[i];
		trim_args t = { NULL, 0, NULL, 0 };
		int changed = 0;
		for (int k = 0; k < 2; k++) {
			unsigned keep = k ? p->p.backup_retention
			                  : p->p.snapshot_retention;
			char **a = k ? p->st.backups : p->st.snapshots;
			size_t cnt = k ? p->st.nbackups : p->st.nsnapshots;
			for (size_t j = 0; cnt > keep && j < cnt - keep; j++) {
				char lb[80];
				obj_ref o = { k ? "backup" : "snapshot", a[j],
					k ? vault_label(&p->p, lb, sizeof(lb))
					  : NULL };
				add_ref(&t.drop, &t.ndrop, &o);
				changed = 1;
				if (kept(ps, np, &o))
					continue; /* another policy keeps it */
				if (delete_obj(R, app, owner, p, &o) != 0)
					add_ref(&t.pending, &t.npending, &o);
			}
		}
		for (size_t j = 0; j < p->st.npending; j++) {
			const astra__policy_ref *e = &p->st.pending[j];
			/* the status is writable by the namespace's owner: a
			 * pending backup is looked for in the policy's own
			 * vault, whatever vault the entry names */
			char lb[80];
			obj_ref o = { e->kind, e->name,
				strcmp(e->kind, "backup")
				        ? NULL
				        : vault_label(&p->p, lb, sizeof(lb)) };
			changed = 1;
			if (strcmp(e->kind, "backup") &&
			        strcmp(e->kind, "snapshot"))
				continue;
			if (!strcmp(e->kind, "backup") && !o.vault)
				continue;
			if (kept(ps, np, &o))
				continue;
			if (delete_obj(R, app, owner, p, &o) != 0)
				add_ref(&t.pending, &t.npending, &o);
		}
		if (changed) {
			int urc = astra__policy_status_update(
			        R->k, p->ns, p->cmname, apply_trim, &t);
			if (urc)
				astra__log_warn("policy %s: cannot record "
				                "retention: %s",
				        p->p.name, astra_error_last()->message);
			else {
				/* later policies see this one's new lists */
				apply_trim(&p->st, &t);
			}
		}
		astra__policy_refs_free(t.drop, t.ndrop);
		astra__policy_refs_free(t.pending, t.npending);
	}
	for (size_t i = 0; i < np; i++) {
		astra__json_free(ps[i].spec);
		astra__policy_status_free(&ps[i].st);
	}
	free(ps);
	astra_app_free(owner);
	astra__json_free(items);
	return rc;
}

/* ---- one app ---- */

static void run_app(runner *R, const char *app, item *its, size_t n)
{
	int need_snap = 0;
	for (size_t i = 0; i < n; i++)
		if (its[i].claimed && its[i].p.snapshot_retention)
			need_snap = 1;
	char name[128];
	astra__cal_fields f;
	astra__cal_split(R->now, &f);
	snprintf(name, sizeof(name), "%s-%04d%02d%02d%02d%02d%02d", app, f.year,
	        f.month, f.day, f.hour, f.minute, f.second);
	astra__json *rep = astra__json_new_object();
	astra__json *pols = astra__json_new_array();
	astra__json *bks = astra__json_new_array();
	if (!rep || !pols || !bks) {
		astra__json_free(rep);
		astra__json_free(pols);
		astra__json_free(bks);
		return;
	}
	astra__json_set_str(rep, "app", app);
	for (size_t i = 0; i < n; i++)
		if (its[i].claimed)
			astra__json_push(
			        pols, astra__json_new_string(its[i].p.name));
	astra__json_set(rep, "policies", pols);

	astra_app *a = NULL;
	char err[512] = "";
	int rc = astra_app_get(&a, R->c, app);
	if (!rc && need_snap) {
		astra_snapshot_options so;
		astra_snapshot_options_init(
		        &so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
		so.name = name;
		so.cancel = R->o->cancel;
		rc = astra_snapshot_create(a, &so, NULL);
		if (!rc)
			astra__json_set_str(rep, "snapshot", name);
	}
	if (rc)
		save_error(err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		item *it = &its[i];
		if (!it->claimed)
			continue;
		it->ok = !rc;
		if (rc)
			snprintf(it->error, sizeof(it->error), "%s", err);
		else if (it->p.snapshot_retention)
			it->snapshot = name;
	}
	/* one backup per vault */
	for (size_t i = 0; !rc && i < n; i++) {
		item *it = &its[i];
		if (!it->claimed || !it->p.backup_retention)
			continue;
		int done = 0;
		char lbi[80], lbj[80];
		const char *vi = vault_label(&it->p, lbi, sizeof(lbi));
		for (size_t j = 0; j < i; j++)
			if (its[j].claimed && its[j].p.backup_retention && vi &&
			        !strcmp(vault_label(
			                        &its[j].p, lbj, sizeof(lbj)),
			                vi)) {
				it->ok = its[j].ok;
				it->backup = its[j].backup;
				memcpy(it->error, its[j].error,
				        sizeof(it->error));
				done = 1;
			}
		if (done)
			continue;
		astra_vault *v = NULL;
		int brc = policy_vault(R, it->ns, &it->p, &v);
		if (!brc) {
			astra_backup_options bo;
			astra_backup_options_init(
			        &bo, ASTRA_BACKUP_OPTIONS_VERSION);
			bo.name = name;
			bo.snapshot = need_snap ? name : NULL;
			bo.volume_path = R->o->volume_path;
			bo.volume_path_cb = R->o->volume_path_cb;
			bo.volume_path_payload = R->o->volume_path_payload;
			bo.cancel = R->o->cancel;
			brc = astra_backup_create(a, v, &bo, NULL);
		}
		astra__json *b = astra__json_new_object();
		if (b) {
			astra__json_set_str(b, "vault", vi);
			astra__json_set_str(b, "name", name);
			astra__json_set_str(
			        b, "result", brc ? "failed" : "succeeded");
			if (brc)
				astra__json_set_str(b, "error",
				        astra_error_last()->message);
			astra__json_push(bks, b);
		}
		it->ok = !brc;
		if (brc)
			save_error(it->error, sizeof(it->error));
		else
			it->backup = name;
	}
	astra__json_set(rep, "backups", bks);
	int all_ok = 1;
	for (size_t i = 0; i < n; i++) {
		item *it = &its[i];
		if (!it->claimed)
			continue;
		if (!it->ok) {
			all_ok = 0;
			if (!err[0])
				snprintf(err, sizeof(err), "%s", it->error);
			astra__log_warn("policy %s of app %s failed: %s",
			        it->p.name, app, it->error);
		}
		result_args ra = { it, astra__wall_ns() / 1000000000 };
		if (astra__policy_status_update(
		            R->k, it->ns, it->cmname, apply_result, &ra))
			astra__log_warn("policy %s: cannot record the result: "
			                "%s",
			        it->p.name, astra_error_last()->message);
	}
	astra__json_set_str(rep, "result", all_ok ? "succeeded" : "failed");
	if (!all_ok) {
		astra__json_set_str(rep, "error", err);
		R->failed++;
	}
	astra__json_push(R->ran, rep);
	astra_app_free(a);
	if (retention(R, app))
		astra__log_warn("policy: retention of app %s: %s", app,
		        astra_error_last()->message);
}

astra_status astra_policy_run_due(
        astra_cluster *c, const astra_policy_run_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(o->version,
	        ASTRA_POLICY_RUN_OPTIONS_VERSION, "astra_policy_run_options");
	if (rc)
		return rc;
	runner R = { 0 };
	R.o = o;
	R.c = c;
	R.k = astra__cluster_kube(c);
	R.now = o->now ? o->now : astra__wall_ns() / 1000000000;
	R.ran = astra__json_new_array();
	R.deleted = astra__json_new_array();
	R.skipped = astra__json_new_array();
	astra__json *items = NULL;
	item *its = NULL;
	size_t n = 0;
	if (!R.ran || !R.deleted || !R.skipped) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	rc = astra__policy_list_scoped(c, o->app, &items);
	if (rc)
		goto done;
	n = astra__json_size(items);
	its = astra__calloc(n + 1, sizeof(*its));
	if (!its) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		item *it = &its[i];
		it->cm = astra__json_dup(astra__json_at(items, i));
		it->spec = it->cm ? astra__policy_cm_spec(it->cm) : NULL;
		const astra__json *md = astra__json_get(it->cm, "metadata");
		snprintf(it->ns, sizeof(it->ns), "%s",
		        astra__json_str(md, "namespace"));
		snprintf(it->cmname, sizeof(it->cmname), "%s",
		        astra__json_str(md, "name"));
		if (!it->spec || astra__policy_from_json(it->spec, &it->p)) {
			astra__log_warn("policy %s/%s: ignored: %s", it->ns,
			        it->cmname, astra_error_last()->message);
			it->spec = (astra__json_free(it->spec), NULL);
			continue;
		}
		astra__policy_status st;
		if (astra__policy_cm_status(it->cm, &st)) {
			astra__log_warn("policy %s/%s: ignored: %s", it->ns,
			        it->cmname, astra_error_last()->message);
			continue;
		}
		int64_t base =
		        st.has & ASTRA__POLICY_ST_LAST_RUN
		                ? st.last_run
		                : astra__json_int(it->spec, "created", R.now);
		astra__policy_status_free(&st);
		int64_t slot = 0;
		astra__sched s;
		int due = 0;
		if (!astra__sched_compile(&it->p, &s)) {
			due = R.now > base &&
			      astra__sched_latest(&s, base, R.now, &slot) == 1;
			astra__sched_clear(&s);
		}
		if (!due)
			continue;
		int crc = claim(&R, it, slot);
		if (crc == ASTRA_ECONFLICT)
			astra__log_info("policy %s: claimed by another runner",
			        it->cmname);
		else if (crc)
			astra__log_warn("policy %s: cannot claim: %s",
			        it->cmname, astra_error_last()->message);
	}
	/* group the claimed policies by app */
	for (size_t i = 0; i < n; i++) {
		if (!its[i].claimed || its[i].ok == -1)
			continue;
		const char *app = astra__policy_cm_app(its[i].cm);
		if (!app)
			continue;
		size_t cnt = 0;
		item *grp = astra__calloc(n, sizeof(*grp));
		if (!grp) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		for (size_t j = i; j < n; j++) {
			const char *aj =
			        its[j].claimed ? astra__policy_cm_app(its[j].cm)
			                       : NULL;
			if (aj && !strcmp(aj, app) && its[j].ok != -1) {
				grp[cnt++] = its[j];
				its[j].ok = -1; /* grouped */
			}
		}
		run_app(&R, app, grp, cnt);
		free(grp);
		if (o->cancel && astra_cancel_requested(o->cancel))
			break;
	}
	if (report) {
		astra__json *r = astra__json_new_object();
		char ts[32];
		astra__fmt_utc(ts, R.now);
		if (r) {
			astra__json_set_str(r, "now", ts);
			astra__json_set(r, "ran", R.ran);
			astra__json_set(r, "deleted", R.deleted);
			astra__json_set(r, "skipped", R.skipped);
			R.ran = R.deleted = R.skipped = NULL;
			astra__json_set_int(r, "failed", R.failed);
			rc = astra__json_print_buf(report, r, 1);
			astra__json_free(r);
		} else
			rc = ASTRA_ENOMEM;
	}
	if (!rc && R.failed)
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_POLICY,
		        "%d policy run(s) failed", R.failed);
done:
	for (size_t i = 0; its && i < n; i++) {
		astra__json_free(its[i].cm);
		astra__json_free(its[i].spec);
	}
	free(its);
	astra__json_free(items);
	astra__json_free(R.ran);
	astra__json_free(R.deleted);
	astra__json_free(R.skipped);
	for (size_t i = 0; i < R.nvaults; i++) {
		astra_vault_free(R.vault[i]);
		free(R.vault_url[i]);
	}
	return rc;
}
