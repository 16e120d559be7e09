/*
 * The snapshot record's encoder and decoder (record.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "snap/record.h"

void astra__snap_vol_free(astra__snap_vol *v)
{
	free(v->ns);
	free(v->pvc);
	free(v->driver);
	free(v->volume_snapshot);
	free(v->group);
	free(v->restore_size);
	memset(v, 0, sizeof(*v));
}

void astra__snap_rec_free(astra__snap_rec *rec)
{
	for (size_t i = 0; i < rec->nvolumes; i++)
		astra__snap_vol_free(&rec->volumes[i]);
	free(rec->volumes);
	free(rec->app);
	free(rec->name);
	free(rec->ns);
	free(rec->created);
	free(rec->state);
	free(rec->consistency);
	astra__json_free(rec->hooks);
	astra__json_free(rec->hook_definitions);
	astra__json_free(rec->warnings);
	memset(rec, 0, sizeof(*rec));
}

/* ---- encoding ---- */

/* Sets string member `key` when `s` is not NULL. */
static int put_str(astra__json *obj, const char *key, const char *s)
{
	return s ? astra__json_set_str(obj, key, s) : 0;
}

/* Sets a copy of tree `v` as member `key` when `v` is not NULL. */
static int put_dup(astra__json *obj, const char *key, const astra__json *v)
{
	return v ? astra__json_set(obj, key, astra__json_dup(v)) : 0;
}

/* Volume `v` as a JSON object (*out, caller frees; NULL on failure). */
static int encode_vol(const astra__snap_vol *v, astra__json **out)
{
	astra__json *o = astra__json_new_object();
	int rc = o ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = put_str(o, "namespace", v->ns)) &&
	        !(rc = put_str(o, "pvc", v->pvc)) &&
	        !(rc = put_str(o, "driver", v->driver)) &&
	        !(rc = put_str(o, "volumeSnapshot", v->volume_snapshot)) &&
	        !(rc = put_str(o, "group", v->group)) &&
	        !(rc = put_str(o, "restoreSize", v->restore_size)))
		rc = astra__json_set_bool(o, "readyToUse", v->ready_to_use);
	if (rc) {
		astra__json_free(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

/* The "volumes" array of `rec` set on `j`. */
static int encode_volumes(const astra__snap_rec *rec, astra__json *j)
{
	astra__json *arr = astra__json_new_array();
	int rc = arr ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < rec->nvolumes; i++) {
		astra__json *o;
		if (!(rc = encode_vol(&rec->volumes[i], &o)))
			rc = astra__json_push(arr, o);
	}
	if (rc) {
		astra__json_free(arr);
		return rc;
	}
	return astra__json_set(j, "volumes", arr);
}

int astra__snap_rec_encode(const astra__snap_rec *rec, astra__json **out)
{
	astra__json *j = astra__json_new_object();
	int rc = j ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = put_str(j, "app", rec->app)) &&
	        !(rc = put_str(j, "name", rec->name)) &&
	        !(rc = put_str(j, "namespace", rec->ns)) &&
	        !(rc = put_str(j, "created", rec->created)) &&
	        !(rc = put_str(j, "state", rec->state)) &&
	        !(rc = put_str(j, "consistency", rec->consistency)) &&
	        !(rc = encode_volumes(rec, j)) &&
	        !(rc = astra__json_set_int(j, "resources", rec->resources)) &&
	        !(rc = put_dup(j, "hooks", rec->hooks)) &&
	        !(rc = put_dup(j, "hookDefinitions", rec->hook_definitions)) &&
	        !(rc = put_dup(j, "warnings", rec->warnings)) &&
	        !(rc = astra__json_set_int(
	                  j, "durationMs", rec->duration_ms)) &&
	        rec->manifest_parts)
		rc = astra__json_set_int(
		        j, "manifestParts", rec->manifest_parts);
	if (rc) {
		astra__json_free(j);
		j = NULL;
	}
	*out = j;
	return rc;
}

/* ---- decoding ---- */

/* Where decoding is: the snapshot's name and the path of the object being
 * read ("" for the record, "volumes[2]." for a volume), for the errors. */
typedef struct {
	const char *what;
	char prefix[48];
} decoder;

static int bad_field(const decoder *d, const char *key, const char *problem)
{
	return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_KUBE,
	        "snapshot %s: field %s%s %s", d->what, d->prefix, key, problem);
}

/* Member `key` of `obj` when it has type `t` (*out NULL when absent and not
 * `required`); ASTRA_ECORRUPT naming it when missing or of another type. */
static int member(const decoder *d, const astra__json *obj, const char *key,
        astra__json_type t, int required, const astra__json **out)
{
	static const char *const names[] = { "", "null", "a boolean",
		"a number", "a string", "an array", "an object" };
	const astra__json *m = astra__json_get(obj, key);
	*out = NULL;
	if (!m)
		return required ? bad_field(d, key, "is missing") : 0;
	if (astra__json_type_of(m) != t) {
		char problem[32];
		snprintf(problem, sizeof(problem), "is not %s", names[t]);
		return bad_field(d, key, problem);
	}
	*out = m;
	return 0;
}

