/*
 * s3:// store: objects in an S3 or S3-compatible bucket under a prefix,
 * over lib/net (libcurl) with our own SigV4 signer (sigv4.c) and the
 * credential chain in awscreds.c.
 *
 *   s3://bucket[/prefix][?option=value&...]
 *
 * Options (docs/s3.md): endpoint, region, path-style, ca, insecure-tls,
 * proxy, profile, checksum (md5|sha256|none), payload (signed|unsigned),
 * part-size and multipart-threshold (MiB), concurrency (parallel parts),
 * timeout (seconds per attempt), retries, retry-budget (seconds).
 *
 * Every request is signed once and retried by the HTTP client (5xx, 429,
 * SlowDown, resets, timeouts) inside the retry budget; the signature stays
 * valid for 15 minutes. On top of that this file retries what the client
 * cannot see: RequestTimeTooSkewed (after correcting the clock from the
 * server's Date), expired temporary credentials, a bucket in another
 * region, 400 RequestTimeout, and the "200 OK with an <Error> body" of
 * CompleteMultipartUpload. Final errors name the S3 code, the request id
 * and the object.
 *
 * Versioned buckets: deleting a key removes every version (a plain DELETE
 * would only add a delete marker and keep the data), after checking that
 * none is under retention or a legal hold (else ASTRA_EPOLICY, and nothing
 * is removed).
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
#include "fmt/json.h"
#include "fmt/xml.h"
#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/s3.h"
#include "store/sigv4.h"
#include "store/store.h"
#include "store/url.h"

#define LIST_PAGE 1000

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
	char *endpoint, *region, *profile;
	astra__objhttp_net net; /* ca, proxy, insecure-tls, timeouts, retries */
	int path_style; /* -1 auto */
	int checksum;
	int unsigned_payload;
	long part_mib, threshold_mib, concurrency;
} s3_opts;

static const char *const checksums[] = { "auto", "md5", "sha256", "none",
	NULL }; /* CK_* */
static const char *const payloads[] = { "signed", "unsigned", NULL };

static const astra__url_opt s3_opt_list[] = {
	ASTRA__URL_STR("endpoint", s3_opts, endpoint,
	        "the S3 endpoint (scheme://host[:port]); default: AWS"),
	ASTRA__URL_STR("region", s3_opts, region, "the bucket's region"),
	ASTRA__URL_AUTO_BOOL("path-style", s3_opts, path_style,
	        "path-style addressing: auto, 0 or 1"),
	ASTRA__OBJHTTP_OPT_CA(s3_opts),
	ASTRA__OBJHTTP_OPT_INSECURE(s3_opts),
	ASTRA__OBJHTTP_OPT_PLAIN_HTTP(s3_opts),
	ASTRA__OBJHTTP_OPT_PROXY(s3_opts),
	ASTRA__URL_STR("profile", s3_opts, profile,
	        "the profile of the shared AWS config and credentials files"),
	ASTRA__URL_CHOICE("checksum", s3_opts, checksum, checksums,
	        "the checksum sent with uploads"),
	ASTRA__URL_CHOICE("payload", s3_opts, unsigned_payload, payloads,
	        "whether SigV4 signs the payload"),
	ASTRA__URL_LONG("part-size", s3_opts, part_mib, 5, 5120,
	        "multipart part size, MiB"),
	ASTRA__URL_LONG("multipart-threshold", s3_opts, threshold_mib, 1, 5120,
	        "uploads above this many MiB are multipart"),
	ASTRA__URL_LONG("concurrency", s3_opts, concurrency, 1, 64,
	        "parallel part uploads"),
	ASTRA__OBJHTTP_OPT_TIMEOUT(s3_opts),
	ASTRA__OBJHTTP_OPT_RETRIES(s3_opts),
	ASTRA__OBJHTTP_OPT_BUDGET(s3_opts),
	ASTRA__URL_END,
};

static const astra__url_opt_table s3_options = { s3_opt_list, NULL };

static int parse_opts(const char *url, const char *q, s3_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->path_style = -1;
	o->part_mib = 16;
	o->threshold_mib = 64;
	o->concurrency = 4;
	astra__objhttp_net_init(&o->net);
	return astra__url_opts_parse(url, q, &s3_options, o);
}

/* ------------------------------------------------------------------ */
/* PUT, multipart                                                      */
/* ------------------------------------------------------------------ */

