/*
 * gs:// store: objects in a Google Cloud Storage bucket under a prefix,
 * through the JSON API (storage/v1 and upload/storage/v1) over lib/net.
 *
 *   gs://bucket[/prefix][?option=value&...]
 *
 * Options (docs/gcs.md): endpoint, auth (auto|none|token|service-account|
 * user), credentials (a key file), token-file, scope, ca, insecure-tls,
 * proxy, resumable-threshold and chunk-size (MiB), timeout, retries,
 * retry-budget.
 *
 * Why the JSON API: it is what Google documents as the primary API, it is
 * what the local emulator (fake-gcs-server) implements fully (its XML API
 * only lists and downloads), and it carries everything a vault needs in
 * one form: OAuth 2.0 bearer tokens, generation preconditions
 * (ifGenerationMatch=0 for create-if-absent), object retention and holds
 * in the object resource, resumable uploads, and bucket metadata
 * (versioning, retention policy, object retention) in one GET. HMAC keys
 * only work with the XML API and are not supported by this backend.
 *
 * Credentials (gcs_auth.c): an OAuth 2.0 access token from a service-account
 * key (a JWT signed with RS256 in lib/crypto, exchanged at the key's
 * token_uri), from an authorized-user file (refresh token), or given as is;
 * cached and refreshed five minutes before expiry or after a 401. Or none, for
 * emulators.
 *
 * Every request is retried by the HTTP client (5xx, 429, resets,
 * timeouts) inside the retry budget. Resumable uploads resume from the
 * offset the service confirms after a failed chunk.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/gcs.h"

#include <ctype.h>
#include <pthread.h>
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
#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/store.h"
#include "store/url.h"

#define MIB ((size_t)1 << 20)
#define LIST_PAGE 1000
#define RESUME_TRIES 6
#define DEFAULT_ENDPOINT "https://storage.googleapis.com"

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
	astra__store base;
	char *bucket;
	char *prefix; /* "" or "dir/sub/" */
	char *endpoint; /* scheme://host[:port], no trailing '/' */
	char *bucket_path; /* endpoint + "/storage/v1/b/" + bucket */
	astra__http *http;
	size_t resumable_threshold, chunk;
	astra__gcs_bucket binfo;
	astra__gcs_auth cred; /* credentials and the access token */
} gcs_store;

typedef struct {
	char *endpoint;
	astra__gcs_auth_opts cred; /* auth, credentials, token-file, scope */
	astra__objhttp_net net; /* ca, proxy, insecure-tls, timeouts, retries */
	long threshold_mib, chunk_mib;
} gcs_opts;

static const astra__url_opt gcs_opt_list[] = {
	ASTRA__URL_STR("endpoint", gcs_opts, endpoint,
	        "the JSON API endpoint (scheme://host[:port])"),
	ASTRA__URL_STR("auth", gcs_opts, cred.auth,
	        "auto, none, token, service-account or user"),
	ASTRA__URL_STR("credentials", gcs_opts, cred.credentials,
	        "a service-account or authorized-user key file"),
	ASTRA__URL_STR("token-file", gcs_opts, cred.token_file,
	        "a file holding an OAuth 2.0 access token"),
	ASTRA__URL_STR("scope", gcs_opts, cred.scope,
	        "read-write, full-control or an https:// scope URL"),
	ASTRA__OBJHTTP_OPT_CA(gcs_opts),
	ASTRA__OBJHTTP_OPT_INSECURE(gcs_opts),
	ASTRA__OBJHTTP_OPT_PLAIN_HTTP(gcs_opts),
	ASTRA__OBJHTTP_OPT_PROXY(gcs_opts),
	ASTRA__URL_LONG("resumable-threshold", gcs_opts, threshold_mib, 1, 5120,
	        "uploads above this many MiB are resumable"),
	ASTRA__URL_LONG("chunk-size", gcs_opts, chunk_mib, 1, 1024,
	        "resumable upload chunk size, MiB"),
	ASTRA__OBJHTTP_OPT_TIMEOUT(gcs_opts),
	ASTRA__OBJHTTP_OPT_RETRIES(gcs_opts),
	ASTRA__OBJHTTP_OPT_BUDGET(gcs_opts),
	ASTRA__URL_END,
};

static const astra__url_opt_table gcs_options = { gcs_opt_list, NULL };

