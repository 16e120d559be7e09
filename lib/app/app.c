/*
 * App definitions: parsing, validation, and persistence as labelled
 * ConfigMaps in the app's home namespace (docs/apps.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "app/app.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"

/* ---- parsing ---- */

static int dns_label(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || !isalnum((unsigned char)s[0]) ||
	        !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		            isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

static char *dup_str(const astra__json *o, const char *key)
{
	const char *s = astra__json_str(o, key);
	return s ? astra__strdup(s) : NULL;
}

static int bad(const char *app, const char *fmt, ...) ASTRA_PRINTF(2, 3);
static int bad(const char *app, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID, "app \"%s\": %s",
	        app ? app : "", msg);
}

static int parse_selector(const char *app, const char *where, const char *text,
        astra__selector **out)
{
	*out = NULL;
	if (!text || !*text)
		return 0;
	int rc = astra__selector_parse(out, text);
	if (rc)
		astra__err_prefix(rc, "app \"%s\": %s", app, where);
	return rc;
}

static int str_array(const astra__json *arr, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cnt = astra__json_size(arr);
	if (!cnt)
		return 0;
	char **v = astra__calloc(cnt, sizeof(char *));
	if (!v)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		const char *s =
		        astra__json_string_value(astra__json_at(arr, i));
		if (!s || !(v[i] = astra__strdup(s))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return s ? ASTRA_ENOMEM
			         : astra__err(ASTRA_EINVALID,
			                   ASTRA_ERROR_INVALID,
			                   "expected a list of strings");
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int parse_filters(const char *app, const char *field,
        const astra__json *arr, astra__app_filter **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (astra__json_type_of(arr) != ASTRA_JSON_ARRAY)
		return bad(app, "\"%s\" must be a list", field);
	size_t cnt = astra__json_size(arr);
	astra__app_filter *f = astra__calloc(cnt + 1, sizeof(*f));
	if (!f)
		return ASTRA_ENOMEM;
	*out = f;
	*n = cnt;
	for (size_t i = 0; i < cnt; i++) {
		const astra__json *o = astra__json_at(arr, i);
		if (astra__json_type_of(o) != ASTRA_JSON_OBJECT)
			return bad(app, "entries of \"%s\" must be objects",
			        field);
		f[i].group = dup_str(o, "group");
		f[i].version = dup_str(o, "version");
		f[i].kind = dup_str(o, "kind");
		f[i].selector_text = dup_str(o, "selector");
		int rc = str_array(
		        astra__json_get(o, "names"), &f[i].names, &f[i].nnames);
		if (!rc)
			rc = str_array(astra__json_get(o, "namespaces"),
			        &f[i].namespaces, &f[i].nnamespaces);
		if (rc)
			return astra__err_prefix(
			        rc, "app \"%s\": %s", app, field);
		char where[64];
		snprintf(where, sizeof(where), "%s[%zu].selector", field, i);
		if ((rc = parse_selector(
		             app, where, f[i].selector_text, &f[i].selector)))
			return rc;
	}
	return 0;
}

static void free_filters(astra__app_filter *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].group);
		free(f[i].version);
		free(f[i].kind);
		for (size_t k = 0; k < f[i].nnames; k++)
			free(f[i].names[k]);
		free(f[i].names);
		for (size_t k = 0; k < f[i].nnamespaces; k++)
			free(f[i].namespaces[k]);
		free(f[i].namespaces);
		free(f[i].selector_text);
		astra__selector_free(f[i].selector);
	}
	free(f);
}

void astra__app_release(astra_app *a)
{
	if (!a)
		return;
	free(a->name);
	free(a->home);
	astra__json_free(a->def);
	for (size_t i = 0; i < a->nns; i++) {
		free(a->ns[i].name);
		free(a->ns[i].selector_text);
		astra__selector_free(a->ns[i].selector);
	}
	free(a->ns);
	free(a->helm_release);
	free(a->helm_namespace);
	free_filters(a->cluster_res, a->ncluster_res);
	free_filters(a->include, a->ninclude);
	free_filters(a->exclude, a->nexclude);
	free(a->snapshot_class);
	free(a);
}