static int s3_put(astra__store *st, const char *key, const void *data, size_t n,
        const astra__put_opts *opts)
{
	s3_store *s = (s3_store *)st;
	int if_absent = opts && (opts->flags & ASTRA_PUT_IF_ABSENT);
	int locked = opts && opts->retain_until;
	if (locked && !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "cannot lock %s: bucket %s has no object lock", key,
		        s->bucket);
	if (if_absent &&
	        (atomic_load(&s->no_conditional) || n > s->mp_threshold)) {
		/* best effort where the server has no conditional writes */
		astra__obj_info info;
		if (astra__s3_head_q(s, key, NULL, &info) == 0)
			return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
			        "%s already exists", key);
		if (astra_error_last()->code != ASTRA_ENOTFOUND)
			return astra_error_last()->code;
		astra_error_clear();
		if_absent = 0;
	}
	if (n > s->mp_threshold)
		return astra__s3_put_multipart(s, key, data, n, opts);
	sums sm;
	lock_hdrs lk;
	int rc = astra__s3_compute_sums(s, data, n, locked, &sm);
	if (rc)
		return rc;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	s3_req r = { 0 };
	r.method = "PUT";
	r.key = key;
	r.body = data;
	r.body_len = n;
	r.payload_hash = sm.phash;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	r.headers[0] = "Content-Type: application/octet-stream";
	if (sm.md5[0])
		astra__s3_add_header(&r, sm.md5);
	if (sm.sha[0])
		astra__s3_add_header(&r, sm.sha);
	if (locked) {
		astra__s3_make_lock(opts, &lk);
		astra__s3_add_header(&r, lk.mode);
		astra__s3_add_header(&r, lk.until);
	}
	if (if_absent)
		astra__s3_add_header(&r, "If-None-Match: *");
	s3_err e;
	rc = astra__s3_send(s, &r, &resp, &e, NULL);
	if (rc)
		goto done;
	if (resp.status >= 200 && resp.status < 300)
		goto done;
	if (if_absent &&
	        (resp.status == 412 ||
	                astra__objhttp_code_is(&e, "PreconditionFailed"))) {
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s already exists", key);
		goto done;
	}
	if (if_absent && resp.status == 409 &&
	        astra__objhttp_code_is(&e, "ConditionalRequestConflict")) {
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s was created concurrently", key);
		goto done;
	}
	if (if_absent && (resp.status == 501 || astra__objhttp_code_is(&e,
	                                                "NotImplemented"))) {
		astra__log_info("s3: %s does not support conditional writes; "
		                "checking for existing objects first",
		        s->ep_host);
		atomic_store(&s->no_conditional, 1);
		astra__http_response_dispose(&resp);
		return s3_put(st, key, data, n, opts);
	}
	rc = astra__s3_fail(s, &resp, "PUT", key, &e);
done:
	astra__http_response_dispose(&resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* GET, HEAD                                                           */
/* ------------------------------------------------------------------ */

static int s3_get(astra__store *st, const char *key, uint64_t off, uint64_t len,
        astra_buf *out)
{
	s3_store *s = (s3_store *)st;
	char range[80];
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	s3_req r = { 0 };
	r.method = "GET";
	r.key = key;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (off || len) {
		if (len)
			snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
			        (unsigned long long)off,
			        (unsigned long long)(off + len - 1));
		else
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			        (unsigned long long)off);
		r.headers[0] = range;
	}
	if (len)
		r.max_body = (size_t)len + 1;
	int rc = astra__s3_call(s, &r, &resp);
	rc = astra__objhttp_range_body(
	        rc, &resp, "S3 GET", "the Range header", key, off, len, out);
	astra__http_response_dispose(&resp);
	return rc;
}

static unsigned parse_mode(const char *m)
{
	if (!m)
		return 0;
	if (!strcasecmp(m, "GOVERNANCE"))
		return ASTRA_STORE_LOCK_GOVERNANCE;
	if (!strcasecmp(m, "COMPLIANCE"))
		return ASTRA_STORE_LOCK_COMPLIANCE;
	return 0;
}

int astra__s3_head_q(
        s3_store *s, const char *key, const char *query, astra__obj_info *info)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	s3_req r = { 0 };
	r.method = "HEAD";
	r.key = key;
	r.query = query;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	int rc = astra__s3_call(s, &r, &resp);
	if (!rc && info) {
		memset(info, 0, sizeof(*info));
		info->key = key;
		const char *cl = astra__http_header(&resp, "Content-Length");
		info->size = cl ? strtoull(cl, NULL, 10) : 0;
		int64_t t;
		const char *lm = astra__http_header(&resp, "Last-Modified");
		if (lm && astra__aws_parse_time(lm, &t) == 0)
			info->mtime_ns = t * 1000000000LL;
		const char *ru = astra__http_header(
		        &resp, "x-amz-object-lock-retain-until-date");
		if (ru && astra__aws_parse_time(ru, &t) == 0)
			info->retain_until = t;
		info->lock_mode = parse_mode(
		        astra__http_header(&resp, "x-amz-object-lock-mode"));
		const char *lh = astra__http_header(
		        &resp, "x-amz-object-lock-legal-hold");
		info->legal_hold = lh && !strcasecmp(lh, "ON");
		astra_error_clear();
	}
	astra__http_response_dispose(&resp);
	return rc;
}