static int parse_opts(const char *url, const char *q, gcs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threshold_mib = 32;
	o->chunk_mib = 16;
	astra__objhttp_net_init(&o->net);
	return astra__url_opts_parse(url, q, &gcs_options, o);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static char *full_key(gcs_store *s, const char *key)
{
	return astra__aprintf("%s%s", s->prefix, key);
}

/* endpoint/storage/v1/b/BUCKET/o/ENCODED-NAME */
static int object_url(gcs_store *s, const char *key, astra_buf *url)
{
	char *fk = full_key(s, key);
	if (!fk)
		return ASTRA_ENOMEM;
	int rc = astra__buf_printf(url, "%s/o/", s->bucket_path);
	if (!rc)
		rc = astra__http_escape(url, fk);
	free(fk);
	return rc;
}

/* Maps a failed response to an astra error naming op, object and cause. */
static int gcs_fail(gcs_store *s, const astra__http_response *resp,
        const char *method, const char *key)
{
	astra__gcs_err e;
	astra__gcs_parse_error(resp->body.ptr, resp->body.size, &e);
	long st = resp->status;
	int code = astra__gcs_error_code(st, &e);
	if (code == ASTRA_ENOTFOUND && !key)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		        "bucket %s does not exist at %s (%s, HTTP 404)",
		        s->bucket, s->endpoint,
		        e.reason[0] ? e.reason : "notFound");
	if (code == ASTRA_EAUTH)
		return astra__err(code, ASTRA_ERROR_STORE,
		        "GCS %s %s in bucket %s was refused with the "
		        "credentials of %s: %s%s%s (HTTP %ld)",
		        method, key ? key : "(bucket)", s->bucket,
		        s->cred.source,
		        e.reason[0] ? e.reason : "no reason given",
		        e.message[0] ? ": " : "", e.message, st);
	char where[320];
	snprintf(where, sizeof(where), "bucket %s", s->bucket);
	astra__objhttp_failure f = { 0 };
	f.service = "GCS";
	f.op = method;
	f.key = key;
	f.whole = "(bucket)";
	f.where = where;
	f.code = e.reason;
	f.no_code = "no reason given";
	f.absent = "notFound";
	f.message = e.message;
	f.request_id = NULL; /* GCS errors carry none */
	return astra__objhttp_fail(code, resp, &f);
}

typedef struct {
	const char *method;
	const char *url;
	const char *headers[8];
	const void *body;
	size_t body_len;
	const astra__http_reader *reader;
	size_t max_body;
	int retry;
} gcs_req;

static int gcs_send(gcs_store *s, const gcs_req *r, astra__http_response *resp)
{
	astra__http_request req = { 0 };
	req.method = r->method;
	req.url = r->url;
	req.headers = r->headers;
	req.body = r->body;
	req.body_len = r->body_len;
	req.reader = r->reader;
	req.max_body = r->max_body;
	req.retry = r->retry ? r->retry : ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (!req.body && !req.reader &&
	        (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST") ||
	                !strcmp(r->method, "PATCH")))
		req.body = "";
	int rc = astra__http_do(s->http, &req, resp);
	if (!rc && astra__log_enabled(ASTRA_LOG_DEBUG))
		astra__log_debug("gcs: %s -> %ld", r->method, resp->status);
	return rc;
}

/* A request whose only acceptable outcome is 2xx. */
static int gcs_call(gcs_store *s, const gcs_req *r, const char *key,
        astra__http_response *resp)
{
	int rc = gcs_send(s, r, resp);
	if (rc)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	return gcs_fail(s, resp, r->method, key);
}

/* ------------------------------------------------------------------ */
/* Uploads                                                             */
/* ------------------------------------------------------------------ */

/* The object resource sent with an upload. */
static int upload_meta(gcs_store *s, const char *key, const void *data,
        size_t n, const astra__put_opts *opts, char **out)
{
	char *fk = full_key(s, key);
	int rc = fk ? astra__gcs_object_meta(fk, data, n, opts, out)
	            : ASTRA_ENOMEM;
	free(fk);
	return rc;
}

/* A body made of three pieces: head, data, tail (no copy of data). */
typedef struct {
	const char *part[3];
	size_t len[3];
	size_t idx, off;
} multi_body;

static long mb_read(void *payload, char *buf, size_t n)
{
	multi_body *b = payload;
	size_t done = 0;
	while (done < n && b->idx < 3) {
		size_t left = b->len[b->idx] - b->off;
		if (!left) {
			b->idx++;
			b->off = 0;
			continue;
		}
		size_t k = left < n - done ? left : n - done;
		memcpy(buf + done, b->part[b->idx] + b->off, k);
		b->off += k;
		done += k;
	}
	return (long)done;
}

