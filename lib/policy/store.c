/*
 * Policy records in the cluster: one ConfigMap per policy beside the app
 * definition (docs/policies.md), the spec in "policy.json" and the
 * runner's status in "status.json". Writes carry the resourceVersion they
 * read, so concurrent writers see ASTRA_ECONFLICT instead of losing data.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "fmt/jsondec.h"
#include "kube/cluster_internal.h"
#include "policy/store.h"

int astra__policy_cm_resource(astra__kube *k, astra__kube_resource *r)
{
	return astra__kube_find_kind(k, "", "v1", "ConfigMap", r);
}

void astra__policy_cm_name(
        char *out, size_t n, const char *app, const char *name)
{
	snprintf(out, n, ASTRA_POLICY_CM_PREFIX "%s.%s", app, name);
}

int astra__policy_list_cms(astra__kube *k, const char *app, astra__json **items)
{
	astra__kube_resource r;
	int rc = astra__policy_cm_resource(k, &r);
	if (rc)
		return rc;
	char sel[256];
	if (app)
		snprintf(sel, sizeof(sel),
		        ASTRA_POLICY_LABEL "=true," ASTRA_POLICY_LABEL_APP
		                           "=%s",
		        app);
	else
		snprintf(sel, sizeof(sel), ASTRA_POLICY_LABEL "=true");
	astra__kube_list_options lo = { 0 };
	lo.label_selector = sel;
	rc = astra__kube_list_all(k, &r, NULL, &lo, items);
	astra__kube_resource_clear(&r);
	return rc;
}

/* The rule of docs/security.md: a policy counts only beside its app (in
 * the home namespace of an app whose definition is honoured). */
static int beside_app(const astra__app_set *apps, const astra__json *cm)
{
	const astra__json *md = astra__json_get(cm, "metadata");
	const char *ns = astra__json_str(md, "namespace");
	const char *name = astra__json_str(md, "name");
	const char *app = astra__policy_cm_app(cm);
	for (size_t i = 0; app && ns && i < apps->n; i++) {
		if (strcmp(apps->apps[i]->name, app))
			continue;
		if (!strcmp(apps->apps[i]->home, ns))
			return 1;
		astra__log_warn("ignoring policy %s/%s: its app \"%s\" is "
		                "defined in namespace %s (a policy counts "
		                "only in its app's namespace)",
		        ns, name ? name : "", app, apps->apps[i]->home);
		return 0;
	}
	astra__log_warn("ignoring policy %s/%s: app \"%s\" is not defined "
	                "(or its definition is ignored; see astractl app "
	                "list)",
	        ns ? ns : "", name ? name : "", app ? app : "");
	return 0;
}

int astra__policy_list_scoped(
        astra_cluster *c, const char *app, astra__json **items)
{
	*items = NULL;
	astra__json *all = NULL;
	astra__app_set apps;
	int rc = astra__policy_list_cms(astra__cluster_kube(c), app, &all);
	if (rc)
		return rc;
	if ((rc = astra__app_load_all(c, &apps))) {
		astra__json_free(all);
		return rc;
	}
	astra__json *keep = astra__json_new_array();
	for (size_t i = 0; keep && !rc && i < astra__json_size(all); i++) {
		const astra__json *cm = astra__json_at(all, i);
		if (!beside_app(&apps, cm))
			continue;
		astra__json *d = astra__json_dup(cm);
		rc = d ? astra__json_push(keep, d) : ASTRA_ENOMEM;
	}
	if (!keep)
		rc = ASTRA_ENOMEM;
	astra__app_set_free(&apps);
	astra__json_free(all);
	if (rc) {
		astra__json_free(keep);
		return rc;
	}
	*items = keep;
	return 0;
}

static astra__json *parse_key(const astra__json *cm, const char *key)
{
	const char *text = astra__json_str(astra__json_get(cm, "data"), key);
	astra__json *j = NULL;
	if (!text || astra__json_parse(&j, text, strlen(text), key) ||
	        astra__json_type_of(j) != ASTRA_JSON_OBJECT) {
		astra__json_free(j);
		return NULL;
	}
	return j;
}

