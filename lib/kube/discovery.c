/*
 * Discovery: aggregated (apidiscovery.k8s.io v2, v2beta1) where the server
 * offers it, else the classic /api, /apis and one request per group
 * version. The result is cached per client and shared as a
 * reference-counted snapshot.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/internal.h"
#include "kube/kube.h"
#include "net/http.h"

#define ACCEPT_AGGREGATED                                                       \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," \
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as="                  \
	"APIGroupDiscoveryList,application/json"

/* A lookup miss refreshes discovery older than this. */
#define MISS_REFRESH_NS (500ULL * 1000000ULL)

struct astra__kube_disc {
	astra__kube_discovery d;
	int refs;
};

/* ------------------------------------------------------------------ */
/* Resources                                                           */
/* ------------------------------------------------------------------ */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void astra__kube_resource_clear(astra__kube_resource *r)
{
	if (!r)
		return;
	free(r->group);
	free(r->version);
	free(r->resource);
	free(r->kind);
	free(r->singular);
	free_strv(r->short_names, r->nshort_names);
	free_strv(r->categories, r->ncategories);
	free_strv(r->subresources, r->nsubresources);
	memset(r, 0, sizeof(*r));
}

static int copy_strv(char ***dst, size_t *dn, char *const *src, size_t n)
{
	*dst = NULL;
	*dn = 0;
	if (!n)
		return 0;
	*dst = astra__calloc(n, sizeof(char *));
	ASTRA_CHECK_ALLOC(*dst);
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = astra__strdup(src[i]);
		ASTRA_CHECK_ALLOC((*dst)[i]);
		*dn = i + 1;
	}
	return 0;
}

int astra__kube_resource_copy(
        astra__kube_resource *d, const astra__kube_resource *s)
{
	memset(d, 0, sizeof(*d));
	d->namespaced = s->namespaced;
	d->verbs = s->verbs;
	d->preferred = s->preferred;
	if (!(d->group = astra__strdup(s->group ? s->group : "")) ||
	        !(d->version = astra__strdup(s->version ? s->version : "")) ||
	        !(d->resource = astra__strdup(
	                  s->resource ? s->resource : "")) ||
	        !(d->kind = astra__strdup(s->kind ? s->kind : "")) ||
	        !(d->singular = astra__strdup(
	                  s->singular ? s->singular : "")) ||
	        copy_strv(&d->short_names, &d->nshort_names, s->short_names,
	                s->nshort_names) ||
	        copy_strv(&d->categories, &d->ncategories, s->categories,
	                s->ncategories) ||
	        copy_strv(&d->subresources, &d->nsubresources, s->subresources,
	                s->nsubresources)) {
		astra__kube_resource_clear(d);
		return ASTRA_ENOMEM;
	}
	return 0;
}

void astra__kube_discovery_clear(astra__kube_discovery *d)
{
	for (size_t i = 0; i < d->n; i++)
		astra__kube_resource_clear(&d->resources[i]);
	free(d->resources);
	d->resources = NULL;
	d->n = 0;
}

static astra__kube_resource *add_resource(astra__kube_discovery *d)
{
	astra__kube_resource *r =
	        astra__reallocarray(d->resources, d->n + 1, sizeof(*r));
	if (!r)
		return NULL;
	d->resources = r;
	memset(&r[d->n], 0, sizeof(*r));
	return &r[d->n++];
}

static unsigned parse_verbs(const astra__json *arr)
{
	static const struct {
		const char *name;
		unsigned bit;
	} tab[] = { { "get", ASTRA_KUBE_VERB_GET },
		{ "list", ASTRA_KUBE_VERB_LIST },
		{ "watch", ASTRA_KUBE_VERB_WATCH },
		{ "create", ASTRA_KUBE_VERB_CREATE },
		{ "update", ASTRA_KUBE_VERB_UPDATE },
		{ "patch", ASTRA_KUBE_VERB_PATCH },
		{ "delete", ASTRA_KUBE_VERB_DELETE },
		{ "deletecollection", ASTRA_KUBE_VERB_DELETECOLLECTION } };
	unsigned v = 0;
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const char *s =
		        astra__json_string_value(astra__json_at(arr, i));
		for (size_t t = 0; s && t < sizeof(tab) / sizeof(tab[0]); t++)
			if (!strcmp(s, tab[t].name))
				v |= tab[t].bit;
	}
	return v;
}