static int mb_rewind(void *payload)
{
	multi_body *b = payload;
	b->idx = 0;
	b->off = 0;
	return 0;
}

static int query_flags(astra_buf *url, int if_absent)
{
	return if_absent ? astra__buf_puts(url, "&ifGenerationMatch=0") : 0;
}

/*
 * After a retried create-if-absent answered 412: whether the object there
 * is ours (an earlier attempt succeeded but its answer was lost): same
 * size and MD5.
 */
static int is_our_object(
        gcs_store *s, const char *key, const void *data, size_t n)
{
	astra_buf url = ASTRA_BUF_INIT, md5 = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	uint8_t d[ASTRA_MD5_LEN];
	int same = 0;
	astra__saved_err saved;
	astra__err_save(&saved);
	gcs_req r = { 0 };
	r.method = "GET";
	r.max_body = 4 << 20;
	if (object_url(s, key, &url) == 0 && astra__md5(data, n, d) == 0 &&
	        astra__base64_encode(&md5, d, sizeof(d)) == 0) {
		r.url = url.ptr;
		int64_t size = -1;
		if (gcs_send(s, &r, &resp) == 0 && resp.status == 200 &&
		        astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		                "GCS object resource") == 0 &&
		        astra__gcs_json_i64(doc, "size", -1, &size) == 0 &&
		        size == (int64_t)n) {
			const char *m = astra__json_str(doc, "md5Hash");
			same = m && !strcmp(m, md5.ptr);
		}
	}
	astra__json_free(doc);
	astra_buf_dispose(&url);
	astra_buf_dispose(&md5);
	astra__http_response_dispose(&resp);
	astra__err_restore(&saved);
	return same;
}

/* uploadType=multipart: the resource and the data in one request. */
static int put_simple(gcs_store *s, const char *key, const void *data, size_t n,
        const astra__put_opts *opts, int if_absent)
{
	char *meta = NULL;
	astra_buf url = ASTRA_BUF_INIT, head = ASTRA_BUF_INIT;
	astra_buf tail = ASTRA_BUF_INIT, ctype = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	uint8_t rnd[16];
	char boundary[40];
	int rc = upload_meta(s, key, data, n, opts, &meta);
	if (!rc)
		rc = astra__random(rnd, sizeof(rnd));
	if (rc)
		goto done;
	memcpy(boundary, "astra", 5);
	astra__hex_encode(boundary + 5, rnd, sizeof(rnd));
	rc = astra__buf_printf(&url,
	        "%s/upload/storage/v1/b/%s/o?uploadType=multipart", s->endpoint,
	        s->bucket);
	if (!rc)
		rc = query_flags(&url, if_absent);
	if (!rc)
		rc = astra__buf_printf(&head,
		        "--%s\r\nContent-Type: application/json; "
		        "charset=UTF-8\r\n\r\n%s\r\n--%s\r\nContent-Type: "
		        "application/octet-stream\r\n\r\n",
		        boundary, meta, boundary);
	if (!rc)
		rc = astra__buf_printf(&tail, "\r\n--%s--\r\n", boundary);
	if (!rc)
		rc = astra__buf_printf(&ctype,
		        "Content-Type: multipart/related; boundary=%s",
		        boundary);
	if (rc)
		goto done;
	multi_body mb = { { head.ptr, data ? data : "", tail.ptr },
		{ head.size, n, tail.size }, 0, 0 };
	astra__http_reader rd = { mb_read, mb_rewind, &mb,
		(int64_t)(head.size + n + tail.size) };
	gcs_req r = { 0 };
	r.method = "POST";
	r.url = url.ptr;
	r.headers[0] = ctype.ptr;
	r.reader = &rd;
	r.max_body = 1 << 20;
	rc = gcs_send(s, &r, &resp);
	if (rc)
		goto done;
	if (resp.status >= 200 && resp.status < 300)
		goto done;
	if (if_absent && resp.status == 412) {
		if (resp.attempts > 1 && is_our_object(s, key, data, n))
			goto done; /* a lost answer to an earlier attempt */
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s already exists", key);
		goto done;
	}
	rc = gcs_fail(s, &resp, "upload", key);
done:
	free(meta);
	astra_buf_dispose(&url);
	astra_buf_dispose(&head);
	astra_buf_dispose(&tail);
	astra_buf_dispose(&ctype);
	astra__http_response_dispose(&resp);
	return rc;
}