astra__json *astra__policy_cm_spec(const astra__json *cm)
{
	return parse_key(cm, ASTRA_POLICY_KEY_SPEC);
}

/* ---- the status record ---- */

void astra__policy_refs_free(astra__policy_ref *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(arr[i].kind);
		free(arr[i].name);
		free(arr[i].vault);
	}
	free(arr);
}

static void names_free(char **arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

void astra__policy_status_free(astra__policy_status *st)
{
	free(st->last_result);
	free(st->last_error);
	names_free(st->snapshots, st->nsnapshots);
	names_free(st->backups, st->nbackups);
	astra__policy_refs_free(st->pending, st->npending);
	memset(st, 0, sizeof(*st));
}

int astra__policy_names_push(char ***arr, size_t *n, const char *v)
{
	char **a = astra__reallocarray(*arr, *n + 1, sizeof(**arr));
	if (!a)
		return astra__err_oom();
	*arr = a;
	if (!(a[*n] = astra__strdup(v)))
		return astra__err_oom();
	(*n)++;
	return 0;
}

int astra__policy_refs_push(astra__policy_ref **arr, size_t *n,
        const char *kind, const char *name, const char *vault)
{
	astra__policy_ref *a = astra__reallocarray(*arr, *n + 1, sizeof(**arr));
	if (!a)
		return astra__err_oom();
	*arr = a;
	astra__policy_ref *r = &a[*n];
	memset(r, 0, sizeof(*r));
	r->kind = astra__strdup(kind);
	r->name = astra__strdup(name);
	r->vault = vault ? astra__strdup(vault) : NULL;
	(*n)++; /* counted even when incomplete: freed with the rest */
	if (!r->kind || !r->name || (vault && !r->vault))
		return astra__err_oom();
	return 0;
}

/* Sets integer member `key` when bit `bit` of st->has is set. */
static int put_int(astra__json *j, const astra__policy_status *st, unsigned bit,
        const char *key, int64_t v)
{
	return (st->has & bit) ? astra__json_set_int(j, key, v) : 0;
}

/* Sets array member `key` of names when bit `bit` of st->has is set. */
static int put_names(astra__json *j, const astra__policy_status *st,
        unsigned bit, const char *key, char *const *v, size_t n)
{
	if (!(st->has & bit))
		return 0;
	astra__json *a = astra__json_new_array();
	int rc = a ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		rc = astra__json_push(a, astra__json_new_string(v[i]));
	if (rc) {
		astra__json_free(a);
		return rc;
	}
	return astra__json_set(j, key, a);
}

/* Sets "pendingDeletes" when present. */
static int put_pending(astra__json *j, const astra__policy_status *st)
{
	if (!(st->has & ASTRA__POLICY_ST_PENDING))
		return 0;
	astra__json *a = astra__json_new_array();
	int rc = a ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < st->npending; i++) {
		const astra__policy_ref *r = &st->pending[i];
		astra__json *e = astra__json_new_object();
		if (!(rc = e ? 0 : ASTRA_ENOMEM) &&
		        !(rc = astra__jenc_str(e, "kind", r->kind)) &&
		        !(rc = astra__jenc_str(e, "name", r->name)))
			rc = astra__jenc_str(e, "vault", r->vault);
		if (!rc)
			rc = astra__json_push(a, e);
		else
			astra__json_free(e);
	}
	if (rc) {
		astra__json_free(a);
		return rc;
	}
	return astra__json_set(j, "pendingDeletes", a);
}

