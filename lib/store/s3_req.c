/*
 * Requests of the s3:// store (s3.h): signing with SigV4, the S3-level
 * retries on top of the HTTP client's, the mapping of S3 errors, and the
 * checksum and object lock headers of uploads.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "fmt/xml.h"
#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/s3.h"
#include "store/sigv4.h"

void astra__s3_err_of(const astra__http_response *resp, s3_err *e)
{
	memset(e, 0, sizeof(*e));
	const char *rid = astra__http_header(resp, "x-amz-request-id");
	if (rid)
		snprintf(e->request_id, sizeof(e->request_id), "%s", rid);
	if (!resp->body.size)
		return;
	astra__xml *doc = NULL;
	astra__saved_err saved;
	astra__err_save(&saved);
	if (astra__xml_parse(
	            &doc, resp->body.ptr, resp->body.size, "S3 error") == 0 &&
	        !strcmp(astra__xml_name(doc), "Error")) {
		const char *c = astra__xml_child_text(doc, "Code");
		const char *m = astra__xml_child_text(doc, "Message");
		const char *r = astra__xml_child_text(doc, "RequestId");
		if (c)
			snprintf(e->code, sizeof(e->code), "%s", c);
		if (m)
			snprintf(e->message, sizeof(e->message), "%s", m);
		if (r && !e->request_id[0])
			snprintf(e->request_id, sizeof(e->request_id), "%s", r);
	}
	astra__xml_free(doc);
	astra__err_restore(&saved);
}

/* S3 error codes, then statuses, to astra codes (tried in order). */
static const astra__objhttp_rule s3_rules[] = {
	{ ASTRA_EAUTH,
	        "SignatureDoesNotMatch|InvalidAccessKeyId|InvalidToken|"
	        "ExpiredToken|TokenRefreshRequired|InvalidSecurity|"
	        "AuthorizationHeaderMalformed|AccessDenied|AllAccessDisabled|"
	        "RequestTimeTooSkewed",
	        401, 401, 0 },
	{ ASTRA_EAUTH, NULL, 403, 403, 1 },
	{ ASTRA_ENOTFOUND, "NoSuchBucket|NoSuchKey|NoSuchVersion", 404, 404,
	        0 },
	{ ASTRA_EEXISTS, "PreconditionFailed", 412, 412, 0 },
	{ ASTRA_ECONFLICT, "ConditionalRequestConflict|OperationAborted", 0, 0,
	        0 },
	{ ASTRA_EPOLICY, "ObjectLocked|InvalidRetentionPeriod", 0, 0, 0 },
	{ ASTRA_ECORRUPT, "InvalidRange", 416, 416, 0 },
	{ ASTRA_ENOTSUPPORTED, "NotImplemented", 501, 501, 0 },
	{ ASTRA_ENOSPACE, "EntityTooLarge|QuotaExceeded|XMinioStorageFull", 507,
	        507, 0 },
	{ ASTRA_ENET, "SlowDown|RequestTimeout", 429, 429, 0 },
	{ ASTRA_ENET, NULL, 500, 999, 0 },
	{ ASTRA_EINVALID,
	        "InvalidArgument|InvalidRequest|InvalidBucketName|MalformedXML",
	        0, 0, 0 },
	{ 0, NULL, 0, 0, 0 },
};

/* Maps a failed response to an astra error naming op, object and cause. */
int astra__s3_fail(s3_store *s, const astra__http_response *resp,
        const char *method, const char *key, const s3_err *e)
{
	int code = astra__objhttp_classify(s3_rules, resp->status, e->code);
	if (code == ASTRA_ENOTFOUND &&
	        astra__objhttp_code_is(e, "NoSuchBucket"))
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		        "bucket %s does not exist at %s://%s (NoSuchBucket, "
		        "request id %s)",
		        s->bucket, s->scheme, s->ep_host,
		        e->request_id[0] ? e->request_id : "none");
	char where[320];
	snprintf(where, sizeof(where), "bucket %s", s->bucket);
	astra__objhttp_failure f = { 0 };
	f.service = "S3";
	f.op = method;
	f.key = key;
	f.whole = "(bucket)";
	f.where = where;
	f.code = e->code;
	f.no_code = "no S3 code";
	f.absent = "NoSuchKey";
	f.message = e->message;
	f.request_id = e->request_id;
	return astra__objhttp_fail(code, resp, &f);
}

/* The object's absolute key in the bucket. */
char *astra__s3_full_key(s3_store *s, const char *key)
{
	return astra__aprintf("%s%s", s->prefix, key);
}

int astra__s3_build_target(
        s3_store *s, const char *key, astra_buf *path, char **host)
{
	int rc = 0;
	*host = s->path_style ? astra__strdup(s->ep_host)
	                      : astra__aprintf("%s.%s", s->bucket, s->ep_host);
	if (!*host)
		return ASTRA_ENOMEM;
	if (s->path_style) {
		rc = astra__buf_putc(path, '/');
		if (!rc)
			rc = astra__buf_puts(path, s->bucket);
	}
	if (!rc && key) {
		char *fk = astra__s3_full_key(s, key);
		if (!fk)
			return ASTRA_ENOMEM;
		rc = astra__buf_putc(path, '/');
		if (!rc)
			rc = astra__buf_puts(path, fk);
		free(fk);
	} else if (!rc && !s->path_style) {
		rc = astra__buf_putc(path, '/');
	}
	return rc;
}