static int s3_head(astra__store *st, const char *key, astra__obj_info *info)
{
	return astra__s3_head_q((s3_store *)st, key, NULL, info);
}

/* ------------------------------------------------------------------ */
/* LIST                                                                */
/* ------------------------------------------------------------------ */

static int s3_list(astra__store *st, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	s3_store *s = (s3_store *)st;
	char *full = astra__s3_full_key(s, prefix ? prefix : "");
	char *token = NULL;
	size_t plen = strlen(s->prefix);
	int rc = full ? 0 : ASTRA_ENOMEM;
	while (!rc) {
		astra_buf q = ASTRA_BUF_INIT;
		astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
		astra__xml *doc = NULL;
		rc = astra__buf_puts(&q, "list-type=2&encoding-type=url");
		if (!rc)
			rc = astra__buf_printf(&q, "&max-keys=%d", LIST_PAGE);
		if (!rc)
			rc = astra__buf_puts(&q, "&prefix=");
		if (!rc)
			rc = astra__sigv4_encode(&q, full, strlen(full), 0);
		if (!rc && token) {
			rc = astra__buf_puts(&q, "&continuation-token=");
			if (!rc)
				rc = astra__sigv4_encode(
				        &q, token, strlen(token), 0);
		}
		s3_req r = { 0 };
		r.method = "GET";
		r.query = q.ptr;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		r.max_body = 64 << 20;
		if (!rc)
			rc = astra__s3_call(s, &r, &resp);
		if (!rc)
			rc = astra__xml_parse(&doc, resp.body.ptr,
			        resp.body.size, "ListObjectsV2 response");
		if (!rc && strcmp(astra__xml_name(doc), "ListBucketResult"))
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
			        "bucket %s: ListObjectsV2 returned <%s>",
			        s->bucket, astra__xml_name(doc));
		for (const astra__xml *c =
		                rc ? NULL : astra__xml_child(doc, "Contents");
		        c && !rc; c = astra__xml_next(c, "Contents")) {
			const char *k = astra__xml_child_text(c, "Key");
			const char *sz = astra__xml_child_text(c, "Size");
			const char *lm =
			        astra__xml_child_text(c, "LastModified");
			if (!k || !sz) {
				rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
				        "bucket %s: a ListObjectsV2 entry has "
				        "no Key or Size",
				        s->bucket);
				break;
			}
			char *dk = astra__url_pct_decode(k, strlen(k));
			if (!dk) {
				rc = ASTRA_ENOMEM;
				break;
			}
			if (strncmp(dk, s->prefix, plen) == 0 && dk[plen]) {
				astra__obj_info info;
				memset(&info, 0, sizeof(info));
				info.key = dk + plen;
				info.size = strtoull(sz, NULL, 10);
				int64_t t;
				if (lm && astra__aws_parse_time(lm, &t) == 0)
					info.mtime_ns = t * 1000000000LL;
				astra_error_clear();
				rc = cb(&info, payload);
			}
			free(dk);
		}
		const char *trunc =
		        rc ? NULL : astra__xml_child_text(doc, "IsTruncated");
		const char *next = rc ? NULL
		                      : astra__xml_child_text(
		                                doc, "NextContinuationToken");
		free(token);
		token = NULL;
		int more = trunc && !strcmp(trunc, "true");
		if (more && (!next || !*next)) {
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
			        "bucket %s: ListObjectsV2 is truncated but has "
			        "no continuation token",
			        s->bucket);
		} else if (more) {
			token = astra__strdup(next);
			if (!token)
				rc = ASTRA_ENOMEM;
		}
		astra__xml_free(doc);
		astra_buf_dispose(&q);
		astra__http_response_dispose(&resp);
		if (!more)
			break;
	}
	if (rc < 0 && prefix)
		astra__err_prefix(rc, "listing %s", prefix);
	free(token);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* DELETE, retention                                                   */
/* ------------------------------------------------------------------ */