int astra__app_parse(astra_app **out, const astra__json *def)
{
	*out = NULL;
	if (astra__json_type_of(def) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "an app definition must be a JSON object");
	const char *name = astra__json_str(def, "name");
	if (!dns_label(name, 53))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "app name \"%s\" is not a DNS label of at most 53 "
		        "characters (lower-case letters, digits, '-')",
		        name ? name : "");
	static const char *known[] = { "name", "namespaces", "helm",
		"clusterResources", "include", "exclude", "snapshotClass",
		"home", NULL };
	for (size_t i = 0; i < astra__json_size(def); i++) {
		const char *k = astra__json_key(astra__json_at(def, i));
		int ok = 0;
		for (size_t j = 0; known[j]; j++)
			ok |= !strcmp(k, known[j]);
		if (!ok)
			return bad(name, "unknown field \"%s\"", k);
	}
	astra_app *a = astra__calloc(1, sizeof(*a));
	ASTRA_CHECK_ALLOC(a);
	int rc = 0;
	a->name = astra__strdup(name);
	a->def = astra__json_dup(def);
	if (!a->name || !a->def) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	astra__json_del(a->def, "home");

	const astra__json *nss = astra__json_get(def, "namespaces");
	const astra__json *helm = astra__json_get(def, "helm");
	if (nss && astra__json_type_of(nss) != ASTRA_JSON_ARRAY) {
		rc = bad(name, "\"namespaces\" must be a list%s", "");
		goto done;
	}
	if (!astra__json_size(nss) && !helm) {
		rc = bad(name, "needs \"namespaces\" or \"helm\"%s", "");
		goto done;
	}
	if (astra__json_size(nss) && helm) {
		rc = bad(name, "takes \"namespaces\" or \"helm\", not both%s",
		        "");
		goto done;
	}
	a->nns = astra__json_size(nss);
	a->ns = astra__calloc(a->nns + 1, sizeof(*a->ns));
	if (!a->ns) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < a->nns; i++) {
		const astra__json *n = astra__json_at(nss, i);
		const char *nn = astra__json_str(n, "name");
		if (!dns_label(nn, 63)) {
			rc = bad(name, "namespace \"%s\" is not a valid name",
			        nn);
			goto done;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(a->ns[k].name, nn)) {
				rc = bad(name,
				        "namespace \"%s\" is listed "
				        "twice",
				        nn);
				goto done;
			}
		a->ns[i].name = astra__strdup(nn);
		a->ns[i].selector_text = dup_str(n, "selector");
		char where[128];
		snprintf(where, sizeof(where), "selector of namespace %s", nn);
		if ((rc = parse_selector(name, where, a->ns[i].selector_text,
		             &a->ns[i].selector)))
			goto done;
	}
	if (helm) {
		a->helm_release = dup_str(helm, "release");
		a->helm_namespace = dup_str(helm, "namespace");
		if (!a->helm_release || !*a->helm_release ||
		        !dns_label(a->helm_namespace, 63)) {
			rc = bad(name,
			        "\"helm\" needs \"release\" and \"namespace\"%s",
			        "");
			goto done;
		}
	}
	if ((rc = parse_filters(name, "clusterResources",
	             astra__json_get(def, "clusterResources"), &a->cluster_res,
	             &a->ncluster_res)) ||
	        (rc = parse_filters(name, "include",
	                 astra__json_get(def, "include"), &a->include,
	                 &a->ninclude)) ||
	        (rc = parse_filters(name, "exclude",
	                 astra__json_get(def, "exclude"), &a->exclude,
	                 &a->nexclude)))
		goto done;
	for (size_t i = 0; i < a->ncluster_res; i++)
		if (!a->cluster_res[i].kind) {
			rc = bad(name,
			        "clusterResources entries need a "
			        "\"kind\"%s",
			        "");
			goto done;
		}
	a->snapshot_class = dup_str(def, "snapshotClass");
	a->home = astra__strdup(a->nns ? a->ns[0].name : a->helm_namespace);
	if (!a->home)
		rc = ASTRA_ENOMEM;
