/*
 * The gs:// store's JSON API resources and errors: bucket and object
 * resources, error responses and their mapping to astra codes (gcs.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "store/awscreds.h"
#include "store/gcs.h"
#include "store/objhttp.h"

/* ------------------------------------------------------------------ */
/* Resources and errors (gcs.h)                                        */
/* ------------------------------------------------------------------ */

int astra__gcs_json_i64(
        const astra__json *o, const char *k, int64_t def, int64_t *out)
{
	const astra__json *v = astra__json_get(o, k);
	*out = def;
	if (!v)
		return 0;
	if (astra__json_type_of(v) == ASTRA_JSON_NUMBER) {
		double n = astra__json_number_value(v);
		if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0))
			return ASTRA_EPARSE; /* outside int64_t */
		*out = (int64_t)n;
		return 0;
	}
	const char *s = astra__json_string_value(v);
	if (!s || !*s)
		return ASTRA_EPARSE;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (*end || errno)
		return ASTRA_EPARSE;
	*out = (int64_t)x;
	return 0;
}

int astra__gcs_parse_bucket(const astra__json *b, astra__gcs_bucket *out)
{
	memset(out, 0, sizeof(*out));
	const astra__json *v = astra__json_get(b, "versioning");
	out->versioning = v && astra__json_bool(v, "enabled", 0);
	const astra__json *orr = astra__json_get(b, "objectRetention");
	const char *mode = orr ? astra__json_str(orr, "mode") : NULL;
	out->object_retention = mode && !strcmp(mode, "Enabled");
	const astra__json *rp = astra__json_get(b, "retentionPolicy");
	if (rp) {
		if (astra__gcs_json_i64(
		            rp, "retentionPeriod", 0, &out->retention_period) ||
		        out->retention_period < 0)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
			        "the bucket's retentionPolicy.retentionPeriod "
			        "is not a number of seconds");
		out->retention_locked = astra__json_bool(rp, "isLocked", 0);
	}
	return 0;
}

int astra__gcs_parse_object(
        const astra__json *o, astra__obj_info *info, int64_t *generation)
{
	memset(info, 0, sizeof(*info));
	int64_t size, t;
	if (!astra__json_get(o, "size") ||
	        astra__gcs_json_i64(o, "size", 0, &size) || size < 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
		        "an object resource has no valid size");
	info->size = (uint64_t)size;
	const char *upd = astra__json_str(o, "updated");
	if (upd && astra__aws_parse_time(upd, &t) == 0)
		info->mtime_ns = t * 1000000000LL;
	const astra__json *r = astra__json_get(o, "retention");
	if (r) {
		const char *until = astra__json_str(r, "retainUntilTime");
		const char *mode = astra__json_str(r, "mode");
		if (until && astra__aws_parse_time(until, &t) == 0)
			info->retain_until = t;
		if (mode && !strcmp(mode, "Locked"))
			info->lock_mode = ASTRA_STORE_LOCK_COMPLIANCE;
		else if (mode && !strcmp(mode, "Unlocked"))
			info->lock_mode = ASTRA_STORE_LOCK_GOVERNANCE;
	}
	const char *rexp = astra__json_str(o, "retentionExpirationTime");
	if (rexp && astra__aws_parse_time(rexp, &t) == 0 &&
	        t > info->retain_until) {
		info->retain_until = t;
		if (!info->lock_mode)
			info->lock_mode = ASTRA_STORE_LOCK_COMPLIANCE;
	}
	info->legal_hold = astra__json_bool(o, "temporaryHold", 0) ||
	                   astra__json_bool(o, "eventBasedHold", 0);
	astra_error_clear();
	if (generation && astra__gcs_json_i64(o, "generation", 0, generation))
		*generation = 0;
	return 0;
}