static int delete_q(s3_store *s, const char *key, const char *query)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	s3_req r = { 0 };
	r.method = "DELETE";
	r.key = key;
	r.query = query;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	s3_err e;
	int rc = astra__s3_send(s, &r, &resp, &e, NULL);
	if (!rc && !(resp.status >= 200 && resp.status < 300) &&
	        !(resp.status == 404 &&
	                !astra__objhttp_code_is(&e, "NoSuchBucket")))
		rc = astra__s3_fail(s, &resp, "DELETE", key, &e);
	astra__http_response_dispose(&resp);
	return rc;
}

typedef struct {
	char *id;
	int marker;
} version;

static void free_versions(version *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].id);
	free(v);
}

/* Every version and delete marker of exactly `key`. */
static int list_versions(s3_store *s, const char *key, version **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	char *full = astra__s3_full_key(s, key);
	char *kmark = NULL, *vmark = NULL;
	int rc = full ? 0 : ASTRA_ENOMEM;
	while (!rc) {
		astra_buf q = ASTRA_BUF_INIT;
		astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
		astra__xml *doc = NULL;
		rc = astra__buf_puts(&q, "versions=&encoding-type=url&prefix=");
		if (!rc)
			rc = astra__sigv4_encode(&q, full, strlen(full), 0);
		if (!rc && kmark) {
			rc = astra__buf_puts(&q, "&key-marker=");
			if (!rc)
				rc = astra__sigv4_encode(
				        &q, kmark, strlen(kmark), 0);
			if (!rc && vmark) {
				rc = astra__buf_puts(&q, "&version-id-marker=");
				if (!rc)
					rc = astra__sigv4_encode(
					        &q, vmark, strlen(vmark), 0);
			}
		}
		s3_req r = { 0 };
		r.method = "GET";
		r.query = q.ptr;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		r.max_body = 64 << 20;
		if (!rc)
			rc = astra__s3_call(s, &r, &resp);
		if (!rc)
			rc = astra__xml_parse(&doc, resp.body.ptr,
			        resp.body.size, "ListObjectVersions response");
		for (const astra__xml *c = rc ? NULL
		                              : astra__xml_child(doc, NULL);
		        c && !rc; c = astra__xml_next(c, NULL)) {
			int marker =
			        !strcmp(astra__xml_name(c), "DeleteMarker");
			if (!marker && strcmp(astra__xml_name(c), "Version"))
				continue;
			const char *k = astra__xml_child_text(c, "Key");
			const char *vid = astra__xml_child_text(c, "VersionId");
			char *dk =
			        k ? astra__url_pct_decode(k, strlen(k)) : NULL;
			if (dk && vid && !strcmp(dk, full)) {
				if (*n == cap) {
					cap = cap ? cap * 2 : 8;
					version *nv = astra__reallocarray(
					        *out, cap, sizeof(*nv));
					if (!nv)
						rc = ASTRA_ENOMEM;
					else
						*out = nv;
				}
				if (!rc) {
					(*out)[*n].id = astra__strdup(vid);
					(*out)[*n].marker = marker;
					if (!(*out)[(*n)++].id)
						rc = ASTRA_ENOMEM;
				}
			}
			free(dk);
		}
		const char *trunc =
		        rc ? NULL : astra__xml_child_text(doc, "IsTruncated");
		int more = trunc && !strcmp(trunc, "true");
		free(kmark);
		free(vmark);
		kmark = vmark = NULL;
		if (more) {
			const char *nk =
			        astra__xml_child_text(doc, "NextKeyMarker");
			const char *nv = astra__xml_child_text(
			        doc, "NextVersionIdMarker");
			if (!nk || !*nk)
				rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
				        "bucket %s: ListObjectVersions is "
				        "truncated but has no NextKeyMarker",
				        s->bucket);
			else {
				kmark = astra__url_pct_decode(nk, strlen(nk));
				vmark = nv && *nv ? astra__strdup(nv) : NULL;
				if (!kmark)
					rc = ASTRA_ENOMEM;
			}
		}
		astra__xml_free(doc);
		astra_buf_dispose(&q);
		astra__http_response_dispose(&resp);
		if (!more)
			break;
	}
	free(kmark);
	free(vmark);
	free(full);
	if (rc) {
		free_versions(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int version_query(astra_buf *q, const char *vid)
{
	int rc = astra__buf_puts(q, "versionId=");
	return rc ? rc : astra__sigv4_encode(q, vid, strlen(vid), 0);
}

static int s3_del(astra__store *st, const char *key)
{
	s3_store *s = (s3_store *)st;
	if (!s->versioned)
		return delete_q(s, key, NULL);
	version *v = NULL;
	size_t n = 0;
	int rc = list_versions(s, key, &v, &n);
	int64_t now = astra__wall_ns() / 1000000000LL + atomic_load(&s->skew);
	/* check every version first: all or nothing */
	for (size_t i = 0; i < n && !rc; i++) {
		if (v[i].marker || !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
			continue;
		astra_buf q = ASTRA_BUF_INIT;
		astra__obj_info info;
		rc = version_query(&q, v[i].id);
		if (!rc)
			rc = astra__s3_head_q(s, key, q.ptr, &info);
		astra_buf_dispose(&q);
		if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (info.legal_hold)
			rc = astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
			        "%s is under a legal hold (object lock) and "
			        "cannot be deleted",
			        key);
		else if (info.retain_until > now) {
			char when[24];
			astra__fmt_utc(when, info.retain_until);
			rc = astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
			        "%s is locked until %s (object lock, %s mode) "
			        "and cannot be deleted before then",
			        key, when,
			        info.lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
			                ? "governance"
			                : "compliance");
		}
	}
	for (size_t i = 0; i < n && !rc; i++) {
		astra_buf q = ASTRA_BUF_INIT;
		rc = version_query(&q, v[i].id);
		if (!rc)
			rc = delete_q(s, key, q.ptr);
		astra_buf_dispose(&q);
	}
	free_versions(v, n);
	return rc;
}

static int s3_retain(
        astra__store *st, const char *key, int64_t until, unsigned mode)
{
	s3_store *s = (s3_store *)st;
	char when[24];
	astra__fmt_utc(when, until);
	astra_buf body = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	sums sm;
	int rc = astra__buf_printf(&body,
	        "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	        "<Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate>"
	        "</Retention>",
	        astra__s3_mode_name(mode), when);
	if (!rc)
		rc = astra__s3_compute_sums(s, body.ptr, body.size, 1, &sm);
	if (!rc) {
		s3_req r = { 0 };
		r.method = "PUT";
		r.key = key;
		r.query = "retention=";
		r.body = body.ptr;
		r.body_len = body.size;
		r.payload_hash = sm.phash;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		r.headers[0] = "Content-Type: application/xml";
		if (sm.md5[0])
			astra__s3_add_header(&r, sm.md5);
		if (sm.sha[0])
			astra__s3_add_header(&r, sm.sha);
		rc = astra__s3_call(s, &r, &resp);
		if (rc)
			astra__err_prefix(
			        rc, "extending the retention to %s", when);
	}
	astra_buf_dispose(&body);
	astra__http_response_dispose(&resp);
	return rc;
}

static int s3_presign(astra__store *st, const char *method, const char *key,
        unsigned expires, char **out)
{
	s3_store *s = (s3_store *)st;
	astra_buf path = ASTRA_BUF_INIT, epath = ASTRA_BUF_INIT;
	astra_buf q = ASTRA_BUF_INIT, hostline = ASTRA_BUF_INIT;
	char *host = NULL;
	astra__aws_keys keys;
	memset(&keys, 0, sizeof(keys));
	int rc = astra__s3_build_target(s, key, &path, &host);
	if (!rc)
		rc = astra__sigv4_encode(&epath, path.ptr, path.size, 1);
	if (!rc)
		rc = astra__buf_printf(&hostline, "Host: %s", host);
	if (!rc)
		rc = astra__aws_provider_get(s->creds, 0, &keys);
	if (!rc) {
		const char *lines[] = { hostline.ptr, NULL };
		astra__aws_creds view = astra__aws_keys_view(&keys);
		astra__sigv4_req sr = { 0 };
		sr.method = method;
		sr.path = path.ptr;
		sr.headers = lines;
		sr.payload_hash = ASTRA_SIGV4_UNSIGNED_PAYLOAD;
		sr.region = s->region;
		sr.service = "s3";
		sr.time =
		        astra__wall_ns() / 1000000000LL + atomic_load(&s->skew);
		rc = astra__sigv4_presign(&sr, &view, expires, &q, NULL, NULL);
	}
	astra__aws_keys_clear(&keys);
	if (!rc) {
		*out = astra__aprintf(
		        "%s://%s%s?%s", s->scheme, host, epath.ptr, q.ptr);
		if (!*out)
			rc = ASTRA_ENOMEM;
	}
	astra_buf_dispose(&path);
	astra_buf_dispose(&epath);
	astra_buf_dispose(&q);
	astra_buf_dispose(&hostline);
	free(host);
	return rc;
}

static void s3_free(astra__store *st)
{
	s3_store *s = (s3_store *)st;
	if (!s)
		return;
	astra__http_free(s->http);
	astra__aws_provider_free(s->creds);
	free(s->bucket);
	free(s->prefix);
	free(s->scheme);
	free(s->ep_host);
	free(s->region);
	free(s->base.url);
	free(s);
}

/* The session policy of a mover Job: objects below the vault's prefix,
 * listing only that prefix, and the bucket settings a store open reads. */
static int job_policy(s3_store *s, astra_buf *out)
{
	const char *pre = s->prefix ? s->prefix : "";
	int rc = astra__buf_printf(out,
	        "{\"Version\":\"2012-10-17\",\"Statement\":["
	        "{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\","
	        "\"s3:PutObject\",\"s3:DeleteObject\",\"s3:GetObjectVersion\","
	        "\"s3:DeleteObjectVersion\",\"s3:GetObjectRetention\","
	        "\"s3:PutObjectRetention\",\"s3:GetObjectLegalHold\","
	        "\"s3:AbortMultipartUpload\",\"s3:ListMultipartUploadParts\"],"
	        "\"Resource\":[\"arn:aws:s3:::%s/%s*\"]},"
	        "{\"Effect\":\"Allow\",\"Action\":[\"s3:GetBucketVersioning\","
	        "\"s3:GetBucketObjectLockConfiguration\","
	        "\"s3:GetBucketLocation\"],"
	        "\"Resource\":[\"arn:aws:s3:::%s\"]},"
	        "{\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\","
	        "\"s3:ListBucketVersions\"],"
	        "\"Resource\":[\"arn:aws:s3:::%s\"]",
	        s->bucket, pre, s->bucket, s->bucket);
	if (!rc && *pre)
		rc = astra__buf_printf(out,
		        ",\"Condition\":{\"StringLike\":{\"s3:prefix\":"
		        "[\"%s*\"]}}",
		        pre);
	if (!rc)
		rc = astra__buf_puts(out, "}]}");
	return rc;
}

static int form_put(astra_buf *b, const char *k, const char *v)
{
	int rc = astra__buf_printf(b, "%s%s=", b->size ? "&" : "", k);
	return rc ? rc : astra__sigv4_encode(b, v, strlen(v), 0);
}

/* Session credentials for a mover Job: STS AssumeRole at the endpoint
 * (MinIO and other S3-compatible services serve it there) with the
 * session policy above, for `seconds`. AWS itself needs a role to assume,
 * which the vault URL does not name: not narrowed there. */
static int s3_job_creds(astra__store *st, unsigned seconds, astra__json *env)
{
	s3_store *s = (s3_store *)st;
	if (s->aws)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault %s: AWS STS needs a role to assume; the Jobs "
		        "get this process's credentials",
		        st->url);
	astra_buf pol = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__aws_keys k;
	memset(&k, 0, sizeof(k));
	char dur[16];
	snprintf(dur, sizeof(dur), "%u",
	        seconds < 900     ? 900
	        : seconds > 43200 ? 43200
	                          : seconds);
	int rc = job_policy(s, &pol);
	if (!rc)
		rc = form_put(&body, "Action", "AssumeRole");
	if (!rc)
		rc = form_put(&body, "Version", "2011-06-15");
	if (!rc)
		rc = form_put(&body, "DurationSeconds", dur);
	if (!rc)
		rc = form_put(&body, "Policy", pol.ptr);
	if (rc)
		goto done;
	s3_req r = { 0 };
	r.method = "POST";
	r.sts = 1;
	r.body = body.ptr;
	r.body_len = body.size;
	r.max_body = 1 << 20;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	r.headers[0] = "Content-Type: application/x-www-form-urlencoded";
	s3_err e;
	if ((rc = astra__s3_send(s, &r, &resp, &e, NULL)))
		goto done;
	if (resp.status != 200) {
		rc = astra__err(resp.status == 501 || resp.status == 400 ||
		                                resp.status == 404 ||
		                                resp.status == 405
		                        ? ASTRA_ENOTSUPPORTED
		                        : ASTRA_EAUTH,
		        ASTRA_ERROR_STORE,
		        "vault %s: STS AssumeRole at %s: HTTP %ld %s", st->url,
		        s->ep_host, resp.status, e.code);
		goto done;
	}
	if ((rc = astra__aws_parse_sts_action(
	             resp.body.ptr, resp.body.size, "AssumeRole", &k)))
		goto done;
	if (astra__json_set_str(env, "AWS_ACCESS_KEY_ID", k.access_key) ||
	        astra__json_set_str(
	                env, "AWS_SECRET_ACCESS_KEY", k.secret_key) ||
	        astra__json_set_str(env, "AWS_SESSION_TOKEN", k.session_token))
		rc = ASTRA_ENOMEM;
done:
	astra__aws_keys_clear(&k);
	astra_buf_dispose(&pol);
	if (body.ptr)
		astra__wipe(body.ptr, body.size);
	astra_buf_dispose(&body);
	astra__http_response_dispose(&resp);
	return rc;
}