/* The next offset from a 308's "Range: bytes=0-N" (0 when absent). */
static int64_t persisted(const astra__http_response *resp)
{
	const char *r = astra__http_header(resp, "Range");
	if (!r)
		return 0;
	const char *dash = strchr(r, '-');
	if (!dash)
		return 0;
	return strtoll(dash + 1, NULL, 10) + 1;
}

static void cancel_session(gcs_store *s, const char *session)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	gcs_req r = { 0 };
	astra__saved_err saved;
	astra__err_save(&saved);
	r.method = "DELETE";
	r.url = session;
	r.retry = ASTRA_HTTP_RETRY_NEVER;
	(void)gcs_send(s, &r, &resp);
	astra__http_response_dispose(&resp);
	astra__err_restore(&saved);
}

/* Starts a resumable upload: *session receives the session URI. */
static int start_session(gcs_store *s, const char *key, const char *data,
        size_t n, const astra__put_opts *opts, int if_absent, char **session)
{
	char *meta = NULL;
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	char lenhdr[64];
	int rc = upload_meta(s, key, data, n, opts, &meta);
	if (!rc)
		rc = astra__buf_printf(&url,
		        "%s/upload/storage/v1/b/%s/o?uploadType=resumable",
		        s->endpoint, s->bucket);
	if (!rc)
		rc = query_flags(&url, if_absent);
	if (rc)
		goto done;
	snprintf(lenhdr, sizeof(lenhdr), "X-Upload-Content-Length: %zu", n);
	gcs_req r = { 0 };
	r.method = "POST";
	r.url = url.ptr;
	r.headers[0] = "Content-Type: application/json; charset=UTF-8";
	r.headers[1] = "X-Upload-Content-Type: application/octet-stream";
	r.headers[2] = lenhdr;
	r.body = meta;
	r.body_len = strlen(meta);
	r.max_body = 1 << 20;
	rc = gcs_send(s, &r, &resp);
	if (rc)
		goto done;
	if (if_absent && resp.status == 412) {
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s already exists", key);
		goto done;
	}
	if (resp.status < 200 || resp.status >= 300) {
		rc = gcs_fail(s, &resp, "upload (start resumable)", key);
		goto done;
	}
	const char *loc = astra__http_header(&resp, "Location");
	if (!loc || !*loc) {
		rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "GCS resumable upload of %s: no session URI "
		        "(Location) in the answer",
		        key);
		goto done;
	}
	*session = astra__strdup(loc);
	if (!*session)
		rc = ASTRA_ENOMEM;
done:
	free(meta);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

/* uploadType=resumable: a session, then chunks in order. */
static int put_resumable(gcs_store *s, const char *key, const char *data,
        size_t n, const astra__put_opts *opts, int if_absent)
{
	char *session = NULL;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	char crange[96];
	int rc = start_session(s, key, data, n, opts, if_absent, &session);
	if (rc)
		goto done;
	int64_t off = 0;
	int tries = 0;
	for (;;) {
		astra__http_response_dispose(&resp);
		size_t len =
		        n - (size_t)off < s->chunk ? n - (size_t)off : s->chunk;
		gcs_req c = { 0 };
		c.method = "PUT";
		c.url = session;
		c.retry = ASTRA_HTTP_RETRY_NEVER; /* resumed below */
		c.max_body = 1 << 20;
		if (n == 0)
			snprintf(crange, sizeof(crange),
			        "Content-Range: bytes */0");
		else
			snprintf(crange, sizeof(crange),
			        "Content-Range: bytes %lld-%lld/%zu",
			        (long long)off,
			        (long long)off + (long long)len - 1, n);
		c.headers[0] = crange;
		c.body = data + off;
		c.body_len = len;
		int src = gcs_send(s, &c, &resp);
		int failed = src != 0 || astra__objhttp_transient(resp.status);
		if (!failed && (resp.status == 200 || resp.status == 201))
			break;
		if (!failed && resp.status == 308) {
			int64_t next = persisted(&resp);
			if (next <= off && len) {
				/* nothing of this chunk was kept */
				if (++tries > RESUME_TRIES) {
					rc = astra__err(ASTRA_ENET,
					        ASTRA_ERROR_STORE,
					        "GCS resumable upload of %s "
					        "makes no progress at offset "
					        "%lld",
					        key, (long long)off);
					break;
				}
			} else {
				tries = 0;
			}
			off = next;
			continue;
		}
		if (!failed) {
			if (if_absent && resp.status == 412)
				rc = astra__err(ASTRA_EEXISTS,
				        ASTRA_ERROR_STORE, "%s already exists",
				        key);
			else
				rc = gcs_fail(s, &resp, "upload (chunk)", key);
			break;
		}
		/* a transport error or 5xx: ask how much arrived, resume */
		if (++tries > RESUME_TRIES) {
			rc = src ? src
			         : gcs_fail(s, &resp, "upload (chunk)", key);
			break;
		}
		astra_error_clear();
		astra__objhttp_pause(100, (unsigned)tries);
		astra__http_response_dispose(&resp);
		snprintf(crange, sizeof(crange), "Content-Range: bytes */%zu",
		        n);
		gcs_req q = { 0 };
		q.method = "PUT";
		q.url = session;
		q.headers[0] = crange;
		q.max_body = 1 << 20;
		q.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		src = gcs_send(s, &q, &resp);
		if (src)
			continue; /* counted above; try the chunk again */
		if (resp.status == 200 || resp.status == 201)
			break;
		if (resp.status == 308) {
			off = persisted(&resp);
			continue;
		}
		if (resp.status == 404 || resp.status == 410) {
			rc = astra__err(ASTRA_ENET, ASTRA_ERROR_STORE,
			        "GCS resumable upload of %s: the session "
			        "expired (HTTP %ld)",
			        key, resp.status);
			break;
		}
	}
	if (rc && session)
		cancel_session(s, session);
	if (!rc) {
		/* the final answer is the object: it must hold n bytes */
		astra__json *obj = NULL;
		int64_t size = -1;
		if (astra__json_parse(&obj, resp.body.ptr, resp.body.size,
		            "GCS object resource") == 0)
			astra__gcs_json_i64(obj, "size", -1, &size);
		astra_error_clear();
		astra__json_free(obj);
		if (size != (int64_t)n)
			rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
			        "GCS resumable upload of %s ended with an "
			        "object of %lld bytes instead of %zu",
			        key, (long long)size, n);
	}