done:
	if (rc) {
		astra__app_release(a);
		return rc;
	}
	*out = a;
	return 0;
}

int astra__app_filter_matches(const astra__app_filter *f,
        const astra__kube_resource *r, const astra__json *obj)
{
	if (f->group && strcmp(f->group, r->group))
		return 0;
	if (f->version && strcmp(f->version, r->version))
		return 0;
	if (f->kind && strcasecmp(f->kind, r->kind) &&
	        strcasecmp(f->kind, r->resource))
		return 0;
	const char *name =
	        astra__json_str(astra__json_get(obj, "metadata"), "name");
	const char *ns =
	        astra__json_str(astra__json_get(obj, "metadata"), "namespace");
	if (f->nnames) {
		int hit = 0;
		for (size_t i = 0; i < f->nnames && !hit; i++)
			hit = name && !strcmp(f->names[i], name);
		if (!hit)
			return 0;
	}
	if (f->nnamespaces) {
		int hit = 0;
		for (size_t i = 0; i < f->nnamespaces && !hit; i++)
			hit = ns && !strcmp(f->namespaces[i], ns);
		if (!hit)
			return 0;
	}
	if (f->selector && !astra__selector_matches(f->selector,
	                           astra__json_path(obj, "metadata.labels")))
		return 0;
	return 1;
}

/* ---- scoping (docs/security.md, "Trust model") ---- */

int astra__app_scope_check(const astra_app *a, const char *home, int control)
{
	if (control)
		return 0;
	const char *rule = "an app defined outside the control namespace "
	                   "covers only its own namespace";
	if (a->helm_release && strcmp(a->helm_namespace, home))
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_INVALID,
		        "app \"%s\" (defined in namespace %s) covers Helm "
		        "release namespace %s: %s",
		        a->name, home, a->helm_namespace, rule);
	for (size_t i = 0; i < a->nns; i++)
		if (strcmp(a->ns[i].name, home))
			return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_INVALID,
			        "app \"%s\" (defined in namespace %s) covers "
			        "namespace %s: %s",
			        a->name, home, a->ns[i].name, rule);
	if (a->ncluster_res)
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_INVALID,
		        "app \"%s\" (defined in namespace %s) names "
		        "clusterResources: only app definitions in the control "
		        "namespace may add cluster-scoped objects",
		        a->name, home);
	return 0;
}

/* ---- persistence ---- */

static int cm_resource(astra__kube *k, astra__kube_resource *r)
{
	return astra__kube_find_kind(k, "", "v1", "ConfigMap", r);
}

static int parse_cm(const astra__json *cm, astra_app **out)
{
	const char *text =
	        astra__json_str(astra__json_get(cm, "data"), ASTRA_APP_CM_KEY);
	const astra__json *md = astra__json_get(cm, "metadata");
	char what[256];
	snprintf(what, sizeof(what), "app definition %s/%s",
	        astra__json_str(md, "namespace"), astra__json_str(md, "name"));
	if (!text)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s has no %s", what, ASTRA_APP_CM_KEY);
	astra__json *def = NULL;
	int rc = astra__json_parse(&def, text, strlen(text), what);
	if (!rc)
		rc = astra__app_parse(out, def);
	astra__json_free(def);
	if (!rc) {
		free((*out)->home);
		(*out)->home = dup_str(md, "namespace");
	}
	return rc;
}

static void reject(astra__app_set *s, size_t i, const char *why)
{
	astra_app *a = s->apps[i];
	astra__log_warn("ignoring app definition %s/" ASTRA_APP_CM_PREFIX
	                "%s: %s",
	        a->home, a->name, why);
	astra__json *r = astra__json_new_object();
	if (r) {
		astra__json_set_str(r, "name", a->name);
		astra__json_set_str(r, "home", a->home);
		astra__json_set_str(r, "rejected", why);
		astra__json_push(s->rejected, r);
	}
	astra__app_release(a);
	s->apps[i] = NULL;
}

