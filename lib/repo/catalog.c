/*
 * The vault's named records above the data path: app-backup records
 * (`appbackups/<name>`, docs/backups.md), and what the layers above need
 * to know of the store behind a vault URL (so that they never include the
 * store's header).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "fmt/jsondec.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/catalog.h"
#include "store/store.h"

const char *astra__repo_url(const astra__repo *r)
{
	return r->store->url;
}

const char *const *astra__repo_url_job_env(const char *url)
{
	return astra__store_url_job_env(url);
}

int astra__repo_job_creds(astra__repo *r, unsigned seconds, astra__json *env)
{
	return astra__store_job_creds(r->store, seconds, env);
}

int astra__repo_url_local_dir(const char *url, char **out)
{
	return astra__store_url_local_dir(url, out);
}

int astra__appbackup_key(char *out, size_t n, const char *name)
{
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		            *p == '-' || *p == '.'))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "\"%s\" is not a valid backup name", name);
	snprintf(out, n, "appbackups/%s", name);
	return 0;
}

/* ---- the typed record ---- */

void astra__appbackup_vol_free(astra__appbackup_vol *v)
{
	free(v->ns);
	free(v->pvc);
	free(v->storage_class);
	free(v->size);
	astra__json_free(v->access_modes);
	free(v->data);
	astra__json_free(v->mover);
	free(v->consistency);
	memset(v, 0, sizeof(*v));
}

void astra__appbackup_rec_free(astra__appbackup_rec *rec)
{
	free(rec->name);
	free(rec->app);
	astra__json_free(rec->definition);
	free(rec->server);
	free(rec->context);
	free(rec->created);
	free(rec->state);
	free(rec->snapshot);
	free(rec->consistency);
	free(rec->manifests);
	for (size_t i = 0; i < rec->nvolumes; i++)
		astra__appbackup_vol_free(&rec->volumes[i]);
	free(rec->volumes);
	astra__json_free(rec->hooks);
	astra__json_free(rec->hook_definitions);
	memset(rec, 0, sizeof(*rec));
}

/* One volume as JSON; on failure *out is NULL. */
static int encode_vol(const void *elem, astra__json **out)
{
	const astra__appbackup_vol *v = elem;
	astra__json *o = astra__json_new_object();
	int rc = o ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = astra__jenc_str(o, "namespace", v->ns)) &&
	        !(rc = astra__jenc_str(o, "pvc", v->pvc)) &&
	        !(rc = astra__jenc_str(o, "storageClass", v->storage_class)) &&
	        !(rc = astra__jenc_str(o, "size", v->size)) &&
	        !(rc = astra__jenc_dup(o, "accessModes", v->access_modes)) &&
	        !(rc = astra__jenc_str(o, "data", v->data)) &&
	        !(rc = astra__json_set_int(o, "bytes", v->bytes)) &&
	        !(rc = astra__json_set_int(o, "files", v->files)) &&
	        !(rc = astra__jenc_dup(o, "mover", v->mover)))
		rc = astra__jenc_str(o, "consistency", v->consistency);
	if (rc) {
		astra__json_free(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

/* The "source" and "volumes" members; 0 or ASTRA_ENOMEM. */
static int encode_source_volumes(
        const astra__appbackup_rec *rec, astra__json *o, int source)
{
	if (source) {
		astra__json *src = astra__json_new_object();
		if (!src)
			return ASTRA_ENOMEM;
		int rc = astra__jenc_str(src, "server", rec->server);
		if (!rc)
			rc = astra__jenc_str(src, "context", rec->context);
		return rc ? (astra__json_free(src), rc)
		          : astra__json_set(o, "source", src);
	}
	return astra__jenc_array(o, "volumes", rec->volumes, rec->nvolumes,
	        sizeof(*rec->volumes), encode_vol);
}

int astra__appbackup_encode(const astra__appbackup_rec *rec, astra__json **out)
{
	astra__json *o = astra__json_new_object();
	int rc = o ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = astra__json_set_int(o, "format", rec->format)) &&
	        !(rc = astra__jenc_str(o, "name", rec->name)) &&
	        !(rc = astra__jenc_str(o, "app", rec->app)) &&
	        !(rc = astra__jenc_dup(o, "definition", rec->definition)) &&
	        !(rc = rec->has_source ? encode_source_volumes(rec, o, 1)
	                               : 0) &&
	        !(rc = astra__jenc_str(o, "created", rec->created)) &&
	        !(rc = astra__jenc_str(o, "state", rec->state)) &&
	        !(rc = astra__jenc_str(o, "snapshot", rec->snapshot)) &&
	        !(rc = astra__jenc_str(o, "consistency", rec->consistency)) &&
	        !(rc = astra__jenc_str(o, "manifests", rec->manifests)) &&
	        !(rc = astra__json_set_int(o, "resources", rec->resources)) &&
	        !(rc = encode_source_volumes(rec, o, 0)) &&
	        !(rc = astra__jenc_dup(o, "hooks", rec->hooks)) &&
	        !(rc = astra__jenc_dup(
	                  o, "hookDefinitions", rec->hook_definitions)))
		rc = astra__json_set_int(o, "durationMs", rec->duration_ms);
	if (rc) {
		astra__json_free(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

/* Where decoding is, for the errors (fmt/jsondec.h). */
#define DEC(what, prefix)                                           \
	{                                                           \
		ASTRA_ERROR_REPO, "backup", (what), "field", prefix \
	}

/* Integer member `key` (0 when absent). */
static int get_int(const astra__jdec *d, const astra__json *obj,
        const char *key, int64_t *out)
{
	return astra__jdec_int(d, obj, key, out, NULL);
}

int astra__appbackup_vol_decode(const astra__json *j, const char *what,
        size_t i, astra__appbackup_vol *v)
{
	astra__jdec d = DEC(what, "");
	memset(v, 0, sizeof(*v));
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu]", i);
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "backup %s: field %s is not an object", what, d.prefix);
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu].", i);
	int rc;
	if ((rc = astra__jdec_str(&d, j, "namespace", 1, &v->ns)) ||
	        (rc = astra__jdec_str(&d, j, "pvc", 1, &v->pvc)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "storageClass", 0, &v->storage_class)) ||
	        (rc = astra__jdec_str(&d, j, "size", 0, &v->size)) ||
	        (rc = astra__jdec_tree(&d, j, "accessModes", ASTRA_JSON_ARRAY,
	                 &v->access_modes)) ||
	        (rc = astra__jdec_str(&d, j, "data", 1, &v->data)) ||
	        (rc = get_int(&d, j, "bytes", &v->bytes)) ||
	        (rc = get_int(&d, j, "files", &v->files)) ||
	        (rc = astra__jdec_tree(
	                 &d, j, "mover", ASTRA_JSON_OBJECT, &v->mover)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "consistency", 0, &v->consistency)))
		astra__appbackup_vol_free(v);
	return rc;
}