static int strv_from(char ***dst, size_t *dn, const astra__json *arr)
{
	*dst = NULL;
	*dn = 0;
	size_t n = astra__json_size(arr);
	if (!n || astra__json_type_of(arr) != ASTRA_JSON_ARRAY)
		return 0;
	*dst = astra__calloc(n, sizeof(char *));
	ASTRA_CHECK_ALLOC(*dst);
	for (size_t i = 0; i < n; i++) {
		const char *s =
		        astra__json_string_value(astra__json_at(arr, i));
		if (!s)
			continue;
		(*dst)[*dn] = astra__strdup(s);
		ASTRA_CHECK_ALLOC((*dst)[*dn]);
		(*dn)++;
	}
	return 0;
}

static int push_str(char ***v, size_t *n, const char *s)
{
	char **nv = astra__reallocarray(*v, *n + 1, sizeof(char *));
	ASTRA_CHECK_ALLOC(nv);
	*v = nv;
	nv[*n] = astra__strdup(s);
	ASTRA_CHECK_ALLOC(nv[*n]);
	(*n)++;
	return 0;
}

static int dupz(char **dst, const char *s)
{
	*dst = astra__strdup(s ? s : "");
	return *dst ? 0 : ASTRA_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

int astra__kube_parse_aggregated(
        const char *text, size_t len, astra__kube_discovery *into)
{
	astra__json *j;
	int rc = astra__json_parse(&j, text, len, "aggregated discovery");
	if (rc)
		return rc;
	const char *kind = astra__json_str(j, "kind");
	const astra__json *items = astra__json_get(j, "items");
	if (!kind || strcmp(kind, "APIGroupDiscoveryList") ||
	        (items && astra__json_type_of(items) != ASTRA_JSON_ARRAY)) {
		astra__json_free(j);
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "aggregated discovery: not an APIGroupDiscoveryList");
	}
	for (size_t g = 0; !rc && g < astra__json_size(items); g++) {
		const astra__json *grp = astra__json_at(items, g);
		const char *gname = astra__json_str(
		        astra__json_get(grp, "metadata"), "name");
		const astra__json *versions = astra__json_get(grp, "versions");
		for (size_t v = 0; !rc && v < astra__json_size(versions); v++) {
			const astra__json *ver = astra__json_at(versions, v);
			const char *vname = astra__json_str(ver, "version");
			if (!vname)
				continue;
			const astra__json *res =
			        astra__json_get(ver, "resources");
			for (size_t i = 0; !rc && i < astra__json_size(res);
			        i++) {
				const astra__json *e = astra__json_at(res, i);
				const char *rname =
				        astra__json_str(e, "resource");
				const char *kname = astra__json_str(
				        astra__json_get(e, "responseKind"),
				        "kind");
				if (!rname || !kname || !*kname)
					continue;
				astra__kube_resource *r = add_resource(into);
				if (!r) {
					rc = ASTRA_ENOMEM;
					break;
				}
				const char *scope = astra__json_str(e, "scope");
				r->namespaced =
				        scope && !strcmp(scope, "Namespaced");
				r->preferred = v == 0;
				r->verbs = parse_verbs(
				        astra__json_get(e, "verbs"));
				if ((rc = dupz(&r->group, gname)) ||
				        (rc = dupz(&r->version, vname)) ||
				        (rc = dupz(&r->resource, rname)) ||
				        (rc = dupz(&r->kind, kname)) ||
				        (rc = dupz(&r->singular,
				                 astra__json_str(e,
				                         "singularResource"))) ||
				        (rc = strv_from(&r->short_names,
				                 &r->nshort_names,
				                 astra__json_get(
				                         e, "shortNames"))) ||
				        (rc = strv_from(&r->categories,
				                 &r->ncategories,
				                 astra__json_get(
				                         e, "categories"))))
					break;
				const astra__json *subs =
				        astra__json_get(e, "subresources");
				for (size_t s = 0;
				        !rc && s < astra__json_size(subs);
				        s++) {
					const char *sn = astra__json_str(
					        astra__json_at(subs, s),
					        "subresource");
					if (sn)
						rc = push_str(&r->subresources,
						        &r->nsubresources, sn);
				}
			}
		}
	}
	astra__json_free(j);
	return rc;
}

