/*
 * Snapshot records: listing, reading and deleting.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra/snapshot.h"
#include "compress/compress.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "snap/record.h"
#include "snap/snap.h"

static int b64_field(const astra__json *secret, const char *key, astra_buf *out)
{
	const char *v = astra__json_str(astra__json_get(secret, "data"), key);
	if (!v)
		return ASTRA_ENOTFOUND;
	return astra__base64_decode(out, v, strlen(v));
}

static int record_of(const astra__json *secret, astra__json **out)
{
	astra_buf b = ASTRA_BUF_INIT;
	const char *name =
	        astra__json_str(astra__json_get(secret, "metadata"), "name");
	int rc = b64_field(secret, "record.json", &b);
	if (rc == ASTRA_ENOTFOUND)
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "snapshot record %s has no record.json", name);
	if (!rc)
		rc = astra__json_parse(out, b.ptr, b.size, name);
	astra_buf_dispose(&b);
	return rc;
}

static int list_records(
        astra__kube *k, const char *app, const char *name, astra__json **items)
{
	astra__kube_resource sr;
	int rc = astra__snap_secret_resource(k, &sr);
	if (rc)
		return rc;
	char sel[600];
	int n = snprintf(sel, sizeof(sel), ASTRA_SNAP_LABEL_RECORD);
	if (!name)
		n += snprintf(sel + n, sizeof(sel) - (size_t)n, "=true");
	if (app)
		n += snprintf(sel + n, sizeof(sel) - (size_t)n,
		        "," ASTRA_SNAP_LABEL_APP "=%s", app);
	if (name)
		snprintf(sel + n, sizeof(sel) - (size_t)n,
		        "," ASTRA_SNAP_LABEL_NAME "=%s", name);
	astra__kube_list_options lo = { 0 };
	lo.label_selector = sel;
	rc = astra__kube_list_all(k, &sr, NULL, &lo, items);
	astra__kube_resource_clear(&sr);
	return rc;
}

int astra__snap_load(astra__kube *k, const char *app, const char *name,
        astra__json **record, astra__json **manifests, char **secret_ns)
{
	astra__json *items = NULL;
	*record = NULL;
	if (manifests)
		*manifests = NULL;
	if (secret_ns)
		*secret_ns = NULL;
	int rc = list_records(k, app, name, &items);
	if (rc)
		return rc;
	const astra__json *main = NULL;
	size_t nparts = 0;
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *s = astra__json_at(items, i);
		const char *role =
		        astra__json_str(astra__json_path(s, "metadata.labels"),
		                ASTRA_SNAP_LABEL_RECORD);
		if (role && !strcmp(role, "true"))
			main = s;
		else
			nparts++;
	}
	if (!main) {
		astra__json_free(items);
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "app %s has no snapshot named %s", app, name);
	}
	rc = record_of(main, record);
	int64_t parts = 1;
	if (!rc) {
		astra__snap_rec sr;
		rc = astra__snap_rec_decode(*record, name, &sr);
		if (!rc && sr.manifest_parts)
			parts = sr.manifest_parts;
		astra__snap_rec_free(&sr);
	}
	if (!rc && secret_ns)
		*secret_ns = astra__strdup(astra__json_str(
		        astra__json_get(main, "metadata"), "namespace"));
	if (!rc && manifests) {
		astra_buf gz = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
		for (int64_t p = 0; p < parts && !rc; p++) {
			char want[300];
			if (p == 0)
				snprintf(want, sizeof(want),
				        ASTRA_SNAP_SECRET_PREFIX "%s", name);
			else
				snprintf(want, sizeof(want),
				        ASTRA_SNAP_SECRET_PREFIX "%s-part-%lld",
				        name, (long long)p);
			const astra__json *part = NULL;
			for (size_t i = 0; i < astra__json_size(items); i++) {
				const astra__json *s = astra__json_at(items, i);
				const char *sn = astra__json_str(
				        astra__json_get(s, "metadata"), "name");
				if (sn && !strcmp(sn, want))
					part = s;
			}
			if (!part)
				rc = astra__err(ASTRA_ECORRUPT,
				        ASTRA_ERROR_KUBE,
				        "snapshot %s: manifest part %s is missing",
				        name, want);
			else
				rc = b64_field(part, "manifests.json.gz", &gz);
		}
		if (!rc)
			rc = astra__gunzip(
			        &plain, gz.ptr, gz.size, 1u << 30, name);
		if (!rc)
			rc = astra__json_parse(
			        manifests, plain.ptr, plain.size, name);
		astra_buf_dispose(&gz);
		astra_buf_dispose(&plain);
	}
	(void)nparts;
	astra__json_free(items);
	if (rc) {
		astra__json_free(*record);
		*record = NULL;
		if (secret_ns) {
			free(*secret_ns);
			*secret_ns = NULL;
		}
	}
	return rc;
}

static int cmp_created(const void *a, const void *b)
{
	const astra__snap_rec *x = a, *y = b;
	return strcmp(x->created, y->created);
}

/* Record Secret `secret` decoded into *rec (nothing to free on failure). */
static int decode_secret(const astra__json *secret, astra__snap_rec *rec)
{
	astra__json *j = NULL;
	memset(rec, 0, sizeof(*rec));
	int rc = record_of(secret, &j);
	if (!rc)
		rc = astra__snap_rec_decode(j,
		        astra__json_str(
		                astra__json_get(secret, "metadata"), "name"),
		        rec);
	astra__json_free(j);
	return rc;
}