/* The format check of every reader: a number from 1 to
 * ASTRA_APPBACKUP_FORMAT (an absent one reads as 0). */
static int check_format(
        const astra__jdec *d, const astra__json *j, int64_t *fmt)
{
	const astra__json *m;
	int rc = astra__jdec_member(d, j, "format", ASTRA_JSON_NUMBER, 0, &m);
	if (rc)
		return rc;
	*fmt = astra__json_int(j, "format", 0);
	if (*fmt < 1 || *fmt > ASTRA_APPBACKUP_FORMAT)
		return astra__err(ASTRA_EVERSION, ASTRA_ERROR_REPO,
		        "backup %s has record format %lld; this library reads "
		        "1 to %d",
		        d->what, (long long)*fmt, ASTRA_APPBACKUP_FORMAT);
	return 0;
}

/* The "source" object and the "volumes" array of `j` into *rec. */
static int decode_source_volumes(
        const astra__jdec *d, const astra__json *j, astra__appbackup_rec *rec)
{
	const astra__json *src, *vols;
	int rc = astra__jdec_member(d, j, "source", ASTRA_JSON_OBJECT, 0, &src);
	if (!rc && src) {
		astra__jdec ds = DEC(d->what, "source.");
		rec->has_source = 1;
		if (!(rc = astra__jdec_str(
		              &ds, src, "server", 0, &rec->server)))
			rc = astra__jdec_str(
			        &ds, src, "context", 0, &rec->context);
	}
	if (rc || (rc = astra__jdec_member(
	                   d, j, "volumes", ASTRA_JSON_ARRAY, 1, &vols)))
		return rc;
	size_t n = astra__json_size(vols);
	rec->volumes = astra__calloc(n + 1, sizeof(*rec->volumes));
	if (!rec->volumes)
		return astra__err_oom();
	size_t i = 0;
	for (const astra__json *v = astra__json_first(vols); v && !rc;
	        v = astra__json_next(v), i++)
		if (!(rc = astra__appbackup_vol_decode(
		              v, d->what, i, &rec->volumes[i])))
			rec->nvolumes = i + 1;
	return rc;
}