int astra__policy_status_encode(
        const astra__policy_status *st, astra__json **out)
{
	astra__json *j = astra__json_new_object();
	int rc = j ? 0 : ASTRA_ENOMEM;
	if (!rc &&
	        !(rc = put_int(j, st, ASTRA__POLICY_ST_LAST_RUN, "lastRun",
	                  st->last_run)) &&
	        !(rc = put_int(j, st, ASTRA__POLICY_ST_LAST_SLOT, "lastSlot",
	                  st->last_slot)) &&
	        !(rc = put_int(j, st, ASTRA__POLICY_ST_NEXT_RUN, "nextRun",
	                  st->next_run)) &&
	        !(rc = astra__jenc_str(j, "lastResult", st->last_result)) &&
	        !(rc = astra__jenc_str(j, "lastError", st->last_error)) &&
	        !(rc = put_int(j, st, ASTRA__POLICY_ST_LAST_FINISHED,
	                  "lastFinished", st->last_finished)) &&
	        !(rc = put_names(j, st, ASTRA__POLICY_ST_SNAPSHOTS, "snapshots",
	                  st->snapshots, st->nsnapshots)) &&
	        !(rc = put_names(j, st, ASTRA__POLICY_ST_BACKUPS, "backups",
	                  st->backups, st->nbackups)))
		rc = put_pending(j, st);
	if (rc) {
		astra__json_free(j);
		j = NULL;
	}
	*out = j;
	return rc;
}

/* Where decoding is, for the errors (fmt/jsondec.h). */
#define DEC(what, prefix)                                                    \
	{                                                                    \
		ASTRA_ERROR_POLICY, "policy", (what), "status field", prefix \
	}

/* Integer member `key` into *out, setting `bit` of st->has when present. */
static int get_int(const astra__jdec *d, const astra__json *j, const char *key,
        astra__policy_status *st, unsigned bit, int64_t *out)
{
	int present = 0;
	int rc = astra__jdec_int(d, j, key, out, &present);
	if (present)
		st->has |= bit;
	return rc;
}

/* Array member `key` of names, setting `bit` of st->has when present. */
static int get_names(const astra__jdec *d, const astra__json *j,
        const char *key, astra__policy_status *st, unsigned bit, char ***arr,
        size_t *n)
{
	const astra__json *a;
	int rc = astra__jdec_member(d, j, key, ASTRA_JSON_ARRAY, 0, &a);
	if (rc || !a)
		return rc;
	st->has |= bit;
	size_t i = 0;
	for (const astra__json *e = astra__json_first(a); e && !rc;
	        e = astra__json_next(e), i++) {
		if (astra__json_type_of(e) != ASTRA_JSON_STRING) {
			char key_i[48];
			snprintf(key_i, sizeof(key_i), "%s[%zu]", key, i);
			return astra__jdec_bad(d, key_i, "is not a string");
		}
		rc = astra__policy_names_push(
		        arr, n, astra__json_string_value(e));
	}
	return rc;
}

/* "pendingDeletes": objects with kind and name (and a vault for backups). */
static int get_pending(
        const astra__jdec *d, const astra__json *j, astra__policy_status *st)
{
	const astra__json *a;
	int rc = astra__jdec_member(
	        d, j, "pendingDeletes", ASTRA_JSON_ARRAY, 0, &a);
	if (rc || !a)
		return rc;
	st->has |= ASTRA__POLICY_ST_PENDING;
	size_t i = 0;
	for (const astra__json *e = astra__json_first(a); e && !rc;
	        e = astra__json_next(e), i++) {
		astra__jdec de = DEC(d->what, "");
		snprintf(
		        de.prefix, sizeof(de.prefix), "pendingDeletes[%zu]", i);
		if (astra__json_type_of(e) != ASTRA_JSON_OBJECT)
			return astra__jdec_bad(
			        d, de.prefix, "is not an object");
		snprintf(de.prefix, sizeof(de.prefix), "pendingDeletes[%zu].",
		        i);
		astra__policy_ref r = { 0 };
		if (!(rc = astra__jdec_str(&de, e, "kind", 1, &r.kind)) &&
		        !(rc = astra__jdec_str(&de, e, "name", 1, &r.name)) &&
		        !(rc = astra__jdec_str(&de, e, "vault", 0, &r.vault)))
			rc = astra__policy_refs_push(&st->pending,
			        &st->npending, r.kind, r.name, r.vault);
		free(r.kind);
		free(r.name);
		free(r.vault);
	}
	return rc;
}