/* Names are unique per cluster: a definition written around the API with
 * the name of another must not stand in for it. The control namespace's
 * wins; two elsewhere are both ignored. */
static void drop_duplicates(astra_cluster *c, astra__app_set *s)
{
	char *dup = astra__calloc(s->n + 1, 1);
	if (!dup)
		return;
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++) {
			if (strcmp(s->apps[i]->name, s->apps[j]->name))
				continue;
			int ci = astra__cluster_is_control(c, s->apps[i]->home);
			int cj = astra__cluster_is_control(c, s->apps[j]->home);
			if (ci && !cj)
				dup[j] = 1;
			else if (cj && !ci)
				dup[i] = 1;
			else
				dup[i] = dup[j] = 1;
		}
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (dup[i]) {
			char why[256];
			snprintf(why, sizeof(why),
			        "app \"%s\" is defined more than once (app "
			        "names are unique per cluster)",
			        s->apps[i]->name);
			reject(s, i, why);
		} else
			s->apps[m++] = s->apps[i];
	}
	s->n = m;
	free(dup);
}

int astra__app_load_all(astra_cluster *c, astra__app_set *out)
{
	memset(out, 0, sizeof(*out));
	astra__kube *k = astra__cluster_kube(c);
	astra__kube_resource r;
	int rc = cm_resource(k, &r);
	if (rc)
		return rc;
	astra__kube_list_options lo = { 0 };
	lo.label_selector = ASTRA_APP_LABEL_DEF "=true";
	astra__json *items = NULL;
	rc = astra__kube_list_all(k, &r, NULL, &lo, &items);
	astra__kube_resource_clear(&r);
	if (rc)
		return rc;
	size_t n = astra__json_size(items);
	out->apps = astra__calloc(n + 1, sizeof(astra_app *));
	if (!out->apps) {
		astra__json_free(items);
		return ASTRA_ENOMEM;
	}
	out->rejected = astra__json_new_array();
	if (!out->rejected) {
		astra__json_free(items);
		astra__app_set_free(out);
		return ASTRA_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		astra_app *a = NULL;
		const astra__json *cm = astra__json_at(items, i);
		int prc = parse_cm(cm, &a);
		if (!prc)
			prc = astra__app_scope_check(a, a->home,
			        astra__cluster_is_control(c, a->home));
		if (prc != 0) {
			const astra__json *md = astra__json_get(cm, "metadata");
			astra__log_warn("ignoring app definition %s/%s: %s",
			        astra__json_str(md, "namespace"),
			        astra__json_str(md, "name"),
			        astra_error_last()->message);
			astra__json *e = astra__json_new_object();
			const char *an =
			        astra__json_str(astra__json_get(md, "labels"),
			                ASTRA_APP_LABEL_NAME);
			if (e) {
				astra__json_set_str(e, "name",
				        a    ? a->name
				        : an ? an
				             : "");
				astra__json_set_str(e, "home",
				        astra__json_str(md, "namespace"));
				astra__json_set_str(e, "rejected",
				        astra_error_last()->message);
				astra__json_push(out->rejected, e);
			}
			astra__app_release(a);
			astra_error_clear();
			continue;
		}
		a->cluster = c;
		a->k = k;
		out->apps[out->n++] = a;
	}
	astra__json_free(items);
	drop_duplicates(c, out);
	return 0;
}

void astra__app_set_free(astra__app_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		astra__app_release(s->apps[i]);
	free(s->apps);
	astra__json_free(s->rejected);
	memset(s, 0, sizeof(*s));
}

static astra_app *find_in(const astra__app_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->apps[i]->name, name))
			return s->apps[i];
	return NULL;
}

static int check_exists_ns(astra__kube *k, const char *app, const char *ns)
{
	astra__json *obj = NULL;
	int rc = astra__kube_get(
	        k, &astra__kube_namespaces_resource, NULL, ns, &obj);
	astra__json_free(obj);
	if (rc == ASTRA_ENOTFOUND)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "app \"%s\": namespace \"%s\" does not exist", app, ns);
	return rc;
}