int astra__appbackup_decode(
        const astra__json *j, const char *what, astra__appbackup_rec *rec)
{
	astra__jdec d = DEC(what, "");
	memset(rec, 0, sizeof(*rec));
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "backup %s: the record is not a JSON object", what);
	int rc;
	if ((rc = check_format(&d, j, &rec->format)) ||
	        (rc = astra__jdec_str(&d, j, "name", 1, &rec->name)) ||
	        (rc = astra__jdec_str(&d, j, "app", 1, &rec->app)) ||
	        (rc = astra__jdec_tree(&d, j, "definition", ASTRA_JSON_OBJECT,
	                 &rec->definition)) ||
	        (rc = astra__jdec_str(&d, j, "created", 1, &rec->created)) ||
	        (rc = astra__jdec_str(&d, j, "state", 0, &rec->state)) ||
	        (rc = astra__jdec_str(&d, j, "snapshot", 1, &rec->snapshot)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "consistency", 0, &rec->consistency)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "manifests", 1, &rec->manifests)) ||
	        (rc = get_int(&d, j, "resources", &rec->resources)) ||
	        (rc = decode_source_volumes(&d, j, rec)) ||
	        (rc = astra__jdec_tree(
	                 &d, j, "hooks", ASTRA_JSON_ARRAY, &rec->hooks)) ||
	        (rc = astra__jdec_tree(&d, j, "hookDefinitions",
	                 ASTRA_JSON_ARRAY, &rec->hook_definitions)) ||
	        (rc = get_int(&d, j, "durationMs", &rec->duration_ms)))
		astra__appbackup_rec_free(rec);
	return rc;
}

/* Reads record `name` into *rec and checks its format; on failure *rec is
 * NULL. */
static int load_json(astra__repo *r, const char *name, astra__json **rec)
{
	char key[300];
	*rec = NULL;
	int rc = astra__appbackup_key(key, sizeof(key), name);
	if (rc)
		return rc;
	rc = astra__repo_get_json(r, key, rec);
	if (rc == ASTRA_ENOTFOUND)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "backup %s is not in vault %s", name, r->store->url);
	if (rc)
		return rc;
	astra__jdec d = DEC(name, "");
	int64_t fmt;
	if ((rc = check_format(&d, *rec, &fmt))) {
		astra__json_free(*rec);
		*rec = NULL;
	}
	return rc;
}

/* Reads and parses manifests blob `hex` of backup `name` (the index is
 * loaded first when it is not); on failure *out is NULL. */
static int load_manifests(
        astra__repo *r, const char *name, const char *hex, astra__json **out)
{
	astra__id id;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = 0;
	*out = NULL;
	if (!r->index_loaded && (rc = astra__repo_load_index(r)))
		return rc;
	rc = astra__id_parse(&id, hex);
	if (!rc)
		rc = astra__repo_read_blob(r, &id, &b);
	if (!rc)
		rc = astra__json_parse(out, b.ptr, b.size, name);
	astra_buf_dispose(&b);
	return rc;
}

int astra__appbackup_load(astra__repo *r, const char *name, astra__json **rec,
        astra__json **manifests)
{
	if (manifests)
		*manifests = NULL;
	int rc = load_json(r, name, rec);
	if (!rc && manifests &&
	        (rc = load_manifests(r, name,
	                 astra__json_str(*rec, "manifests"), manifests))) {
		astra__json_free(*rec);
		*rec = NULL;
	}
	return rc;
}

int astra__appbackup_load_rec(astra__repo *r, const char *name,
        astra__appbackup_rec *rec, astra__json **manifests)
{
	astra__json *j = NULL;
	memset(rec, 0, sizeof(*rec));
	if (manifests)
		*manifests = NULL;
	int rc = load_json(r, name, &j);
	if (!rc)
		rc = astra__appbackup_decode(j, name, rec);
	astra__json_free(j);
	if (!rc && manifests &&
	        (rc = load_manifests(r, name, rec->manifests, manifests)))
		astra__appbackup_rec_free(rec);
	return rc;
}

int astra__appbackup_exists(astra__repo *r, const char *name)
{
	char key[300];
	astra__obj_info info;
	return astra__appbackup_key(key, sizeof(key), name) == 0 &&
	       astra__store_head(r->store, key, &info) == 0;
}

typedef struct {
	astra__repo *r;
	astra__appbackup_cb cb;
	void *payload;
} list_ctx;

static int list_one(const astra__obj_info *info, void *payload)
{
	list_ctx *l = payload;
	astra__json *rec = NULL;
	if (astra__repo_get_json(l->r, info->key, &rec) != 0) {
		/* a listing shows what it can read; gc and check stop on
		 * an unreadable record instead */
		astra__log_warn("%s", astra_error_last()->message);
		return 0;
	}
	return l->cb(rec, l->payload);
}

int astra__appbackup_list(astra__repo *r, astra__appbackup_cb cb, void *payload)
{
	list_ctx l = { r, cb, payload };
	return astra__store_list(r->store, "appbackups/", list_one, &l);
}

int astra__appbackup_delete(astra__repo *r, const char *name)
{
	char key[300];
	int rc = astra__appbackup_key(key, sizeof(key), name);
	return rc ? rc : astra__store_del(r->store, key);
}
