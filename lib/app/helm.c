/*
 * Helm 3 releases, read from their storage Secrets
 * (sh.helm.release.v1.<name>.v<revision>, type helm.sh/release.v1, labels
 * owner=helm, name, status, version). A Secret's data.release is base64 of
 * Helm's own encoding: base64 of gzip of the release JSON, whose "manifest"
 * is the rendered multi-document YAML.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "compress/compress.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "fmt/yaml.h"

#define MAX_RELEASE (64u << 20)

int astra__helm_decode(
        const char *data_release_b64, astra__json **release, const char *what)
{
	astra_buf once = ASTRA_BUF_INIT, twice = ASTRA_BUF_INIT;
	astra_buf plain = ASTRA_BUF_INIT;
	*release = NULL;
	int rc = astra__base64_decode(
	        &once, data_release_b64, strlen(data_release_b64));
	if (!rc)
		rc = astra__base64_decode(&twice, once.ptr, once.size);
	if (rc) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: data.release is not base64", what);
		goto done;
	}
	if (twice.size >= 2 && (unsigned char)twice.ptr[0] == 0x1f &&
	        (unsigned char)twice.ptr[1] == 0x8b)
		rc = astra__gunzip(
		        &plain, twice.ptr, twice.size, MAX_RELEASE, what);
	else
		rc = astra__buf_put(&plain, twice.ptr, twice.size);
	if (!rc)
		rc = astra__json_parse(release, plain.ptr, plain.size, what);
done:
	astra_buf_dispose(&once);
	astra_buf_dispose(&twice);
	astra_buf_dispose(&plain);
	return rc;
}

static int secret_resource(astra__kube *k, astra__kube_resource *r)
{
	return astra__kube_find_kind(k, "", "v1", "Secret", r);
}

int astra__helm_release_objects(astra__kube *k, const char *release,
        const char *ns, astra__json **objects, astra__json **secrets)
{
	*objects = NULL;
	*secrets = NULL;
	astra__kube_resource r;
	int rc = secret_resource(k, &r);
	if (rc)
		return rc;
	char sel[512];
	snprintf(sel, sizeof(sel), "owner=helm,name=%s", release);
	astra__kube_list_options lo = { 0 };
	lo.label_selector = sel;
	astra__json *items = NULL;
	rc = astra__kube_list_all(k, &r, ns, &lo, &items);
	astra__kube_resource_clear(&r);
	if (rc)
		return rc;
	/* the latest deployed revision */
	const astra__json *best = NULL;
	long best_v = -1;
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *s = astra__json_at(items, i);
		const astra__json *labels =
		        astra__json_path(s, "metadata.labels");
		const char *st = astra__json_str(labels, "status");
		const char *ver = astra__json_str(labels, "version");
		long v = ver ? strtol(ver, NULL, 10) : -1;
		if (st && !strcmp(st, "deployed") && v > best_v) {
			best = s;
			best_v = v;
		}
	}
	if (!best) {
		astra__json_free(items);
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "Helm release \"%s\" in namespace %s has no deployed "
		        "revision (no Secret labelled owner=helm,name=%s,"
		        "status=deployed)",
		        release, ns, release);
	}
	char what[512];
	snprintf(what, sizeof(what), "Helm release %s revision %ld", release,
	        best_v);
	const char *data =
	        astra__json_str(astra__json_get(best, "data"), "release");
	astra__json *rel = NULL, *docs = NULL;
	astra__json *objs = astra__json_new_array();
	if (!objs) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if (!data) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: the Secret has no data.release", what);
		goto done;
	}
	if ((rc = astra__helm_decode(data, &rel, what)))
		goto done;
	const char *manifest = astra__json_str(rel, "manifest");
	if (manifest && *manifest &&
	        (rc = astra__yaml_parse_all(
	                 &docs, manifest, strlen(manifest), what)))
		goto done;
	for (size_t i = 0; i < astra__json_size(docs); i++) {
		const astra__json *d = astra__json_at(docs, i);
		if (astra__json_type_of(d) != ASTRA_JSON_OBJECT)
			continue;
		const char *av = astra__json_str(d, "apiVersion");
		const char *kind = astra__json_str(d, "kind");
		const astra__json *md = astra__json_get(d, "metadata");
		const char *name = astra__json_str(md, "name");
		if (!av || !kind || !name)
			continue;
		/* a List expands to its items (rare in charts) */
		astra__json *o = astra__json_new_object();
		if (!o) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		const char *ons = astra__json_str(md, "namespace");
		astra__json_set_str(o, "apiVersion", av);
		astra__json_set_str(o, "kind", kind);
		astra__json_set_str(o, "name", name);
		astra__json_set_str(o, "namespace", ons ? ons : ns);
		if ((rc = astra__json_push(objs, o)))
			goto done;
	}
	*objects = objs;
	objs = NULL;
	*secrets = items;
	items = NULL;
done:
	astra__json_free(items);
	astra__json_free(rel);
	astra__json_free(docs);
	astra__json_free(objs);
	return rc;
}

int astra__helm_list_releases(astra__kube *k, astra__json **out)
{
	*out = NULL;
	astra__kube_resource r;
	int rc = secret_resource(k, &r);
	if (rc)
		return rc;
	astra__kube_list_options lo = { 0 };
	lo.label_selector = "owner=helm";
	astra__json *items = NULL;
	rc = astra__kube_list_all(k, &r, NULL, &lo, &items);
	astra__kube_resource_clear(&r);
	if (rc)
		return rc;
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && i < astra__json_size(items); i++) {
		const astra__json *md =
		        astra__json_get(astra__json_at(items, i), "metadata");
		const char *name =
		        astra__json_str(astra__json_get(md, "labels"), "name");
		const char *ns = astra__json_str(md, "namespace");
		if (!name || !ns)
			continue;
		int seen = 0;
		for (size_t j = 0; j < astra__json_size(arr) && !seen; j++) {
			const astra__json *e = astra__json_at(arr, j);
			seen = !strcmp(astra__json_str(e, "name"), name) &&
			       !strcmp(astra__json_str(e, "namespace"), ns);
		}
		if (seen)
			continue;
		astra__json *e = astra__json_new_object();
		if (!e) {
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json_set_str(e, "name", name);
		astra__json_set_str(e, "namespace", ns);
		astra__json_push(arr, e);
	}
	astra__json_free(items);
	if (!arr)
		return ASTRA_ENOMEM;
	if (rc) {
		astra__json_free(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