done:
	free(session);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_put(astra__store *st, const char *key, const void *data,
        size_t n, const astra__put_opts *opts)
{
	gcs_store *s = (gcs_store *)st;
	int if_absent = opts && (opts->flags & ASTRA_PUT_IF_ABSENT);
	if (opts && opts->retain_until &&
	        !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "cannot set a retention on %s: bucket %s has no object "
		        "retention",
		        key, s->bucket);
	if (n > s->resumable_threshold)
		return put_resumable(s, key, data, n, opts, if_absent);
	return put_simple(s, key, data, n, opts, if_absent);
}

/* ------------------------------------------------------------------ */
/* GET, HEAD                                                           */
/* ------------------------------------------------------------------ */

static int gcs_get(astra__store *st, const char *key, uint64_t off,
        uint64_t len, astra_buf *out)
{
	gcs_store *s = (gcs_store *)st;
	char range[80];
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc)
		rc = astra__buf_puts(&url, "?alt=media");
	if (rc)
		goto done;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = url.ptr;
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
	rc = gcs_call(s, &r, key, &resp);
	rc = astra__objhttp_range_body(
	        rc, &resp, "GCS GET", "the Range header", key, off, len, out);
done:
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

/* The object resource (of a generation when gen > 0). */
static int head_gen(gcs_store *s, const char *key, int64_t gen,
        astra__obj_info *info, int64_t *generation)
{
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	int rc = object_url(s, key, &url);
	if (!rc && gen > 0)
		rc = astra__buf_printf(
		        &url, "?generation=%lld", (long long)gen);
	if (rc)
		goto done;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = url.ptr;
	r.max_body = 4 << 20;
	rc = gcs_call(s, &r, key, &resp);
	if (!rc)
		rc = astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		        "GCS object resource");
	if (!rc) {
		astra__obj_info tmp;
		rc = astra__gcs_parse_object(
		        doc, info ? info : &tmp, generation);
		if (!rc && info)
			info->key = key;
	}
done:
	astra__json_free(doc);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_head(astra__store *st, const char *key, astra__obj_info *info)
{
	return head_gen((gcs_store *)st, key, 0, info, NULL);
}

/* ------------------------------------------------------------------ */
/* LIST                                                                */
/* ------------------------------------------------------------------ */

/* Calls fn for every object (every generation when versions) whose name
 * starts with `full` (a bucket-absolute prefix). */
typedef int (*item_fn)(const astra__json *item, const char *name, void *p);