/* String member `key` copied to *out (NULL when absent, not `required`). */
static int get_str(const decoder *d, const astra__json *obj, const char *key,
        int required, char **out)
{
	const astra__json *m;
	int rc = member(d, obj, key, ASTRA_JSON_STRING, required, &m);
	if (rc || !m)
		return rc;
	*out = astra__strdup(astra__json_string_value(m));
	return *out ? 0 : astra__err_oom();
}

/* Integer member `key` (0 when absent). */
static int get_int(
        const decoder *d, const astra__json *obj, const char *key, int64_t *out)
{
	const astra__json *m;
	int rc = member(d, obj, key, ASTRA_JSON_NUMBER, 0, &m);
	if (!rc && m)
		*out = (int64_t)astra__json_number_value(m);
	return rc;
}

/* Boolean member `key` (0 when absent). */
static int get_bool(
        const decoder *d, const astra__json *obj, const char *key, int *out)
{
	const astra__json *m;
	int rc = member(d, obj, key, ASTRA_JSON_BOOL, 0, &m);
	if (!rc && m)
		*out = astra__json_bool(obj, key, 0);
	return rc;
}

/* A copy of array member `key` (NULL when absent). */
static int get_array(const decoder *d, const astra__json *obj, const char *key,
        astra__json **out)
{
	const astra__json *m;
	int rc = member(d, obj, key, ASTRA_JSON_ARRAY, 0, &m);
	if (rc || !m)
		return rc;
	*out = astra__json_dup(m);
	return *out ? 0 : ASTRA_ENOMEM;
}

/* Volume `i` of snapshot `what` from `j` into *v (zeroed first; nothing to
 * free on failure). */
static int decode_vol(
        const astra__json *j, const char *what, size_t i, astra__snap_vol *v)
{
	decoder d = { what, "" };
	memset(v, 0, sizeof(*v));
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu]", i);
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_KUBE,
		        "snapshot %s: field %s is not an object", what,
		        d.prefix);
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu].", i);
	int rc;
	if ((rc = get_str(&d, j, "namespace", 1, &v->ns)) ||
	        (rc = get_str(&d, j, "pvc", 1, &v->pvc)) ||
	        (rc = get_str(&d, j, "driver", 0, &v->driver)) ||
	        (rc = get_str(
	                 &d, j, "volumeSnapshot", 0, &v->volume_snapshot)) ||
	        (rc = get_str(&d, j, "group", 0, &v->group)) ||
	        (rc = get_str(&d, j, "restoreSize", 0, &v->restore_size)) ||
	        (rc = get_bool(&d, j, "readyToUse", &v->ready_to_use)))
		astra__snap_vol_free(v);
	return rc;
}

/* The "volumes" array of `j` into *rec (rec->nvolumes counts the decoded
 * ones, so astra__snap_rec_free frees them on failure). */
static int decode_volumes(
        const decoder *d, const astra__json *j, astra__snap_rec *rec)
{
	const astra__json *vols;
	int rc = member(d, j, "volumes", ASTRA_JSON_ARRAY, 1, &vols);
	if (rc)
		return rc;
	size_t n = astra__json_size(vols);
	rec->volumes = astra__calloc(n + 1, sizeof(*rec->volumes));
	if (!rec->volumes)
		return astra__err_oom();
	size_t i = 0;
	for (const astra__json *v = astra__json_first(vols); v && !rc;
	        v = astra__json_next(v), i++)
		if (!(rc = decode_vol(v, d->what, i, &rec->volumes[i])))
			rec->nvolumes = i + 1;
	return rc;
}

int astra__snap_rec_decode(
        const astra__json *j, const char *what, astra__snap_rec *rec)
{
	decoder d = { what, "" };
	memset(rec, 0, sizeof(*rec));
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_KUBE,
		        "snapshot %s: the record is not a JSON object", what);
	int rc;
	if ((rc = get_str(&d, j, "app", 1, &rec->app)) ||
	        (rc = get_str(&d, j, "name", 1, &rec->name)) ||
	        (rc = get_str(&d, j, "namespace", 1, &rec->ns)) ||
	        (rc = get_str(&d, j, "created", 1, &rec->created)) ||
	        (rc = get_str(&d, j, "state", 0, &rec->state)) ||
	        (rc = get_str(&d, j, "consistency", 0, &rec->consistency)) ||
	        (rc = decode_volumes(&d, j, rec)) ||
	        (rc = get_int(&d, j, "resources", &rec->resources)) ||
	        (rc = get_array(&d, j, "hooks", &rec->hooks)) ||
	        (rc = get_array(
	                 &d, j, "hookDefinitions", &rec->hook_definitions)) ||
	        (rc = get_array(&d, j, "warnings", &rec->warnings)) ||
	        (rc = get_int(&d, j, "durationMs", &rec->duration_ms)) ||
	        (rc = get_int(&d, j, "manifestParts", &rec->manifest_parts)))
		astra__snap_rec_free(rec);
	return rc;
}
