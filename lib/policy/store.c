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

astra__json *astra__policy_cm_status(const astra__json *cm)
{
	astra__json *s = parse_key(cm, ASTRA_POLICY_KEY_STATUS);
	return s ? s : astra__json_new_object();
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
		astra__json *st = astra__policy_cm_status(cm);
		rc = st ? fn(st, payload) : ASTRA_ENOMEM;
		if (!rc)
			rc = astra__policy_cm_put(
			        cm, ASTRA_POLICY_KEY_STATUS, st);
		if (!rc)
			rc = astra__policy_cm_update(k, cm, NULL);
		astra__json_free(st);
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
	int rc = astra__policy_list_cms(k, app, &items);
	if (rc)
		return rc;
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && !rc && i < astra__json_size(items); i++) {
		const astra__json *cm = astra__json_at(items, i);
		astra__json *spec = astra__policy_cm_spec(cm);
		astra__json *st = astra__policy_cm_status(cm);
		astra_policy_options p;
		if (!spec || !st || astra__policy_from_json(spec, &p)) {
			astra__json_free(spec);
			astra__json_free(st);
			continue; /* not ours or damaged: skip */
		}
		astra__json *e = astra__json_new_object();
		astra__json *s = astra__json_new_object();
		if (!e || !s) {
			astra__json_free(e);
			astra__json_free(s);
			astra__json_free(spec);
			astra__json_free(st);
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
		int64_t last = astra__json_int(st, "lastRun", 0);
		set_time(s, "lastRun", last);
		const char *res = astra__json_str(st, "lastResult");
		astra__json_set_str(s, "lastResult", res ? res : "");
		const char *err = astra__json_str(st, "lastError");
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