static int write_cm(astra__kube *k, const astra_app *a, int update)
{
	astra__kube_resource r;
	int rc = cm_resource(k, &r);
	if (rc)
		return rc;
	char name[128];
	snprintf(name, sizeof(name), ASTRA_APP_CM_PREFIX "%s", a->name);
	char *text = NULL;
	astra__json *cm = astra__json_new_object();
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	astra__json *data = astra__json_new_object();
	if (!cm || !md || !labels || !data ||
	        astra__json_print(&text, a->def, 1)) {
		rc = ASTRA_ENOMEM;
		astra__json_free(md);
		astra__json_free(labels);
		astra__json_free(data);
		goto done;
	}
	astra__json_set_str(cm, "apiVersion", "v1");
	astra__json_set_str(cm, "kind", "ConfigMap");
	astra__json_set_str(md, "name", name);
	astra__json_set_str(md, "namespace", a->home);
	astra__json_set_str(labels, ASTRA_APP_LABEL_DEF, "true");
	astra__json_set_str(labels, ASTRA_APP_LABEL_NAME, a->name);
	astra__json_set(md, "labels", labels);
	astra__json_set(cm, "metadata", md);
	astra__json_set_str(data, ASTRA_APP_CM_KEY, text);
	astra__json_set(cm, "data", data);
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-apps";
	wo.force = 1;
	if (update)
		rc = astra__kube_apply(k, &r, a->home, cm, &wo, NULL);
	else
		rc = astra__kube_create(k, &r, a->home, cm, &wo, NULL);
	if (rc == ASTRA_EEXISTS)
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
		        "app \"%s\" already exists in namespace %s", a->name,
		        a->home);
done:
	free(text);
	astra__json_free(cm);
	astra__kube_resource_clear(&r);
	return rc;
}

static int delete_cm(astra__kube *k, const char *home, const char *app)
{
	astra__kube_resource r;
	int rc = cm_resource(k, &r);
	if (rc)
		return rc;
	char name[128];
	snprintf(name, sizeof(name), ASTRA_APP_CM_PREFIX "%s", app);
	rc = astra__kube_delete(k, &r, home, name, NULL);
	astra__kube_resource_clear(&r);
	return rc == ASTRA_ENOTFOUND ? 0 : rc;
}

/* ---- public API ---- */

astra_status astra_app_define(astra_app **out, astra_cluster *c,
        const char *definition_json, unsigned int flags)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(definition_json);
	if (out)
		*out = NULL;
	astra__kube *k = astra__cluster_kube(c);
	astra__json *def = NULL;
	astra_app *a = NULL;
	astra__app_set all = { 0 };
	int rc = astra__json_parse(&def, definition_json,
	        strlen(definition_json), "app definition");
	if (!rc)
		rc = astra__app_parse(&a, def);
	if (rc) {
		astra__json_free(def);
		return rc;
	}
	a->cluster = c;
	a->k = k;
	/* the home: a given one, else the app's own namespace when it has
	 * one namespace and no cluster resources, else the control
	 * namespace (only there may a definition reach further) */
	const char *given = astra__json_str(def, "home");
	const char *control = astra_cluster_control_namespace(c);
	if (given || a->nns > 1 || a->ncluster_res) {
		char *h = astra__strdup(given ? given : control);
		if (!h)
			rc = ASTRA_ENOMEM;
		else {
			free(a->home);
			a->home = h;
		}
	}
	if (!rc && !dns_label(a->home, 63))
		rc = bad(a->name, "home \"%s\" is not a valid namespace name",
		        a->home);
	if (!rc)
		rc = astra__app_scope_check(
		        a, a->home, astra__cluster_is_control(c, a->home));
	if (!rc && astra__cluster_is_control(c, a->home)) {
		rc = check_exists_ns(k, a->name, a->home);
		if (rc == ASTRA_ENOTFOUND)
			astra__err(rc, ASTRA_ERROR_KUBE,
			        "app \"%s\": the control namespace \"%s\" does "
			        "not exist (an app that spans namespaces or "
			        "names cluster resources is defined there)",
			        a->name, a->home);
	}
	for (size_t i = 0; i < a->nns && !rc; i++)
		rc = check_exists_ns(k, a->name, a->ns[i].name);
	if (!rc && a->helm_release) {
		rc = check_exists_ns(k, a->name, a->helm_namespace);
		astra__json *objs = NULL, *secrets = NULL;
		if (!rc)
			rc = astra__helm_release_objects(k, a->helm_release,
			        a->helm_namespace, &objs, &secrets);
		astra__json_free(objs);
		astra__json_free(secrets);
		if (rc)
			astra__err_prefix(rc, "app \"%s\"", a->name);
	}
	if (!rc)
		rc = astra__app_load_all(c, &all);
	if (!rc) {
		astra_app *old = find_in(&all, a->name);
		if (old && !(flags & ASTRA_APP_F_UPDATE))
			rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
			        "app \"%s\" already exists (defined in "
			        "namespace %s)",
			        a->name, old->home);
		else if (!old && (flags & ASTRA_APP_F_UPDATE))
			rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
			        "app \"%s\" does not exist; define it first",
			        a->name);
		else if (old && strcmp(old->home, a->home) == 0)
			rc = write_cm(k, a, 1);
		else if (old) {
			/* the home namespace moved: new first, then old */
			rc = write_cm(k, a, 1);
			if (!rc)
				rc = delete_cm(k, old->home, a->name);
		} else
			rc = write_cm(k, a, 0);
	}
	astra__app_set_free(&all);
	astra__json_free(def);
	if (rc || !out) {
		astra__app_release(a);
		return rc;
	}
	*out = a;
	return 0;
}