/* An immutable vault needs a bucket with versioning and object lock. */
static int s3_worm_check(astra__store *st, int err_class)
{
	int nover = !(st->caps & ASTRA_STORE_CAP_VERSIONING);
	int nolock = !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK);
	if (nover || nolock)
		return astra__err(ASTRA_ENOTSUPPORTED, err_class,
		        "vault %s: the bucket is not a WORM bucket: %s%s%s; "
		        "create a bucket with object lock enabled (which also "
		        "enables versioning) for an immutable vault",
		        st->url, nover ? "versioning is not enabled" : "",
		        nover && nolock ? " and " : "",
		        nolock ? "object lock is not enabled" : "");
	return 0;
}

static const astra__store_ops s3_ops = {
	s3_put,
	s3_get,
	s3_head,
	s3_list,
	s3_del,
	s3_retain,
	s3_free,
	s3_presign,
	s3_worm_check,
	s3_job_creds,
};

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static int valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return 0;
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) ||
		            isdigit((unsigned char)*p) || *p == '.' ||
		            *p == '-' || *p == '_' ||
		            isupper((unsigned char)*p)))
			return 0;
	return 1;
}

static int dns_compatible(const char *b)
{
	for (const char *p = b; *p; p++)
		if (isupper((unsigned char)*p) || *p == '_')
			return 0;
	return b[0] != '-' && b[strlen(b) - 1] != '-';
}