static int list_raw(
        gcs_store *s, const char *full, int versions, item_fn fn, void *payload)
{
	char *token = NULL;
	int rc = 0;
	for (;;) {
		astra_buf url = ASTRA_BUF_INIT;
		astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
		astra__json *doc = NULL;
		rc = astra__buf_printf(&url,
		        "%s/o?maxResults=%d&prefix=", s->bucket_path,
		        LIST_PAGE);
		if (!rc)
			rc = astra__http_escape(&url, full);
		if (!rc && versions)
			rc = astra__buf_puts(&url, "&versions=true");
		if (!rc)
			rc = astra__buf_puts(&url,
			        "&fields=items(name,size,updated,generation),"
			        "nextPageToken");
		if (!rc && token) {
			rc = astra__buf_puts(&url, "&pageToken=");
			if (!rc)
				rc = astra__http_escape(&url, token);
		}
		gcs_req r = { 0 };
		r.method = "GET";
		r.url = url.ptr;
		r.max_body = 64 << 20;
		if (!rc)
			rc = gcs_call(s, &r, NULL, &resp);
		if (!rc)
			rc = astra__json_parse(&doc, resp.body.ptr,
			        resp.body.size, "GCS object list");
		const astra__json *items =
		        rc ? NULL : astra__json_get(doc, "items");
		for (const astra__json *it = items ? astra__json_first(items)
		                                   : NULL;
		        it && !rc; it = astra__json_next(it)) {
			const char *name = astra__json_str(it, "name");
			if (!name) {
				rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
				        "bucket %s: an object list entry has "
				        "no name",
				        s->bucket);
				break;
			}
			rc = fn(it, name, payload);
		}
		const char *next =
		        rc ? NULL : astra__json_str(doc, "nextPageToken");
		free(token);
		token = next && *next ? astra__strdup(next) : NULL;
		if (next && *next && !token)
			rc = ASTRA_ENOMEM;
		astra__json_free(doc);
		astra_buf_dispose(&url);
		astra__http_response_dispose(&resp);
		if (rc || !token)
			break;
	}
	free(token);
	return rc;
}

typedef struct {
	gcs_store *s;
	astra__store_list_cb cb;
	void *payload;
} list_ctx;

static int list_item(const astra__json *it, const char *name, void *p)
{
	list_ctx *c = p;
	size_t plen = strlen(c->s->prefix);
	if (strncmp(name, c->s->prefix, plen) || !name[plen])
		return 0;
	astra__obj_info info;
	int rc = astra__gcs_parse_object(it, &info, NULL);
	if (rc)
		return astra__err_prefix(
		        rc, "bucket %s: object %s", c->s->bucket, name);
	info.key = name + plen;
	return c->cb(&info, c->payload);
}

static int gcs_list(astra__store *st, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	gcs_store *s = (gcs_store *)st;
	char *full = full_key(s, prefix ? prefix : "");
	if (!full)
		return ASTRA_ENOMEM;
	list_ctx c = { s, cb, payload };
	int rc = list_raw(s, full, 0, list_item, &c);
	if (rc < 0 && prefix)
		astra__err_prefix(rc, "listing %s", prefix);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* DELETE, retention                                                   */
/* ------------------------------------------------------------------ */

static int delete_gen(gcs_store *s, const char *key, int64_t gen)
{
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc && gen > 0)
		rc = astra__buf_printf(
		        &url, "?generation=%lld", (long long)gen);
	gcs_req r = { 0 };
	r.method = "DELETE";
	r.url = url.ptr;
	r.max_body = 1 << 20;
	if (!rc)
		rc = gcs_send(s, &r, &resp);
	if (!rc && !(resp.status >= 200 && resp.status < 300) &&
	        resp.status != 404)
		rc = gcs_fail(s, &resp, "DELETE", key);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

typedef struct {
	const char *full;
	int64_t *gens;
	size_t n, cap;
} gen_list;

static int gen_item(const astra__json *it, const char *name, void *p)
{
	gen_list *g = p;
	int64_t gen = 0;
	if (strcmp(name, g->full))
		return 0;
	if (astra__gcs_json_i64(it, "generation", 0, &gen) || gen <= 0)
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		int64_t *ng = astra__reallocarray(g->gens, cap, sizeof(*ng));
		if (!ng)
			return ASTRA_ENOMEM;
		g->gens = ng;
		g->cap = cap;
	}
	g->gens[g->n++] = gen;
	return 0;
}