astra_status astra_app_get(astra_app **out, astra_cluster *c, const char *name)
{
	ASTRA_ASSERT_ARG(out);
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(name);
	*out = NULL;
	astra__app_set all;
	int rc = astra__app_load_all(c, &all);
	if (rc)
		return rc;
	for (size_t i = 0; i < all.n; i++)
		if (!strcmp(all.apps[i]->name, name)) {
			*out = all.apps[i];
			all.apps[i] = all.apps[--all.n];
			break;
		}
	astra__app_set_free(&all);
	if (!*out)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "app \"%s\" is not defined in this cluster", name);
	return 0;
}

astra_status astra_app_remove(astra_cluster *c, const char *name)
{
	astra_app *a = NULL;
	int rc = astra_app_get(&a, c, name);
	if (rc)
		return rc;
	rc = delete_cm(astra__cluster_kube(c), a->home, a->name);
	astra__app_release(a);
	return rc;
}

static int def_with_home(const astra_app *a, astra__json **out)
{
	*out = astra__json_dup(a->def);
	if (!*out)
		return ASTRA_ENOMEM;
	return astra__json_set_str(*out, "home", a->home);
}

astra_status astra_app_list(astra_cluster *c, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(out);
	astra__app_set all;
	int rc = astra__app_load_all(c, &all);
	if (rc)
		return rc;
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && i < all.n && !rc; i++) {
		astra__json *d = NULL;
		rc = def_with_home(all.apps[i], &d);
		if (!rc)
			rc = astra__json_push(arr, d);
	}
	/* ignored definitions, so that their owners see why */
	for (size_t i = 0; arr && !rc && i < astra__json_size(all.rejected);
	        i++) {
		astra__json *d =
		        astra__json_dup(astra__json_at(all.rejected, i));
		rc = d ? astra__json_push(arr, d) : ASTRA_ENOMEM;
	}
	if (!arr)
		rc = ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_print_buf(out, arr, 1);
	astra__json_free(arr);
	astra__app_set_free(&all);
	return rc;
}

static int system_namespace(const char *ns)
{
	return !strncmp(ns, "kube-", 5) || !strcmp(ns, "default");
}