int astra__policy_status_decode(
        const astra__json *j, const char *what, astra__policy_status *st)
{
	astra__jdec d = DEC(what, "");
	memset(st, 0, sizeof(*st));
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_POLICY,
		        "policy %s: the status is not a JSON object", what);
	int rc;
	if ((rc = get_int(&d, j, "lastRun", st, ASTRA__POLICY_ST_LAST_RUN,
	             &st->last_run)) ||
	        (rc = get_int(&d, j, "lastSlot", st, ASTRA__POLICY_ST_LAST_SLOT,
	                 &st->last_slot)) ||
	        (rc = get_int(&d, j, "nextRun", st, ASTRA__POLICY_ST_NEXT_RUN,
	                 &st->next_run)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "lastResult", 0, &st->last_result)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "lastError", 0, &st->last_error)) ||
	        (rc = get_int(&d, j, "lastFinished", st,
	                 ASTRA__POLICY_ST_LAST_FINISHED, &st->last_finished)) ||
	        (rc = get_names(&d, j, "snapshots", st,
	                 ASTRA__POLICY_ST_SNAPSHOTS, &st->snapshots,
	                 &st->nsnapshots)) ||
	        (rc = get_names(&d, j, "backups", st, ASTRA__POLICY_ST_BACKUPS,
	                 &st->backups, &st->nbackups)) ||
	        (rc = get_pending(&d, j, st)))
		astra__policy_status_free(st);
	return rc;
}

int astra__policy_cm_status(const astra__json *cm, astra__policy_status *st)
{
	astra__json *j = parse_key(cm, ASTRA_POLICY_KEY_STATUS);
	memset(st, 0, sizeof(*st));
	if (!j)
		return 0; /* none yet (or unreadable): an empty status */
	int rc = astra__policy_status_decode(j,
	        astra__json_str(astra__json_get(cm, "metadata"), "name"), st);
	astra__json_free(j);
	return rc;
}

const char *astra__policy_cm_app(const astra__json *cm)
{
	return astra__json_str(astra__json_path(cm, "metadata.labels"),
	        ASTRA_POLICY_LABEL_APP);
}

int astra__policy_cm_put(astra__json *cm, const char *key, const astra__json *v)
{
	char *text = NULL;
	if (astra__json_print(&text, v, 0))
		return ASTRA_ENOMEM;
	astra__json *data = astra__json_get(cm, "data");
	if (!data) {
		data = astra__json_new_object();
		if (!data || astra__json_set(cm, "data", data)) {
			free(text);
			return ASTRA_ENOMEM;
		}
	}
	int rc = astra__json_set_str(data, key, text);
	free(text);
	return rc ? ASTRA_ENOMEM : 0;
}

int astra__policy_cm_update(
        astra__kube *k, const astra__json *cm, astra__json **out)
{
	astra__kube_resource r;
	int rc = astra__policy_cm_resource(k, &r);
	if (rc)
		return rc;
	const char *ns =
	        astra__json_str(astra__json_get(cm, "metadata"), "namespace");
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-policies";
	rc = astra__kube_update(k, &r, ns, cm, &wo, out);
	astra__kube_resource_clear(&r);
	return rc;
}

int astra__policy_status_update(astra__kube *k, const char *ns,
        const char *cmname, astra__policy_status_fn fn, void *payload)
{
	astra__kube_resource r;
	int rc = astra__policy_cm_resource(k, &r);
	if (rc)
		return rc;
	for (int attempt = 0; attempt < 8; attempt++) {
		astra__json *cm = NULL;
		rc = astra__kube_get(k, &r, ns, cmname, &cm);
		if (rc)
			break;
		astra__policy_status st;
		astra__json *j = NULL;
		rc = astra__policy_cm_status(cm, &st);
		if (!rc)
			rc = fn(&st, payload);
		if (!rc)
			rc = astra__policy_status_encode(&st, &j);
		if (!rc)
			rc = astra__policy_cm_put(
			        cm, ASTRA_POLICY_KEY_STATUS, j);
		if (!rc)
			rc = astra__policy_cm_update(k, cm, NULL);
		astra__json_free(j);
		astra__policy_status_free(&st);
		astra__json_free(cm);
		if (rc != ASTRA_ECONFLICT)
			break;
	}
	astra__kube_resource_clear(&r);
	return rc;
}