static int hex_sha256(const void *data, size_t n, char out[65])
{
	uint8_t d[32];
	int rc = astra__sha256(data, n, d);
	if (!rc)
		astra__hex_encode(out, d, sizeof(d));
	return rc;
}

/* Sends one signed request (with the HTTP client's retries). */
static int send_once(s3_store *s, const s3_req *r, int force_creds,
        astra__http_response *resp)
{
	astra_buf path = ASTRA_BUF_INIT, epath = ASTRA_BUF_INIT;
	astra_buf url = ASTRA_BUF_INIT, added = ASTRA_BUF_INIT;
	astra_buf hostline = ASTRA_BUF_INIT;
	char *host = NULL;
	char phash[65];
	const char *lines[MAX_EXTRA_HEADERS + 8];
	size_t nl = 0;
	astra__aws_keys keys;
	memset(&keys, 0, sizeof(keys));
	int rc = 0;
	if (r->sts) {
		host = astra__strdup(s->ep_host);
		rc = host ? astra__buf_putc(&path, '/') : ASTRA_ENOMEM;
	} else {
		rc = astra__s3_build_target(s, r->key, &path, &host);
	}
	if (!rc)
		rc = astra__sigv4_encode(&epath, path.ptr, path.size, 1);
	if (!rc)
		rc = astra__buf_printf(&url, "%s://%s%s%s%s", s->scheme, host,
		        epath.ptr, r->query && *r->query ? "?" : "",
		        r->query ? r->query : "");
	if (!rc)
		rc = astra__buf_printf(&hostline, "Host: %s", host);
	if (rc)
		goto done;
	const char *ph = r->payload_hash;
	if (!ph) {
		if (s->unsigned_payload && r->body_len)
			ph = ASTRA_SIGV4_UNSIGNED_PAYLOAD;
		else if ((rc = hex_sha256(
		                  r->body ? r->body : "", r->body_len, phash)))
			goto done;
		else
			ph = phash;
	}
	lines[nl++] = hostline.ptr;
	for (size_t i = 0; i < MAX_EXTRA_HEADERS && r->headers[i]; i++)
		lines[nl++] = r->headers[i];
	lines[nl] = NULL;
	if ((rc = astra__aws_provider_get(s->creds, force_creds, &keys)))
		goto done;
	astra__aws_creds view = astra__aws_keys_view(&keys);
	astra__sigv4_req sr = { 0 };
	sr.method = r->method;
	sr.path = path.ptr;
	sr.query = r->query;
	sr.headers = lines;
	sr.payload_hash = ph;
	sr.region = s->region;
	sr.service = r->sts ? "sts" : "s3";
	sr.time = astra__wall_ns() / 1000000000LL + atomic_load(&s->skew);
	sr.flags = ASTRA_SIGV4_CONTENT_SHA256;
	rc = astra__sigv4_sign(&sr, &view, &added, NULL, NULL);
	astra__aws_keys_clear(&keys);
	if (rc)
		goto done;
	/* the signer's lines ("Name: value\n" each) become headers */
	for (char *p = added.ptr; p && *p && nl < MAX_EXTRA_HEADERS + 7;) {
		char *e = strchr(p, '\n');
		if (!e)
			break;
		*e = '\0';
		lines[nl++] = p;
		p = e + 1;
	}
	lines[nl] = NULL;
	astra__http_request req = { 0 };
	req.method = r->method;
	req.url = url.ptr;
	req.headers = lines;
	req.body = r->body;
	req.body_len = r->body_len;
	req.max_body = r->max_body;
	req.retry = r->retry;
	if (!req.body &&
	        (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")))
		req.body = "";
	rc = astra__http_do(s->http, &req, resp);
done:
	astra_buf_dispose(&path);
	astra_buf_dispose(&epath);
	astra_buf_dispose(&url);
	astra_buf_dispose(&added); /* wiped: it held the Authorization */
	astra_buf_dispose(&hostline);
	free(host);
	return rc;
}

static int set_region(s3_store *s, const char *region)
{
	char *r = astra__strdup(region);
	char *h = s->aws ? astra__aprintf("s3.%s.amazonaws.com", region) : NULL;
	if (!r || (s->aws && !h)) {
		free(r);
		free(h);
		return ASTRA_ENOMEM;
	}
	free(s->region);
	s->region = r;
	if (h) {
		free(s->ep_host);
		s->ep_host = h;
	}
	return 0;
}

/*
 * Sends with the S3-level retries described at the top. Returns 0 with
 * resp filled when a response arrived (the caller checks the status), or
 * an error. `e` receives the error details of a non-2xx response.
 */
int astra__s3_send(s3_store *s, const s3_req *r, astra__http_response *resp,
        s3_err *e, int *region_fixable)
{
	int skew_fixed = 0, creds_fixed = 0, region_fixed = 0, timeouts = 0;
	for (;;) {
		int force = creds_fixed == 1;
		int rc = send_once(s, r, force, resp);
		if (force)
			creds_fixed = 2;
		if (rc)
			return rc;
		memset(e, 0, sizeof(*e));
		if (resp->status >= 200 && resp->status < 300)
			return 0;
		astra__s3_err_of(resp, e);
		if (astra__log_enabled(ASTRA_LOG_DEBUG))
			astra__log_debug("s3: %s %s -> %ld %s (request id %s)",
			        r->method, r->key ? r->key : "(bucket)",
			        resp->status, e->code, e->request_id);
		if (astra__objhttp_code_is(e, "RequestTimeTooSkewed") &&
		        !skew_fixed) {
			long long skew;
			skew_fixed = 1;
			if (astra__objhttp_server_skew(resp, &skew)) {
				atomic_store(&s->skew, skew);
				astra__log_warn(
				        "s3: the clock differs from %s's "
				        "by %lld s; correcting",
				        s->ep_host, skew);
				continue;
			}
		}
		if ((astra__objhttp_code_is(e, "ExpiredToken") ||
		            astra__objhttp_code_is(e, "TokenRefreshRequired") ||
		            astra__objhttp_code_is(e, "InvalidToken")) &&
		        !creds_fixed) {
			creds_fixed = 1;
			continue;
		}
		const char *br =
		        astra__http_header(resp, "x-amz-bucket-region");
		if (br && *br && !s->region_given && !region_fixed &&
		        strcmp(br, s->region) &&
		        (resp->status == 301 || resp->status == 400 ||
		                resp->status == 403)) {
			region_fixed = 1;
			if (region_fixable && *region_fixable) {
				astra__log_info("s3: bucket %s is in region %s",
				        s->bucket, br);
				int r2 = set_region(s, br);
				if (r2)
					return r2;
				continue;
			}
		}
		if (astra__objhttp_code_is(e, "RequestTimeout") &&
		        timeouts++ < 3) {
			astra__objhttp_pause(200, (unsigned)timeouts);
			continue;
		}
		return 0;
	}
}

/* A request whose only acceptable outcome is 2xx. */
int astra__s3_call(s3_store *s, const s3_req *r, astra__http_response *resp)
{
	s3_err e;
	int rc = astra__s3_send(s, r, resp, &e, NULL);
	if (rc)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	return astra__s3_fail(s, resp, r->method, r->key, &e);
}

int astra__s3_add_header(s3_req *r, const char *line)
{
	for (size_t i = 0; i < MAX_EXTRA_HEADERS - 1; i++)
		if (!r->headers[i]) {
			r->headers[i] = line;
			r->headers[i + 1] = NULL;
			return 0;
		}
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
	        "too many S3 request headers");
}

/* ------------------------------------------------------------------ */
/* Checksums and object lock headers                                   */
/* ------------------------------------------------------------------ */

int astra__s3_compute_sums(
        s3_store *s, const void *data, size_t n, int need_md5, sums *out)
{
	memset(out, 0, sizeof(*out));
	uint8_t d[32];
	astra_buf b = ASTRA_BUF_INIT;
	int rc = 0;
	if (!s->unsigned_payload || s->checksum == CK_SHA256) {
		if ((rc = astra__sha256(data, n, d)))
			return rc;
		astra__hex_encode(out->phash, d, 32);
		if (s->checksum == CK_SHA256) {
			if ((rc = astra__base64_encode(&b, d, 32)))
				return rc;
			snprintf(out->sha, sizeof(out->sha),
			        "x-amz-checksum-sha256: %s", b.ptr);
			astra_buf_dispose(&b);
		}
	}
	if (s->unsigned_payload)
		snprintf(out->phash, sizeof(out->phash), "%s",
		        ASTRA_SIGV4_UNSIGNED_PAYLOAD);
	if (s->checksum == CK_MD5 ||
	        (s->checksum == CK_AUTO && s->unsigned_payload) ||
	        (need_md5 && s->checksum != CK_SHA256)) {
		uint8_t m[16];
		if ((rc = astra__md5(data, n, m)))
			return rc;
		if ((rc = astra__base64_encode(&b, m, 16)))
			return rc;
		snprintf(out->md5, sizeof(out->md5), "Content-MD5: %s", b.ptr);
		astra_buf_dispose(&b);
	}
	return 0;
}

const char *astra__s3_mode_name(unsigned mode)
{
	return mode == ASTRA_STORE_LOCK_GOVERNANCE ? "GOVERNANCE"
	                                           : "COMPLIANCE";
}

void astra__s3_make_lock(const astra__put_opts *o, lock_hdrs *l)
{
	char when[24];
	astra__fmt_utc(when, o->retain_until);
	snprintf(l->mode, sizeof(l->mode), "x-amz-object-lock-mode: %s",
	        astra__s3_mode_name(o->lock_mode));
	snprintf(l->until, sizeof(l->until),
	        "x-amz-object-lock-retain-until-date: %s", when);
}