astra_status astra_app_list_unmanaged(astra_cluster *c, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(out);
	astra__kube *k = astra__cluster_kube(c);
	astra__app_set all;
	astra__json *nss = NULL, *releases = NULL;
	astra__json *arr = astra__json_new_array();
	int rc = arr ? astra__app_load_all(c, &all) : ASTRA_ENOMEM;
	if (rc) {
		astra__json_free(arr);
		return rc;
	}
	rc = astra__kube_list_all(
	        k, &astra__kube_namespaces_resource, NULL, NULL, &nss);
	if (!rc)
		rc = astra__helm_list_releases(k, &releases);
	for (size_t i = 0; !rc && i < astra__json_size(nss); i++) {
		const char *ns = astra__json_str(
		        astra__json_get(astra__json_at(nss, i), "metadata"),
		        "name");
		if (!ns || system_namespace(ns))
			continue;
		int covered = 0;
		for (size_t a = 0; a < all.n && !covered; a++) {
			const astra_app *app = all.apps[a];
			for (size_t j = 0; j < app->nns; j++)
				covered |= !strcmp(app->ns[j].name, ns);
			covered |= app->helm_namespace &&
			           !strcmp(app->helm_namespace, ns);
		}
		if (covered)
			continue;
		astra__json *e = astra__json_new_object();
		if (!e) {
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json_set_str(e, "kind", "namespace");
		astra__json_set_str(e, "name", ns);
		astra__json_set_str(e, "namespace", ns);
		rc = astra__json_push(arr, e);
	}
	for (size_t i = 0; !rc && i < astra__json_size(releases); i++) {
		const astra__json *r = astra__json_at(releases, i);
		const char *rn = astra__json_str(r, "name");
		const char *rns = astra__json_str(r, "namespace");
		int covered = 0;
		for (size_t a = 0; a < all.n && !covered; a++) {
			const astra_app *app = all.apps[a];
			covered = app->helm_release &&
			          !strcmp(app->helm_release, rn) &&
			          !strcmp(app->helm_namespace, rns);
			for (size_t j = 0; j < app->nns && !covered; j++)
				covered = !strcmp(app->ns[j].name, rns) &&
				          !app->ns[j].selector;
		}
		if (covered)
			continue;
		astra__json *e = astra__json_dup(r);
		if (!e) {
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json_set_str(e, "kind", "helm");
		rc = astra__json_push(arr, e);
	}
	if (!rc)
		rc = astra__json_print_buf(out, arr, 1);
	astra__json_free(arr);
	astra__json_free(nss);
	astra__json_free(releases);
	astra__app_set_free(&all);
	return rc;
}

const char *astra_app_name(const astra_app *app)
{
	return app ? app->name : NULL;
}

astra_status astra_app_definition(const astra_app *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(out);
	astra__json *d = NULL;
	int rc = def_with_home(app, &d);
	if (!rc)
		rc = astra__json_print_buf(out, d, 1);
	astra__json_free(d);
	return rc;
}

astra_status astra_app_resources(astra_app *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(out);
	astra__app_collection col;
	astra__op op;
	astra__op_init(&op, NULL, NULL, astra__cluster_cancel(app->cluster));
	int rc = astra__app_collect(app, 0, &op, &col);
	if (rc)
		return rc;
	astra__json *j = astra__json_new_object();
	astra__json *counts = astra__json_new_object();
	if (!j || !counts) {
		astra__json_free(j);
		astra__json_free(counts);
		astra__app_collection_free(&col);
		return ASTRA_ENOMEM;
	}
	astra__json_set_str(j, "app", app->name);
	/* counts per kind */
	for (size_t i = 0; i < astra__json_size(col.index); i++) {
		const char *kind =
		        astra__json_str(astra__json_at(col.index, i), "kind");
		astra__json_set_int(
		        counts, kind, astra__json_int(counts, kind, 0) + 1);
	}
	astra__json_set(j, "resources", col.index);
	col.index = NULL;
	astra__json_set(j, "warnings", col.warnings);
	col.warnings = NULL;
	astra__json_set(j, "counts", counts);
	rc = astra__json_print_buf(out, j, 1);
	astra__json_free(j);
	astra__app_collection_free(&col);
	return rc;
}

void astra_app_free(astra_app *app)
{
	astra__app_release(app);
}