int astra__kube_parse_resource_list(const char *text, size_t len,
        const char *group, const char *version, int preferred,
        astra__kube_discovery *into)
{
	astra__json *j;
	char what[300];
	snprintf(what, sizeof(what), "discovery of %s%s%s", group,
	        *group ? "/" : "", version);
	int rc = astra__json_parse(&j, text, len, what);
	if (rc)
		return rc;
	const astra__json *res = astra__json_get(j, "resources");
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT ||
	        (res && astra__json_type_of(res) != ASTRA_JSON_ARRAY)) {
		astra__json_free(j);
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: not an APIResourceList", what);
	}
	size_t first = into->n;
	/* resources first, then subresources ("deployments/scale") */
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t i = 0; !rc && i < astra__json_size(res); i++) {
			const astra__json *e = astra__json_at(res, i);
			const char *name = astra__json_str(e, "name");
			const char *kind = astra__json_str(e, "kind");
			if (!name || !kind)
				continue;
			const char *slash = strchr(name, '/');
			if (pass == 0 && !slash) {
				astra__kube_resource *r = add_resource(into);
				if (!r) {
					rc = ASTRA_ENOMEM;
					break;
				}
				r->namespaced =
				        astra__json_bool(e, "namespaced", 0);
				r->preferred = preferred;
				r->verbs = parse_verbs(
				        astra__json_get(e, "verbs"));
				if ((rc = dupz(&r->group, group)) ||
				        (rc = dupz(&r->version, version)) ||
				        (rc = dupz(&r->resource, name)) ||
				        (rc = dupz(&r->kind, kind)) ||
				        (rc = dupz(&r->singular,
				                 astra__json_str(
				                         e, "singularName"))) ||
				        (rc = strv_from(&r->short_names,
				                 &r->nshort_names,
				                 astra__json_get(
				                         e, "shortNames"))) ||
				        (rc = strv_from(&r->categories,
				                 &r->ncategories,
				                 astra__json_get(
				                         e, "categories"))))
					break;
			} else if (pass == 1 && slash) {
				size_t pl = (size_t)(slash - name);
				for (size_t k = first; k < into->n; k++) {
					astra__kube_resource *r =
					        &into->resources[k];
					if (strlen(r->resource) == pl &&
					        !strncmp(r->resource, name,
					                pl)) {
						rc = push_str(&r->subresources,
						        &r->nsubresources,
						        slash + 1);
						break;
					}
				}
			}
		}
	}
	astra__json_free(j);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Fetching                                                            */
/* ------------------------------------------------------------------ */

static int fetch(astra__kube *k, const char *path, const char *accept,
        astra_buf *body, char **ctype)
{
	astra__kube_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.path = path;
	rq.accept = accept;
	rq.verb = "discover";
	rq.what = path;
	return astra__kube_do(k, &rq, body, ctype);
}

static int is_aggregated(const char *ctype)
{
	return ctype && strstr(ctype, "as=APIGroupDiscoveryList") != NULL;
}

/* 1 when aggregated discovery was used; 0 when the server does not
 * serve it (then nothing was added). */
static int try_aggregated(astra__kube *k, astra__kube_discovery *d)
{
	static const char *const paths[] = { "/api", "/apis" };
	astra__kube_discovery tmp;
	memset(&tmp, 0, sizeof(tmp));
	for (int i = 0; i < 2; i++) {
		astra_buf b = ASTRA_BUF_INIT;
		char *ct = NULL;
		int rc = fetch(k, paths[i], ACCEPT_AGGREGATED, &b, &ct);
		if (!rc && !is_aggregated(ct)) {
			/* not served: classic discovery */
			free(ct);
			astra_buf_dispose(&b);
			astra__kube_discovery_clear(&tmp);
			return 0;
		}
		if (!rc)
			rc = astra__kube_parse_aggregated(b.ptr, b.size, &tmp);
		free(ct);
		astra_buf_dispose(&b);
		if (rc) {
			astra__kube_discovery_clear(&tmp);
			return rc;
		}
	}
	*d = tmp;
	d->aggregated = 1;
	return 1;
}

static int classic_version(astra__kube *k, const char *group,
        const char *version, int preferred, astra__kube_discovery *d)
{
	char path[600];
	if (*group)
		snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
	else
		snprintf(path, sizeof(path), "/api/%s", version);
	astra_buf b = ASTRA_BUF_INIT;
	int rc = fetch(k, path, NULL, &b, NULL);
	if (!rc)
		rc = astra__kube_parse_resource_list(
		        b.ptr, b.size, group, version, preferred, d);
	astra_buf_dispose(&b);
	return rc;
}