/* ---- public: set, list, remove ---- */

static astra__json *new_cm(
        const char *ns, const char *name, const char *app, const char *policy)
{
	astra__json *cm = astra__json_new_object();
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	if (!cm || !md || !labels) {
		astra__json_free(cm);
		astra__json_free(md);
		astra__json_free(labels);
		return NULL;
	}
	astra__json_set_str(cm, "apiVersion", "v1");
	astra__json_set_str(cm, "kind", "ConfigMap");
	astra__json_set_str(md, "name", name);
	astra__json_set_str(md, "namespace", ns);
	astra__json_set_str(labels, ASTRA_POLICY_LABEL, "true");
	astra__json_set_str(labels, ASTRA_POLICY_LABEL_APP, app);
	astra__json_set_str(labels, ASTRA_POLICY_LABEL_NAME, policy);
	astra__json_set(md, "labels", labels);
	astra__json_set(cm, "metadata", md);
	return cm;
}

astra_status astra_policy_set(
        astra_cluster *c, const char *app, const astra_policy_options *p)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(app);
	int rc = astra_policy_validate(p);
	if (rc)
		return rc;
	astra_app *a = NULL;
	rc = astra_app_get(&a, c, app);
	if (rc)
		return rc;
	astra__kube *k = astra__cluster_kube(c);
	astra__kube_resource r;
	char name[160];
	astra__policy_cm_name(name, sizeof(name), app, p->name);
	astra__json *spec = NULL;
	rc = astra__policy_to_json(p, &spec);
	if (!rc)
		rc = astra__policy_cm_resource(k, &r);
	if (rc) {
		astra__json_free(spec);
		astra_app_free(a);
		return rc;
	}
	for (int attempt = 0; attempt < 8; attempt++) {
		astra__json *cm = NULL;
		rc = astra__kube_get(k, &r, a->home, name, &cm);
		int create = rc == ASTRA_ENOTFOUND;
		if (rc && !create)
			break;
		int64_t created = astra__wall_ns() / 1000000000;
		if (!create) {
			astra__json *old = astra__policy_cm_spec(cm);
			created = astra__json_int(old, "created", created);
			astra__json_free(old);
		} else {
			cm = new_cm(a->home, name, app, p->name);
		}
		astra__json_set_int(spec, "created", created);
		rc = cm ? astra__policy_cm_put(cm, ASTRA_POLICY_KEY_SPEC, spec)
		        : ASTRA_ENOMEM;
		if (!rc && create) {
			astra__kube_write_options wo = { 0 };
			wo.field_manager = "astra-policies";
			rc = astra__kube_create(k, &r, a->home, cm, &wo, NULL);
		} else if (!rc) {
			rc = astra__policy_cm_update(k, cm, NULL);
		}
		astra__json_free(cm);
		if (rc != ASTRA_ECONFLICT && rc != ASTRA_EEXISTS)
			break;
	}
	if (rc)
		astra__err_prefix(
		        rc, "policy \"%s\" of app \"%s\"", p->name, app);
	astra__kube_resource_clear(&r);
	astra__json_free(spec);
	astra_app_free(a);
	return rc;
}

static void set_time(astra__json *o, const char *key, int64_t t)
{
	char ts[32];
	if (t <= 0)
		return;
	astra__fmt_utc(ts, t);
	astra__json_set_str(o, key, ts);
}