static int is_ip_or_local(const char *host)
{
	if (!strncmp(host, "localhost", 9) &&
	        (host[9] == '\0' || host[9] == ':'))
		return 1;
	if (host[0] == '[')
		return 1; /* IPv6 literal */
	for (const char *p = host; *p && *p != ':'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return 0;
	return 1;
}

/* GET ?versioning and ?object-lock: checks the bucket and credentials. */
static int probe_bucket(s3_store *s)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__xml *doc = NULL;
	s3_err e;
	int fixable = 1;
	s3_req r = { 0 };
	r.method = "GET";
	r.query = "versioning=";
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	int rc = astra__s3_send(s, &r, &resp, &e, &fixable);
	if (rc)
		goto done;
	if (resp.status == 200) {
		if (astra__xml_parse(&doc, resp.body.ptr, resp.body.size,
		            "GetBucketVersioning response") == 0) {
			const char *st = astra__xml_child_text(doc, "Status");
			if (st && (!strcmp(st, "Enabled") ||
			                  !strcmp(st, "Suspended")))
				s->versioned = 1;
			if (st && !strcmp(st, "Enabled"))
				s->base.caps |= ASTRA_STORE_CAP_VERSIONING;
		}
		astra_error_clear();
	} else if (astra__objhttp_code_is(&e, "AccessDenied") ||
	           astra__objhttp_code_is(&e, "NotImplemented") ||
	           resp.status == 501) {
		astra__log_info("s3: cannot read the versioning of bucket %s "
		                "(%s); assuming it is not versioned",
		        s->bucket, e.code);
	} else {
		rc = astra__s3_fail(s, &resp, "GET", NULL, &e);
		goto done;
	}
	astra__xml_free(doc);
	doc = NULL;
	astra__http_response_dispose(&resp);
	r.query = "object-lock=";
	rc = astra__s3_send(s, &r, &resp, &e, NULL);
	if (rc)
		goto done;
	if (resp.status == 200 &&
	        astra__xml_parse(&doc, resp.body.ptr, resp.body.size,
	                "GetObjectLockConfiguration response") == 0) {
		const char *en =
		        astra__xml_child_text(doc, "ObjectLockEnabled");
		if (en && !strcmp(en, "Enabled"))
			s->base.caps |= ASTRA_STORE_CAP_OBJECT_LOCK;
	}
	astra_error_clear();
done:
	astra__xml_free(doc);
	astra__http_response_dispose(&resp);
	return rc;
}

