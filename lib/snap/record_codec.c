/*
 * The snapshot record's encoder and decoder (record.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "fmt/jsondec.h"
#include "snap/record.h"

void astra__snap_vol_free(astra__snap_vol *v)
{
	free(v->ns);
	free(v->pvc);
	free(v->driver);
	free(v->volume_snapshot);
	free(v->group);
	free(v->restore_size);
	free(v->consistency);
	free(v->reason);
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

/* Volume `v` as a JSON object (*out, caller frees; NULL on failure). */
static int encode_vol(const void *elem, astra__json **out)
{
	const astra__snap_vol *v = elem;
	astra__json *o = astra__json_new_object();
	int rc = o ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = astra__jenc_str(o, "namespace", v->ns)) &&
	        !(rc = astra__jenc_str(o, "pvc", v->pvc)) &&
	        !(rc = astra__jenc_str(o, "driver", v->driver)) &&
	        !(rc = astra__jenc_str(
	                  o, "volumeSnapshot", v->volume_snapshot)) &&
	        !(rc = astra__jenc_str(o, "group", v->group)) &&
	        !(rc = astra__jenc_str(o, "restoreSize", v->restore_size)) &&
	        !(rc = astra__json_set_bool(
	                  o, "readyToUse", v->ready_to_use)) &&
	        !(rc = astra__jenc_str(o, "consistency", v->consistency)))
		rc = astra__jenc_str(o, "reason", v->reason);
	if (rc) {
		astra__json_free(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

int astra__snap_rec_encode(const astra__snap_rec *rec, astra__json **out)
{
	astra__json *j = astra__json_new_object();
	int rc = j ? 0 : ASTRA_ENOMEM;
	if (!rc && !(rc = astra__jenc_str(j, "app", rec->app)) &&
	        !(rc = astra__jenc_str(j, "name", rec->name)) &&
	        !(rc = astra__jenc_str(j, "namespace", rec->ns)) &&
	        !(rc = astra__jenc_str(j, "created", rec->created)) &&
	        !(rc = astra__jenc_str(j, "state", rec->state)) &&
	        !(rc = astra__jenc_str(j, "consistency", rec->consistency)) &&
	        !(rc = astra__jenc_array(j, "volumes", rec->volumes,
	                  rec->nvolumes, sizeof(*rec->volumes), encode_vol)) &&
	        !(rc = astra__json_set_int(j, "resources", rec->resources)) &&
	        !(rc = astra__jenc_dup(j, "hooks", rec->hooks)) &&
	        !(rc = astra__jenc_dup(
	                  j, "hookDefinitions", rec->hook_definitions)) &&
	        !(rc = astra__jenc_dup(j, "warnings", rec->warnings)) &&
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

/* Where decoding is, for the errors (fmt/jsondec.h). */
#define DEC(what, prefix)                                             \
	{                                                             \
		ASTRA_ERROR_KUBE, "snapshot", (what), "field", prefix \
	}

/* Integer member `key` (0 when absent). */
static int get_int(const astra__jdec *d, const astra__json *obj,
        const char *key, int64_t *out)
{
	return astra__jdec_int(d, obj, key, out, NULL);
}

/* Volume `i` of snapshot `what` from `j` into *v (zeroed first; nothing to
 * free on failure). */
static int decode_vol(
        const astra__json *j, const char *what, size_t i, astra__snap_vol *v)
{
	astra__jdec d = DEC(what, "");
	memset(v, 0, sizeof(*v));
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu]", i);
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_KUBE,
		        "snapshot %s: field %s is not an object", what,
		        d.prefix);
	snprintf(d.prefix, sizeof(d.prefix), "volumes[%zu].", i);
	int rc;
	if ((rc = astra__jdec_str(&d, j, "namespace", 1, &v->ns)) ||
	        (rc = astra__jdec_str(&d, j, "pvc", 1, &v->pvc)) ||
	        (rc = astra__jdec_str(&d, j, "driver", 0, &v->driver)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "volumeSnapshot", 0, &v->volume_snapshot)) ||
	        (rc = astra__jdec_str(&d, j, "group", 0, &v->group)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "restoreSize", 0, &v->restore_size)) ||
	        (rc = astra__jdec_bool(
	                 &d, j, "readyToUse", &v->ready_to_use)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "consistency", 0, &v->consistency)) ||
	        (rc = astra__jdec_str(&d, j, "reason", 0, &v->reason)))
		astra__snap_vol_free(v);
	return rc;
}

/* The "volumes" array of `j` into *rec (rec->nvolumes counts the decoded
 * ones, so astra__snap_rec_free frees them on failure). */
static int decode_volumes(
        const astra__jdec *d, const astra__json *j, astra__snap_rec *rec)
{
	const astra__json *vols;
	int rc =
	        astra__jdec_member(d, j, "volumes", ASTRA_JSON_ARRAY, 1, &vols);
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
	astra__jdec d = DEC(what, "");
	memset(rec, 0, sizeof(*rec));
	if (astra__json_type_of(j) != ASTRA_JSON_OBJECT)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_KUBE,
		        "snapshot %s: the record is not a JSON object", what);
	int rc;
	if ((rc = astra__jdec_str(&d, j, "app", 1, &rec->app)) ||
	        (rc = astra__jdec_str(&d, j, "name", 1, &rec->name)) ||
	        (rc = astra__jdec_str(&d, j, "namespace", 1, &rec->ns)) ||
	        (rc = astra__jdec_str(&d, j, "created", 1, &rec->created)) ||
	        (rc = astra__jdec_str(&d, j, "state", 0, &rec->state)) ||
	        (rc = astra__jdec_str(
	                 &d, j, "consistency", 0, &rec->consistency)) ||
	        (rc = decode_volumes(&d, j, rec)) ||
	        (rc = get_int(&d, j, "resources", &rec->resources)) ||
	        (rc = astra__jdec_tree(
	                 &d, j, "hooks", ASTRA_JSON_ARRAY, &rec->hooks)) ||
	        (rc = astra__jdec_tree(&d, j, "hookDefinitions",
	                 ASTRA_JSON_ARRAY, &rec->hook_definitions)) ||
	        (rc = astra__jdec_tree(&d, j, "warnings", ASTRA_JSON_ARRAY,
	                 &rec->warnings)) ||
	        (rc = get_int(&d, j, "durationMs", &rec->duration_ms)) ||
	        (rc = get_int(&d, j, "manifestParts", &rec->manifest_parts)))
		astra__snap_rec_free(rec);
	return rc;
}