static astra__json *copy_or_empty(const astra__json *st, const char *key)
{
	const astra__json *v = astra__json_get(st, key);
	return v ? astra__json_dup(v) : astra__json_new_array();
}

astra_status astra_policy_list(
        astra_cluster *c, const char *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(out);
	astra__kube *k = astra__cluster_kube(c);
	astra__json *items = NULL;
	(void)k;
	int rc = astra__policy_list_scoped(c, app, &items);
	if (rc)
		return rc;
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && !rc && i < astra__json_size(items); i++) {
		const astra__json *cm = astra__json_at(items, i);
		astra__json *spec = astra__policy_cm_spec(cm);
		astra__json *st = NULL;
		astra__policy_status sr;
		astra_policy_options p;
		if (!spec || astra__policy_from_json(spec, &p)) {
			astra__json_free(spec);
			continue; /* not ours or damaged: skip */
		}
		if (astra__policy_cm_status(cm, &sr) ||
		        astra__policy_status_encode(&sr, &st)) {
			astra__log_warn("%s", astra_error_last()->message);
			astra__policy_status_free(&sr);
			astra__json_free(spec);
			continue; /* damaged status: skip */
		}
		astra__json *e = astra__json_new_object();
		astra__json *s = astra__json_new_object();
		if (!e || !s) {
			astra__json_free(e);
			astra__json_free(s);
			astra__json_free(spec);
			astra__json_free(st);
			astra__policy_status_free(&sr);
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json_set_str(e, "app", astra__policy_cm_app(cm));
		for (size_t f = 0; f < astra__json_size(spec); f++) {
			const astra__json *m = astra__json_at(spec, f);
			const char *key = astra__json_key(m);
			if (strcmp(key, "created"))
				astra__json_set(e, key, astra__json_dup(m));
		}
		int64_t created = astra__json_int(spec, "created", 0);
		set_time(e, "created", created);
		int64_t last =
		        sr.has & ASTRA__POLICY_ST_LAST_RUN ? sr.last_run : 0;
		set_time(s, "lastRun", last);
		const char *res = sr.last_result;
		astra__json_set_str(s, "lastResult", res ? res : "");
		const char *err = sr.last_error;
		if (err)
			astra__json_set_str(s, "lastError", err);
		int64_t next = 0;
		if (!astra_policy_next_run(&p, last ? last : created, &next))
			set_time(s, "nextRun", next);
		astra__json_set(s, "snapshots", copy_or_empty(st, "snapshots"));
		astra__json_set(s, "backups", copy_or_empty(st, "backups"));
		astra__json_set(s, "pendingDeletes",
		        copy_or_empty(st, "pendingDeletes"));
		astra__json_set(e, "status", s);
		astra__json_free(spec);
		astra__json_free(st);
		astra__policy_status_free(&sr);
		rc = astra__json_push(arr, e);
	}
	if (!arr)
		rc = ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_print_buf(out, arr, 1);
	astra__json_free(arr);
	astra__json_free(items);
	return rc;
}

astra_status astra_policy_remove(
        astra_cluster *c, const char *app, const char *name)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	astra__kube *k = astra__cluster_kube(c);
	astra__json *items = NULL;
	int rc = astra__policy_list_cms(k, app, &items);
	if (rc)
		return rc;
	char want[160];
	astra__policy_cm_name(want, sizeof(want), app, name);
	const char *ns = NULL;
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *md =
		        astra__json_get(astra__json_at(items, i), "metadata");
		if (!strcmp(astra__json_str(md, "name"), want))
			ns = astra__json_str(md, "namespace");
	}
	if (!ns) {
		astra__json_free(items);
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_POLICY,
		        "app \"%s\" has no policy \"%s\"", app, name);
	}
	astra__kube_resource r;
	rc = astra__policy_cm_resource(k, &r);
	if (!rc) {
		rc = astra__kube_delete(k, &r, ns, want, NULL);
		astra__kube_resource_clear(&r);
	}
	astra__json_free(items);
	return rc;
}