static int s3_open(
        astra__store **out, const char *url, const astra__store_opts *so)
{
	*out = NULL;
	s3_store *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	s3_opts o;
	memset(&o, 0, sizeof(o));
	char *ep_env = NULL;
	const char *q;
	int rc = astra__url_named_object(url, "bucket", "s3://bucket/prefix",
	        valid_bucket, "", &s->bucket, &s->prefix, &q);
	if (rc)
		goto fail;
	if ((rc = parse_opts(url, q, &o)))
		goto fail;
	s->base.url = astra__url_display("s3", s->bucket, s->prefix);
	if (!s->base.url) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	s->base.ops = &s3_ops;
	s->base.caps = ASTRA_STORE_CAP_CONDITIONAL;
	s->base.io_depth = 8;
	s->checksum = o.checksum;
	s->unsigned_payload = o.unsigned_payload;
	s->part_size = (size_t)o.part_mib * MIB;
	s->mp_threshold = (size_t)o.threshold_mib * MIB;
	s->concurrency = (unsigned)o.concurrency;

	/* region and endpoint */
	s->region_given = o.region != NULL;
	s->region = o.region ? astra__strdup(o.region)
	                     : astra__aws_default_region(o.profile);
	if (!s->region)
		s->region = astra__strdup("us-east-1");
	const char *ep = o.endpoint;
	if (!ep) {
		const char *e1 = astra__objhttp_env("AWS_ENDPOINT_URL_S3");
		const char *e2 = astra__objhttp_env("AWS_ENDPOINT_URL");
		if (e1 || e2)
			ep_env = astra__strdup(e1 ? e1 : e2);
		ep = ep_env;
	}
	if (!s->region) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	if (ep) {
		if ((rc = astra__objhttp_endpoint(url, ep,
		             " (use AWS_ACCESS_KEY_ID or a profile)",
		             &s->scheme, &s->ep_host)))
			goto fail;
		s->path_style = o.path_style >= 0 ? o.path_style : 1;
		if (o.path_style < 0 && !is_ip_or_local(s->ep_host) &&
		        strstr(s->ep_host, "amazonaws.com"))
			s->path_style = 0;
	} else {
		s->aws = 1;
		s->scheme = astra__strdup("https");
		s->ep_host = astra__aprintf("s3.%s.amazonaws.com", s->region);
		if (!s->scheme || !s->ep_host) {
			rc = ASTRA_ENOMEM;
			goto fail;
		}
		/* dotted buckets do not match the wildcard certificate */
		s->path_style = o.path_style >= 0
		                        ? o.path_style
		                        : (strchr(s->bucket, '.') ||
		                                  !dns_compatible(s->bucket));
	}
	if (!s->path_style && !dns_compatible(s->bucket)) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: bucket %s cannot be addressed as a "
		        "host name; use path-style=1",
		        url, s->bucket);
		goto fail;
	}

	/* credentials and the HTTP client */
	char epurl[600];
	snprintf(epurl, sizeof(epurl), "%s://%.500s", s->scheme, s->ep_host);
	if ((rc = astra__objhttp_check_transport(s->base.url, epurl, &o.net, so,
	             "AWS credentials (the access key id, request "
	             "signatures and any session token)")))
		goto fail;
	astra__aws_provider_opts po = { 0 };
	po.profile = o.profile;
	/* STS keeps certificate verification whatever the S3 endpoint's
	 * insecure-tls says (its own endpoint, its own trust) */
	po.ca_file = astra__objhttp_ca(&o.net, so);
	po.allow_plain_http = o.net.allow_plain_http;
	po.proxy = o.net.proxy;
	po.region = s->region;
	if ((rc = astra__aws_provider_new(&s->creds, &po))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__http_config cfg;
	astra__objhttp_config(&cfg, &o.net, so);
	if ((rc = astra__http_new(&s->http, &cfg)))
		goto fail;
	if ((rc = probe_bucket(s))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__log_debug("s3: %s at %s://%s (%s, region %s, credentials from "
	                 "%s)%s%s",
	        s->base.url, s->scheme, s->ep_host,
	        s->path_style ? "path-style" : "virtual-hosted", s->region,
	        astra__aws_provider_source(s->creds),
	        s->versioned ? ", versioned" : "",
	        (s->base.caps & ASTRA_STORE_CAP_OBJECT_LOCK) ? ", object lock"
	                                                     : "");
	astra__url_opts_free(&s3_options, &o);
	free(ep_env);
	*out = &s->base;
	return 0;
fail:
	astra__url_opts_free(&s3_options, &o);
	free(ep_env);
	s3_free(&s->base);
	return rc;
}

/* What a mover Job needs to open the same bucket. */
static const char *const s3_job_env[] = { "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
	"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", NULL };

const astra__store_backend astra__store_s3_backend = {
	.scheme = "s3://",
	.open = s3_open,
	.ops = &s3_ops,
	.options = &s3_options,
	.job_env = s3_job_env,
};