static int check_unlocked(
        gcs_store *s, const char *key, int64_t gen, int64_t now)
{
	astra__obj_info info;
	int rc = head_gen(s, key, gen, &info, NULL);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (info.legal_hold)
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is under a hold (temporary or event-based) and "
		        "cannot be deleted",
		        key);
	if (info.retain_until > now) {
		char when[24];
		astra__fmt_utc(when, info.retain_until);
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is locked until %s (GCS %s) and cannot be deleted "
		        "before then",
		        key, when,
		        info.lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
		                ? "object retention, Unlocked mode"
		                : "retention");
	}
	return 0;
}

/*
 * Deleting an absent object succeeds. In a versioned bucket every
 * generation goes. Where retention can apply (object retention or a
 * bucket retention policy), every generation is checked first: all or
 * nothing, ASTRA_EPOLICY naming the date.
 */
static int gcs_del(astra__store *st, const char *key)
{
	gcs_store *s = (gcs_store *)st;
	int guarded =
	        s->binfo.object_retention || s->binfo.retention_period > 0;
	if (!s->binfo.versioning) {
		if (guarded) {
			int rc = check_unlocked(
			        s, key, 0, astra__wall_ns() / 1000000000LL);
			if (rc)
				return rc;
		}
		return delete_gen(s, key, 0);
	}
	gen_list g = { 0 };
	g.full = NULL;
	char *full = full_key(s, key);
	if (!full)
		return ASTRA_ENOMEM;
	g.full = full;
	int rc = list_raw(s, full, 1, gen_item, &g);
	int64_t now = astra__wall_ns() / 1000000000LL;
	for (size_t i = 0; i < g.n && !rc && guarded; i++)
		rc = check_unlocked(s, key, g.gens[i], now);
	for (size_t i = 0; i < g.n && !rc; i++)
		rc = delete_gen(s, key, g.gens[i]);
	free(g.gens);
	free(full);
	return rc;
}

static int gcs_retain(
        astra__store *st, const char *key, int64_t until, unsigned mode)
{
	gcs_store *s = (gcs_store *)st;
	char when[24];
	astra__fmt_utc(when, until);
	astra_buf url = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc)
		rc = astra__buf_printf(&body,
		        "{\"retention\":{\"mode\":\"%s\",\"retainUntilTime\":"
		        "\"%s\"}}",
		        mode == ASTRA_STORE_LOCK_GOVERNANCE ? "Unlocked"
		                                            : "Locked",
		        when);
	if (!rc) {
		gcs_req r = { 0 };
		r.method = "PATCH";
		r.url = url.ptr;
		r.headers[0] = "Content-Type: application/json";
		r.body = body.ptr;
		r.body_len = body.size;
		r.max_body = 4 << 20;
		rc = gcs_call(s, &r, key, &resp);
		if (rc)
			astra__err_prefix(
			        rc, "extending the retention to %s", when);
	}
	astra_buf_dispose(&url);
	astra_buf_dispose(&body);
	astra__http_response_dispose(&resp);
	return rc;
}

static void gcs_free(astra__store *st)
{
	gcs_store *s = (gcs_store *)st;
	if (!s)
		return;
	astra__http_free(s->http);
	free(s->bucket);
	free(s->prefix);
	free(s->endpoint);
	free(s->bucket_path);
	astra__gcs_auth_free(&s->cred);
	free(s->base.url);
	free(s);
}

/* An object under retention cannot be replaced or deleted, with or without
 * versioning; what an immutable vault needs is object retention (a bucket
 * retention policy alone cannot be extended per object). */
static int gcs_worm_check(astra__store *st, int err_class)
{
	if (st->caps & ASTRA_STORE_CAP_OBJECT_LOCK)
		return 0;
	return astra__err(ASTRA_ENOTSUPPORTED, err_class,
	        "vault %s: the bucket is not a WORM bucket: object "
	        "retention is not enabled; create the bucket with "
	        "object retention (gcloud storage buckets create "
	        "--enable-per-object-retention) for an immutable vault",
	        st->url);
}

static const astra__store_ops gcs_ops = {
	gcs_put, gcs_get, gcs_head, gcs_list, gcs_del, gcs_retain, gcs_free,
	NULL, gcs_worm_check, NULL, /* job credentials: not narrowed */
};

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* Bucket names: 3-63 characters (222 with dots) of a-z 0-9 - _ . */
static int valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 222 || (n > 63 && !strchr(b, '.')))
		return 0;
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) ||
		            isdigit((unsigned char)*p) || *p == '.' ||
		            *p == '-' || *p == '_'))
			return 0;
	return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[n - 1]);
}