/* The records `recs` (m of them, sorted by creation) as a JSON array in
 * `out`, pretty. */
static int print_records(const astra__snap_rec *recs, size_t m, astra_buf *out)
{
	astra__json *arr = astra__json_new_array();
	int rc = arr ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < m; i++) {
		astra__json *r;
		if (!(rc = astra__snap_rec_encode(&recs[i], &r)))
			rc = astra__json_push(arr, r);
	}
	if (!rc)
		rc = astra__json_print_buf(out, arr, 1);
	astra__json_free(arr);
	return rc;
}

astra_status astra_snapshot_list(
        astra_cluster *c, const char *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(out);
	astra__json *items = NULL;
	int rc = list_records(astra__cluster_kube(c), app, NULL, &items);
	if (rc)
		return rc;
	size_t n = astra__json_size(items);
	astra__snap_rec *recs = astra__calloc(n + 1, sizeof(*recs));
	size_t m = 0;
	for (size_t i = 0; recs && i < n; i++) {
		if (decode_secret(astra__json_at(items, i), &recs[m]) == 0)
			m++;
		else
			astra__log_warn("%s", astra_error_last()->message);
	}
	if (!recs)
		rc = ASTRA_ENOMEM;
	else {
		qsort(recs, m, sizeof(*recs), cmp_created);
		rc = print_records(recs, m, out);
	}
	for (size_t i = 0; i < m; i++)
		astra__snap_rec_free(&recs[i]);
	free(recs);
	astra__json_free(items);
	return rc;
}

astra_status astra_snapshot_get(astra_cluster *c, const char *app,
        const char *name, int with_manifests, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	ASTRA_ASSERT_ARG(out);
	astra__json *rec = NULL, *man = NULL;
	int rc = astra__snap_load(astra__cluster_kube(c), app, name, &rec,
	        with_manifests ? &man : NULL, NULL);
	if (!rc && man)
		rc = astra__json_set(rec, "manifests", man);
	if (!rc)
		rc = astra__json_print_buf(out, rec, 1);
	astra__json_free(rec);
	return rc;
}