void astra__gcs_parse_error(const char *body, size_t n, astra__gcs_err *e)
{
	memset(e, 0, sizeof(*e));
	if (!body || !n)
		return;
	astra__json *doc = NULL;
	if (astra__json_parse(&doc, body, n, "error response")) {
		astra_error_clear();
		/* a plain-text body: keep its first line as the message */
		size_t l = 0;
		while (l < n && l < sizeof(e->message) - 1 && body[l] != '\n' &&
		        body[l] != '\r' && (unsigned char)body[l] >= 0x20)
			l++;
		memcpy(e->message, body, l);
		e->message[l] = '\0';
		return;
	}
	const astra__json *err = astra__json_get(doc, "error");
	if (err && astra__json_type_of(err) == ASTRA_JSON_OBJECT) {
		const char *m = astra__json_str(err, "message");
		const astra__json *errs = astra__json_get(err, "errors");
		const astra__json *first =
		        errs ? astra__json_first(errs) : NULL;
		const char *r = first ? astra__json_str(first, "reason") : NULL;
		if (!r)
			r = astra__json_str(err, "status");
		if (r)
			snprintf(e->reason, sizeof(e->reason), "%s", r);
		if (m)
			snprintf(e->message, sizeof(e->message), "%s", m);
	} else if (err && astra__json_type_of(err) == ASTRA_JSON_STRING) {
		/* OAuth 2.0 token endpoint: {"error": "invalid_grant", ...} */
		const char *d = astra__json_str(doc, "error_description");
		snprintf(e->reason, sizeof(e->reason), "%s",
		        astra__json_string_value(err));
		if (d)
			snprintf(e->message, sizeof(e->message), "%s", d);
	}
	astra__json_free(doc);
}

static int contains_ci(const char *s, const char *w)
{
	size_t n = strlen(w);
	for (; *s; s++)
		if (!strncasecmp(s, w, n))
			return 1;
	return 0;
}

/* GCS reasons, then statuses, to astra codes (tried in order), after the
 * retention refusals. */
static const astra__objhttp_rule gcs_rules[] = {
	{ ASTRA_EAUTH,
	        "authError|invalid_grant|invalid_client|unauthorized_client",
	        401, 401, 0 },
	{ ASTRA_EAUTH, NULL, 403, 403, 0 },
	{ ASTRA_ENOTFOUND, NULL, 404, 404, 0 },
	{ ASTRA_EEXISTS, "conditionNotMet", 412, 412, 0 },
	{ ASTRA_ECONFLICT, NULL, 409, 409, 0 },
	{ ASTRA_ECORRUPT, NULL, 416, 416, 0 },
	{ ASTRA_ENET, "rateLimitExceeded", 429, 429, 0 },
	{ ASTRA_ENET, NULL, 500, 999, 0 },
	{ ASTRA_ENOSPACE, "quotaExceeded", 413, 413, 0 },
	{ ASTRA_EINVALID, NULL, 400, 400, 0 },
	{ 0, NULL, 0, 0, 0 },
};

int astra__gcs_error_code(long st, const astra__gcs_err *e)
{
	if (!strcmp(e->reason, "retentionPolicyNotMet") ||
	        (st == 403 && (contains_ci(e->message, "retention") ||
	                              contains_ci(e->message, "hold"))))
		return ASTRA_EPOLICY;
	return astra__objhttp_classify(gcs_rules, st, e->reason);
}

int astra__gcs_object_meta(const char *name, const void *data, size_t n,
        const astra__put_opts *opts, char **out)
{
	astra__json *m = astra__json_new_object();
	astra_buf md5 = ASTRA_BUF_INIT;
	uint8_t d[ASTRA_MD5_LEN];
	int rc = m ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_set_str(m, "name", name);
	if (!rc)
		rc = astra__json_set_str(
		        m, "contentType", "application/octet-stream");
	if (!rc && data)
		rc = astra__md5(data, n, d);
	if (!rc && data)
		rc = astra__base64_encode(&md5, d, sizeof(d));
	if (!rc && data)
		rc = astra__json_set_str(m, "md5Hash", md5.ptr);
	if (!rc && opts && opts->retain_until) {
		char when[24];
		astra__fmt_utc(when, opts->retain_until);
		astra__json *r = astra__json_new_object();
		rc = r ? 0 : ASTRA_ENOMEM;
		if (!rc)
			rc = astra__json_set_str(r, "mode",
			        opts->lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
			                ? "Unlocked"
			                : "Locked");
		if (!rc)
			rc = astra__json_set_str(r, "retainUntilTime", when);
		if (!rc)
			rc = astra__json_set(m, "retention", r);
		else
			astra__json_free(r);
	}
	if (!rc)
		rc = astra__json_print(out, m, 0);
	astra__json_free(m);
	astra_buf_dispose(&md5);
	return rc;
}