static int set_endpoint(gcs_store *s, const char *url, const char *ep)
{
	char *scheme = NULL, *host = NULL;
	int rc = astra__objhttp_endpoint(url, ep, NULL, &scheme, &host);
	if (!rc) {
		s->endpoint = astra__aprintf("%s://%s", scheme, host);
		if (!s->endpoint)
			rc = ASTRA_ENOMEM;
	}
	free(scheme);
	free(host);
	return rc;
}

/* GET the bucket: checks bucket and credentials, reads the capabilities. */
static int probe_bucket(gcs_store *s)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = s->bucket_path;
	r.max_body = 4 << 20;
	int rc = gcs_call(s, &r, NULL, &resp);
	if (!rc)
		rc = astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		        "GCS bucket resource");
	if (!rc)
		rc = astra__gcs_parse_bucket(doc, &s->binfo);
	if (rc)
		goto done;
	if (s->binfo.versioning)
		s->base.caps |= ASTRA_STORE_CAP_VERSIONING;
	if (s->binfo.object_retention)
		s->base.caps |= ASTRA_STORE_CAP_OBJECT_LOCK;
done:
	astra__json_free(doc);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_open(
        astra__store **out, const char *url, const astra__store_opts *so)
{
	*out = NULL;
	gcs_store *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	pthread_mutex_init(&s->cred.mu, NULL);
	gcs_opts o;
	memset(&o, 0, sizeof(o));
	int emulator = 0;
	char *ep_env = NULL;
	const char *q;
	int rc = astra__url_named_object(url, "bucket", "gs://bucket/prefix",
	        valid_bucket, "", &s->bucket, &s->prefix, &q);
	if (rc)
		goto fail;
	if ((rc = parse_opts(url, q, &o)))
		goto fail;
	s->base.url = astra__url_display("gs", s->bucket, s->prefix);
	if (!s->base.url) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	s->base.ops = &gcs_ops;
	s->base.caps = ASTRA_STORE_CAP_CONDITIONAL;
	s->base.io_depth = 8;
	s->resumable_threshold = (size_t)o.threshold_mib * MIB;
	s->chunk = (size_t)o.chunk_mib * MIB; /* a multiple of 256 KiB */
	if ((rc = astra__gcs_auth_scope(&s->cred, url, o.cred.scope)))
		goto fail;

	/* endpoint: endpoint=, $STORAGE_EMULATOR_HOST, Google */
	const char *ep = o.endpoint;
	const char *emu = astra__objhttp_env("STORAGE_EMULATOR_HOST");
	emulator = emu != NULL;
	if (!ep && emu) {
		ep_env = strstr(emu, "://") ? astra__strdup(emu)
		                            : astra__aprintf("http://%s", emu);
		if (!ep_env) {
			rc = ASTRA_ENOMEM;
			goto fail;
		}
		ep = ep_env;
	}
	if ((rc = set_endpoint(s, url, ep ? ep : DEFAULT_ENDPOINT)))
		goto fail;
	s->bucket_path =
	        astra__aprintf("%s/storage/v1/b/%s", s->endpoint, s->bucket);
	if (!s->bucket_path) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}

	if ((rc = astra__gcs_auth_setup(&s->cred, &o.cred, emulator))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	if ((rc = astra__objhttp_check_transport(s->base.url, s->endpoint,
	             &o.net, so,
	             s->cred.auth != ASTRA__GCS_AUTH_NONE ? "a bearer token"
	                                                  : NULL)))
		goto fail;
	astra__http_config cfg;
	astra__objhttp_config(&cfg, &o.net, so);
	if ((rc = astra__gcs_auth_http(
	             &s->cred, o.net.allow_plain_http, s->endpoint, &cfg)))
		goto fail;
	cfg.auth = astra__gcs_auth_line;
	cfg.auth_payload = &s->cred;
	if ((rc = astra__http_new(&s->http, &cfg)))
		goto fail;
	if ((rc = probe_bucket(s))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__log_debug("gcs: %s at %s (credentials: %s)%s%s%s", s->base.url,
	        s->endpoint, s->cred.source,
	        s->binfo.versioning ? ", versioned" : "",
	        s->binfo.object_retention ? ", object retention" : "",
	        s->binfo.retention_period ? ", bucket retention policy" : "");
	astra__url_opts_free(&gcs_options, &o);
	free(ep_env);
	*out = &s->base;
	return 0;
fail:
	astra__url_opts_free(&gcs_options, &o);
	free(ep_env);
	gcs_free(&s->base);
	return rc;
}

const astra__store_backend astra__store_gcs_backend = {
	.scheme = "gs://",
	.open = gcs_open,
	.ops = &gcs_ops,
	.options = &gcs_options,
};