astra_status astra_snapshot_delete(
        astra_cluster *c, const char *app, const char *name)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	astra__kube *k = astra__cluster_kube(c);
	astra__json *j = NULL, *items = NULL;
	astra__snap_rec rec;
	char *ns = NULL;
	int rc = astra__snap_load(k, app, name, &j, NULL, &ns);
	if (rc)
		return rc;
	rc = astra__snap_rec_decode(j, name, &rec);
	astra__json_free(j);
	if (rc) {
		free(ns);
		return rc;
	}
	rc = list_records(k, app, name, &items);
	/* a backup reading the snapshot marks the record */
	for (size_t i = 0; !rc && i < astra__json_size(items); i++) {
		const char *user = astra__json_str(
		        astra__json_path(astra__json_at(items, i),
		                "metadata.annotations"),
		        ASTRA_SNAP_ANN_IN_USE);
		if (user && *user)
			rc = astra__err(ASTRA_EBUSY, ASTRA_ERROR_KUBE,
			        "snapshot %s of app %s is being read by %s; "
			        "delete it when that finishes",
			        name, app, user);
	}
	astra__kube_resource vs = { 0 }, vgs = { 0 }, sr = { 0 };
	int have_vs = 0, have_vgs = 0;
	if (!rc) {
		have_vs = astra__kube_find_kind(k, "snapshot.storage.k8s.io",
		                  NULL, "VolumeSnapshot", &vs) == 0;
		have_vgs =
		        astra__kube_find_kind(k, "groupsnapshot.storage.k8s.io",
		                NULL, "VolumeGroupSnapshot", &vgs) == 0;
		astra_error_clear();
	}
	for (size_t i = 0; !rc && i < rec.nvolumes; i++) {
		const char *vns = rec.volumes[i].ns;
		const char *group = rec.volumes[i].group;
		const char *vsn = rec.volumes[i].volume_snapshot;
		int r2 = 0;
		if (group && have_vgs)
			r2 = astra__kube_delete(k, &vgs, vns, group, NULL);
		else if (vsn && have_vs)
			r2 = astra__kube_delete(k, &vs, vns, vsn, NULL);
		if (r2 && r2 != ASTRA_ENOTFOUND)
			rc = r2;
	}
	if (!rc)
		rc = astra__snap_secret_resource(k, &sr);
	for (size_t i = 0; !rc && i < astra__json_size(items); i++) {
		const astra__json *md =
		        astra__json_get(astra__json_at(items, i), "metadata");
		int r2 = astra__kube_delete(k, &sr,
		        astra__json_str(md, "namespace"),
		        astra__json_str(md, "name"), NULL);
		if (r2 && r2 != ASTRA_ENOTFOUND)
			rc = r2;
	}
	astra__kube_resource_clear(&vs);
	astra__kube_resource_clear(&vgs);
	astra__kube_resource_clear(&sr);
	astra__snap_rec_free(&rec);
	astra__json_free(items);
	free(ns);
	return rc;
}

int astra__snap_mark_in_use(
        astra__kube *k, const char *app, const char *name, const char *user)
{
	astra__json *rec = NULL;
	char *ns = NULL;
	int rc = astra__snap_load(k, app, name, &rec, NULL, &ns);
	astra__json_free(rec);
	if (rc)
		return rc;
	astra__kube_resource sr;
	rc = astra__snap_secret_resource(k, &sr);
	char *patch = NULL;
	if (!rc) {
		patch = user ? astra__aprintf("{\"metadata\":{\"annotations\":{"
		                              "\"" ASTRA_SNAP_ANN_IN_USE
		                              "\":\"%s\"}}}",
		                       user)
		             : astra__strdup(
		                       "{\"metadata\":{\"annotations\":{"
		                       "\"" ASTRA_SNAP_ANN_IN_USE "\":null}}}");
		char secret[300];
		snprintf(secret, sizeof(secret), ASTRA_SNAP_SECRET_PREFIX "%s",
		        name);
		rc = patch ? astra__kube_patch(k, &sr, ns, secret,
		                     ASTRA_KUBE_PATCH_MERGE, patch,
		                     strlen(patch), NULL, NULL)
		           : ASTRA_ENOMEM;
		astra__kube_resource_clear(&sr);
	}
	free(patch);
	free(ns);
	return rc;
}