static int classic(astra__kube *k, astra__kube_discovery *d)
{
	astra__json *j = NULL;
	int rc = astra__kube_get_json(k, "/api", "discovery /api", &j);
	if (rc)
		return rc;
	const astra__json *vs = astra__json_get(j, "versions");
	for (size_t i = 0; !rc && i < astra__json_size(vs); i++) {
		const char *v = astra__json_string_value(astra__json_at(vs, i));
		if (v)
			rc = classic_version(k, "", v, i == 0, d);
	}
	astra__json_free(j);
	if (rc)
		return rc;
	rc = astra__kube_get_json(k, "/apis", "discovery /apis", &j);
	if (rc)
		return rc;
	const astra__json *groups = astra__json_get(j, "groups");
	for (size_t g = 0; !rc && g < astra__json_size(groups); g++) {
		const astra__json *grp = astra__json_at(groups, g);
		const char *gname = astra__json_str(grp, "name");
		const char *pref = astra__json_str(
		        astra__json_get(grp, "preferredVersion"), "version");
		const astra__json *vers = astra__json_get(grp, "versions");
		for (size_t v = 0; gname && !rc && v < astra__json_size(vers);
		        v++) {
			const char *vname = astra__json_str(
			        astra__json_at(vers, v), "version");
			if (!vname)
				continue;
			int is_pref = pref ? !strcmp(pref, vname) : v == 0;
			rc = classic_version(k, gname, vname, is_pref, d);
			if (rc && rc != ASTRA_ENOMEM) {
				/* an unavailable aggregated API: skip it */
				astra__log_warn(
				        "%s", astra_error_last()->message);
				rc = 0;
			}
		}
	}
	astra__json_free(j);
	return rc;
}

static void disc_unref(astra__kube_disc *x)
{
	if (!x || --x->refs > 0)
		return;
	astra__kube_discovery_clear(&x->d);
	free(x);
}

void astra__kube_disc_drop(astra__kube *k)
{
	pthread_mutex_lock(&k->disc_mu);
	astra__kube_disc *x = k->disc;
	k->disc = NULL;
	disc_unref(x);
	pthread_mutex_unlock(&k->disc_mu);
}

void astra__kube_discovery_force_classic(astra__kube *k, int classic_only)
{
	k->force_classic = classic_only;
	astra__kube_disc_drop(k);
}

int astra__kube_discovery_get(
        astra__kube *k, int refresh, const astra__kube_discovery **out)
{
	*out = NULL;
	pthread_mutex_lock(&k->disc_mu);
	if (k->disc && !refresh) {
		k->disc->refs++;
		*out = &k->disc->d;
		pthread_mutex_unlock(&k->disc_mu);
		return 0;
	}
	pthread_mutex_unlock(&k->disc_mu);

	astra__kube_disc *x = astra__calloc(1, sizeof(*x));
	ASTRA_CHECK_ALLOC(x);
	x->refs = 1;
	uint64_t t0 = astra__mono_ns();
	int rc = k->force_classic ? 0 : try_aggregated(k, &x->d);
	if (rc == 0)
		rc = classic(k, &x->d);
	else if (rc == 1)
		rc = 0;
	if (rc) {
		astra__kube_discovery_clear(&x->d);
		free(x);
		return rc;
	}
	x->d.fetched_ns = astra__mono_ns();
	astra__log_debug("cluster \"%s\": discovered %zu resources (%s) in "
	                 "%llu ms",
	        k->cfg->context, x->d.n,
	        x->d.aggregated ? "aggregated" : "classic",
	        (unsigned long long)((x->d.fetched_ns - t0) / 1000000));
	pthread_mutex_lock(&k->disc_mu);
	astra__kube_disc *old = k->disc;
	k->disc = x;
	x->refs++; /* the cache's reference */
	disc_unref(old);
	*out = &x->d;
	pthread_mutex_unlock(&k->disc_mu);
	return 0;
}

void astra__kube_discovery_release(
        astra__kube *k, const astra__kube_discovery *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&k->disc_mu);
	disc_unref((astra__kube_disc *)(void *)d);
	pthread_mutex_unlock(&k->disc_mu);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

static const astra__kube_resource *match_kind(const astra__kube_discovery *d,
        const char *group, const char *version, const char *kind)
{
	const astra__kube_resource *first = NULL;
	for (size_t i = 0; i < d->n; i++) {
		const astra__kube_resource *r = &d->resources[i];
		if (strcmp(r->group, group) || strcmp(r->kind, kind))
			continue;
		if (version && *version) {
			if (!strcmp(r->version, version))
				return r;
			continue;
		}
		if (r->preferred)
			return r;
		if (!first)
			first = r;
	}
	return first;
}

int astra__kube_find_kind(astra__kube *k, const char *group,
        const char *version, const char *kind, astra__kube_resource *out)
{
	ASTRA_ASSERT_ARG(k && kind && out);
	memset(out, 0, sizeof(*out));
	if (!group)
		group = "";
	for (int attempt = 0; attempt < 2; attempt++) {
		const astra__kube_discovery *d;
		int rc = astra__kube_discovery_get(k, attempt, &d);
		if (rc)
			return rc;
		const astra__kube_resource *r =
		        match_kind(d, group, version, kind);
		if (r)
			rc = astra__kube_resource_copy(out, r);
		/* a miss refreshes discovery (a CRD installed since), but
		 * not when the result is fresh: no refresh storms */
		int fresh = astra__mono_ns() - d->fetched_ns < MISS_REFRESH_NS;
		astra__kube_discovery_release(k, d);
		if (r || rc)
			return rc;
		if (fresh)
			break;
	}
	return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
	        "cluster \"%s\": no resource type for kind \"%s\" in API group "
	        "\"%s\"%s%s (is its CRD installed?)",
	        k->cfg->context, kind, group, version ? " version " : "",
	        version ? version : "");
}

int astra__kube_find_object(
        astra__kube *k, const astra__json *obj, astra__kube_resource *out)
{
	const char *av = astra__json_str(obj, "apiVersion");
	const char *kind = astra__json_str(obj, "kind");
	if (!av || !kind || !*av || !*kind)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "object without apiVersion and kind");
	const char *slash = strchr(av, '/');
	char group[256];
	const char *version = av;
	group[0] = '\0';
	if (slash) {
		size_t n = (size_t)(slash - av);
		if (n >= sizeof(group))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
			        "apiVersion \"%.80s\" is too long", av);
		memcpy(group, av, n);
		group[n] = '\0';
		version = slash + 1;
	}
	return astra__kube_find_kind(k, group, version, kind, out);
}

static int name_matches(const astra__kube_resource *r, const char *n)
{
	if (!strcasecmp(r->resource, n) || !strcasecmp(r->singular, n) ||
	        !strcasecmp(r->kind, n))
		return 1;
	for (size_t i = 0; i < r->nshort_names; i++)
		if (!strcasecmp(r->short_names[i], n))
			return 1;
	return 0;
}

static const astra__kube_resource *match_name(
        const astra__kube_discovery *d, const char *res, const char *rest)
{
	const astra__kube_resource *best = NULL;
	int best_score = -1;
	for (size_t i = 0; i < d->n; i++) {
		const astra__kube_resource *r = &d->resources[i];
		if (!name_matches(r, res))
			continue;
		int score;
		if (rest) {
			char vg[600];
			snprintf(vg, sizeof(vg), "%s.%s", r->version, r->group);
			if (!strcmp(rest, vg))
				score = 10;
			else if (!strcmp(rest, r->group))
				score = 5 + r->preferred;
			else
				continue;
		} else {
			score = (r->group[0] == '\0') * 4 + r->preferred * 2 +
			        !strcmp(r->resource, res);
		}
		if (score > best_score) {
			best = r;
			best_score = score;
		}
	}
	return best;
}

int astra__kube_find_resource(
        astra__kube *k, const char *name, astra__kube_resource *out)
{
	ASTRA_ASSERT_ARG(k && name && out);
	memset(out, 0, sizeof(*out));
	char res[256];
	const char *dot = strchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);
	if (n == 0 || n >= sizeof(res))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "invalid resource name \"%.80s\"", name);
	memcpy(res, name, n);
	res[n] = '\0';
	for (int attempt = 0; attempt < 2; attempt++) {
		const astra__kube_discovery *d;
		int rc = astra__kube_discovery_get(k, attempt, &d);
		if (rc)
			return rc;
		const astra__kube_resource *r =
		        match_name(d, res, dot ? dot + 1 : NULL);
		if (r)
			rc = astra__kube_resource_copy(out, r);
		/* a miss refreshes discovery (a CRD installed since), but
		 * not when the result is fresh: no refresh storms */
		int fresh = astra__mono_ns() - d->fetched_ns < MISS_REFRESH_NS;
		astra__kube_discovery_release(k, d);
		if (r || rc)
			return rc;
		if (fresh)
			break;
	}
	return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
	        "cluster \"%s\": the server has no resource type \"%s\"",
	        k->cfg->context, name);
}
