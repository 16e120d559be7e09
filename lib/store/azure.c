/*
 * azure:// store: objects in an Azure Blob Storage container under a
 * prefix, over lib/net (libcurl), signed with Shared Key (HMAC-SHA256 over
 * the canonicalised request) or authorised with a SAS token (azure_auth.c).
 *
 *   azure://container[/prefix][?option=value&...]
 *
 * Options (docs/azure.md): account, endpoint, endpoint-suffix, ca,
 * insecure-tls, proxy, block-size and block-threshold (MiB), concurrency
 * (parallel blocks), list-page, timeout (seconds per attempt), retries,
 * retry-budget (seconds).
 *
 * Credentials, at open: $AZURE_STORAGE_CONNECTION_STRING, then
 * $AZURE_STORAGE_KEY (Shared Key), then $AZURE_STORAGE_SAS_TOKEN. Secrets
 * never reach messages: URLs are redacted by lib/net (the SAS's "sig").
 *
 * Uploads: Put Blob, or Put Block in parallel + Put Block List above the
 * threshold. "Create if absent" is If-None-Match: * (409 BlobAlreadyExists).
 * Immutability: a container with version-level immutability (WORM) gets
 * ASTRA_STORE_CAP_OBJECT_LOCK; each blob then carries its own immutability
 * policy (x-ms-immutability-policy-until-date/-mode), extended with Set Blob
 * Immutability Policy, and a delete removes every version after checking
 * that none is still immutable (ASTRA_EPOLICY otherwise).
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
#include "store/azure.h"
#include "store/objhttp.h"
#include "store/sigv4.h"
#include "store/store.h"
#include "store/url.h"

#define MIB ((size_t)1 << 20)
#define API_VERSION ASTRA__AZURE_API_VERSION
#define MAX_HEADERS ASTRA__AZURE_MAX_HEADERS
#define MAX_PARAMS ASTRA__AZURE_MAX_PARAMS
#define MAX_BLOCKS 50000

typedef struct {
	astra__store base;
	char *container;
	char *prefix; /* "" or "dir/sub/" */
	astra__azure_auth auth; /* account, endpoint, credentials */
	size_t block_size, threshold;
	unsigned concurrency, list_page;
	astra__http *http;
	int container_policy; /* x-ms-has-immutability-policy */
	atomic_llong skew; /* server clock minus ours, seconds */
} az_store;

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
	astra__azure_auth_opts auth; /* account, endpoint, endpoint-suffix */
	astra__objhttp_net net; /* ca, proxy, insecure-tls, timeouts, retries */
	long block_mib, threshold_mib, concurrency, list_page;
} az_opts;

static const astra__url_opt az_opt_list[] = {
	ASTRA__URL_STR("account", az_opts, auth.account, "the storage account"),
	ASTRA__URL_STR("endpoint", az_opts, auth.endpoint,
	        "the Blob service endpoint (scheme://host[:port][/path])"),
	ASTRA__URL_STR("endpoint-suffix", az_opts, auth.suffix,
	        "the endpoint suffix (default core.windows.net)"),
	ASTRA__OBJHTTP_OPT_CA(az_opts),
	ASTRA__OBJHTTP_OPT_INSECURE(az_opts),
	ASTRA__OBJHTTP_OPT_PLAIN_HTTP(az_opts),
	ASTRA__OBJHTTP_OPT_PROXY(az_opts),
	ASTRA__URL_LONG(
	        "block-size", az_opts, block_mib, 1, 4000, "block size, MiB"),
	ASTRA__URL_LONG("block-threshold", az_opts, threshold_mib, 1, 5000,
	        "uploads above this many MiB go in blocks"),
	ASTRA__URL_LONG("concurrency", az_opts, concurrency, 1, 64,
	        "parallel block uploads"),
	ASTRA__URL_LONG("list-page", az_opts, list_page, 1, 5000,
	        "blobs per List Blobs page"),
	ASTRA__OBJHTTP_OPT_TIMEOUT(az_opts),
	ASTRA__OBJHTTP_OPT_RETRIES(az_opts),
	ASTRA__OBJHTTP_OPT_BUDGET(az_opts),
	ASTRA__URL_END,
};

static const astra__url_opt_table az_options = { az_opt_list,
	"; credentials never go in the URL" };

static int parse_opts(const char *url, const char *q, az_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->block_mib = 16;
	o->threshold_mib = 64;
	o->concurrency = 4;
	o->list_page = 5000;
	astra__objhttp_net_init(&o->net);
	return astra__url_opts_parse(url, q, &az_options, o);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *method;
	const char *key; /* vault-relative key; NULL: the container */
	/* name, value pairs (values not encoded; names lowercase),
	 * NULL-terminated */
	const char *params[2 * MAX_PARAMS + 1];
	const char *headers[MAX_HEADERS]; /* NULL-terminated */
	const void *body;
	size_t body_len;
	int retry;
	size_t max_body;
} az_req;

typedef astra__objhttp_err az_err;

static void err_of(const astra__http_response *resp, az_err *e)
{
	memset(e, 0, sizeof(*e));
	const char *rid = astra__http_header(resp, "x-ms-request-id");
	if (rid)
		snprintf(e->request_id, sizeof(e->request_id), "%s", rid);
	const char *c = astra__http_header(resp, "x-ms-error-code");
	if (c)
		snprintf(e->code, sizeof(e->code), "%s", c);
	if (!resp->body.size)
		return;
	astra__xml *doc = NULL;
	astra__saved_err saved;
	astra__err_save(&saved);
	if (astra__xml_parse(&doc, resp->body.ptr, resp->body.size,
	            "Azure error") == 0 &&
	        !strcmp(astra__xml_name(doc), "Error")) {
		const char *bc = astra__xml_child_text(doc, "Code");
		const char *m = astra__xml_child_text(doc, "Message");
		if (bc && !e->code[0])
			snprintf(e->code, sizeof(e->code), "%s", bc);
		if (m) {
			/* the first line; the rest repeats the request id */
			size_t ml = strcspn(m, "\r\n");
			snprintf(e->message, sizeof(e->message), "%.*s",
			        (int)ml, m);
		}
	}
	astra__xml_free(doc);
	astra__err_restore(&saved);
}

static int code_has(const az_err *e, const char *part)
{
	return strstr(e->code, part) != NULL;
}

/* Azure error codes, then statuses, to astra codes (tried in order). */
static const astra__objhttp_rule az_rules[] = {
	{ ASTRA_EAUTH,
	        "*Authentication|*Authorization|InvalidAuthenticationInfo|"
	        "AccountIsDisabled",
	        401, 401, 0 },
	{ ASTRA_EAUTH, NULL, 403, 403, 1 },
	{ ASTRA_ENOTFOUND,
	        "ContainerNotFound|ContainerBeingDeleted|ContainerDisabled|"
	        "BlobNotFound",
	        404, 404, 0 },
	{ ASTRA_EEXISTS, "BlobAlreadyExists|ConditionNotMet", 412, 412, 0 },
	{ ASTRA_EPOLICY, "*Immutab|*LegalHold", 0, 0, 0 },
	{ ASTRA_ECORRUPT, "InvalidRange", 416, 416, 0 },
	{ ASTRA_ENOTSUPPORTED,
	        "APINotImplemented|FeatureNotSupported|FeatureVersionMismatch",
	        501, 501, 0 },
	{ ASTRA_ENOSPACE,
	        "AccountLimitExceeded|RequestBodyTooLarge|"
	        "BlockCountExceedsLimit",
	        0, 0, 0 },
	{ ASTRA_ENET, "ServerBusy|OperationTimedOut", 429, 429, 0 },
	{ ASTRA_ENET, NULL, 500, 999, 0 },
	{ ASTRA_EINVALID, "*Invalid|Md5Mismatch|*Missing|*Unsupported", 400,
	        400, 0 },
	{ ASTRA_ECONFLICT, NULL, 409, 409, 0 },
	{ 0, NULL, 0, 0, 0 },
};

static int az_fail(az_store *s, const astra__http_response *resp,
        const char *op, const char *key, const az_err *e)
{
	const char *rid = e->request_id[0] ? e->request_id : "none";
	int code = astra__objhttp_classify(az_rules, resp->status, e->code);
	if (code == ASTRA_ENOTFOUND &&
	        (astra__objhttp_code_is(e, "ContainerNotFound") ||
	                astra__objhttp_code_is(e, "ContainerBeingDeleted") ||
	                astra__objhttp_code_is(e, "ContainerDisabled")))
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		        "container %s does not exist in storage account %s at "
		        "%s%s (%s, request id %s)",
		        s->container, s->auth.account, s->auth.ep_base,
		        s->auth.ep_path, e->code, rid);
	char where[320];
	snprintf(where, sizeof(where), "container %s of account %s",
	        s->container, s->auth.account);
	astra__objhttp_failure f = { 0 };
	f.service = "Azure";
	f.op = op;
	f.key = key;
	f.whole = "(container)";
	f.where = where;
	f.code = e->code;
	f.no_code = "no Azure error code";
	f.absent = "BlobNotFound";
	f.message = e->message;
	f.request_id = e->request_id;
	return astra__objhttp_fail(code, resp, &f);
}

/* The request's encoded path: ep_path/container[/prefix+key]. */
static int build_path(az_store *s, const char *key, astra_buf *epath)
{
	int rc = astra__buf_puts(epath, s->auth.ep_path);
	if (!rc)
		rc = astra__buf_putc(epath, '/');
	if (!rc)
		rc = astra__sigv4_encode(
		        epath, s->container, strlen(s->container), 0);
	if (!rc && key) {
		rc = astra__buf_putc(epath, '/');
		if (!rc)
			rc = astra__sigv4_encode(
			        epath, s->prefix, strlen(s->prefix), 1);
		if (!rc)
			rc = astra__sigv4_encode(epath, key, strlen(key), 1);
	}
	return rc;
}

static int send_once(
        az_store *s, const az_req *r, astra__http_response *resp, az_err *e)
{
	astra_buf epath = ASTRA_BUF_INIT, url = ASTRA_BUF_INIT;
	astra_buf auth = ASTRA_BUF_INIT;
	char date[32], dateline[48], lenline[48];
	const char *lines[MAX_HEADERS + 8];
	size_t nl = 0;
	int rc = build_path(s, r->key, &epath);
	if (!rc)
		rc = astra__buf_printf(
		        &url, "%s%s", s->auth.ep_base, epath.ptr);
	for (size_t i = 0; !rc && r->params[i]; i += 2) {
		rc = astra__buf_putc(&url, i ? '&' : '?');
		if (!rc)
			rc = astra__buf_printf(&url, "%s=", r->params[i]);
		if (!rc)
			rc = astra__sigv4_encode(&url, r->params[i + 1],
			        strlen(r->params[i + 1]), 0);
	}
	if (!rc && s->auth.sas)
		rc = astra__buf_printf(
		        &url, "%s%s", r->params[0] ? "&" : "?", s->auth.sas);
	if (rc)
		goto done;
	astra__azure_rfc1123(
	        date, astra__wall_ns() / 1000000000LL + atomic_load(&s->skew));
	snprintf(dateline, sizeof(dateline), "x-ms-date: %s", date);
	lines[nl++] = dateline;
	lines[nl++] = "x-ms-version: " API_VERSION;
	int has_body = r->body || !strcmp(r->method, "PUT");
	if (has_body) {
		snprintf(lenline, sizeof(lenline), "Content-Length: %zu",
		        r->body_len);
		lines[nl++] = lenline;
	}
	for (size_t i = 0; i < MAX_HEADERS && r->headers[i]; i++)
		lines[nl++] = r->headers[i];
	lines[nl] = NULL;
	if (s->auth.key) {
		rc = astra__azure_shared_key(&s->auth, r->method, lines,
		        epath.ptr, r->params, &auth);
		if (rc)
			goto done;
		lines[nl++] = auth.ptr;
		lines[nl] = NULL;
	}
	astra__http_request req = { 0 };
	req.method = r->method;
	req.url = url.ptr;
	req.headers = lines;
	req.body = has_body ? (r->body ? r->body : "") : NULL;
	req.body_len = r->body_len;
	req.max_body = r->max_body;
	req.retry = r->retry;
	rc = astra__http_do(s->http, &req, resp);
	if (!rc) {
		memset(e, 0, sizeof(*e));
		if (resp->status < 200 || resp->status >= 300) {
			err_of(resp, e);
			astra__log_debug("azure: %s %s -> %ld %s (request id "
			                 "%s)",
			        r->method, r->key ? r->key : "(container)",
			        resp->status, e->code, e->request_id);
		}
	}
done:
	astra_buf_dispose(&epath);
	astra_buf_dispose(&url); /* wiped: it may hold the SAS */
	astra_buf_dispose(&auth);
	return rc;
}

/*
 * Sends a request (the HTTP client retries 5xx, 429, resets and timeouts).
 * Shared Key requests are refused when x-ms-date is more than 15 minutes
 * off the service's clock: after an AuthenticationFailed whose Date shows
 * such a skew, the clock is corrected and the request sent once more.
 */
static int send_req(
        az_store *s, const az_req *r, astra__http_response *resp, az_err *e)
{
	int rc = send_once(s, r, resp, e);
	if (rc || resp->status != 403 || !s->auth.key ||
	        !astra__objhttp_code_is(e, "AuthenticationFailed"))
		return rc;
	long long skew;
	if (!astra__objhttp_server_skew(resp, &skew))
		return 0;
	if (skew > -300 && skew < 300)
		return 0;
	long long old = atomic_exchange(&s->skew, skew);
	if (old == skew)
		return 0;
	astra__log_warn("azure: the clock differs from the service's by %lld "
	                "s; correcting",
	        skew);
	astra__http_response_dispose(resp);
	return send_once(s, r, resp, e);
}

/* A request whose only acceptable outcome is 2xx. */
static int az_call(az_store *s, const az_req *r, const char *op,
        astra__http_response *resp)
{
	az_err e;
	int rc = send_req(s, r, resp, &e);
	if (rc)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	return az_fail(s, resp, op, r->key, &e);
}

static void add_header(az_req *r, const char *line)
{
	for (size_t i = 0; i < MAX_HEADERS - 1; i++)
		if (!r->headers[i]) {
			r->headers[i] = line;
			r->headers[i + 1] = NULL;
			return;
		}
}

static void add_param(az_req *r, const char *name, const char *value)
{
	for (size_t i = 0; i < 2 * MAX_PARAMS - 1; i += 2)
		if (!r->params[i]) {
			r->params[i] = name;
			r->params[i + 1] = value;
			r->params[i + 2] = NULL;
			return;
		}
}

/* "Content-MD5: <base64>" of data. */
static int md5_line(const void *data, size_t n, char out[64])
{
	uint8_t m[ASTRA_MD5_LEN];
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__md5(data, n, m);
	if (!rc)
		rc = astra__base64_encode(&b, m, sizeof(m));
	if (!rc)
		snprintf(out, 64, "Content-MD5: %s", b.ptr);
	astra_buf_dispose(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Immutability                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	char until[96];
	char mode[64];
} imm_hdrs;

static void make_imm(int64_t until, unsigned mode, imm_hdrs *h)
{
	char when[32];
	astra__azure_rfc1123(when, until);
	snprintf(h->until, sizeof(h->until),
	        "x-ms-immutability-policy-until-date: %s", when);
	/* Locked policies cannot be shortened or removed, like compliance;
	 * unlocked ones can by an administrator, like governance */
	snprintf(h->mode, sizeof(h->mode), "x-ms-immutability-policy-mode: %s",
	        mode == ASTRA_STORE_LOCK_GOVERNANCE ? "Unlocked" : "Locked");
}

static unsigned parse_mode(const char *m)
{
	if (!m || !*m)
		return 0;
	if (!strcasecmp(m, "unlocked"))
		return ASTRA_STORE_LOCK_GOVERNANCE;
	if (!strcasecmp(m, "locked"))
		return ASTRA_STORE_LOCK_COMPLIANCE;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Put Blob, Put Block + Put Block List                                */
/* ------------------------------------------------------------------ */

typedef struct {
	az_store *s;
	const char *key;
	const char *data;
	size_t n, block;
	unsigned nblocks;
	char tag[20]; /* random per upload: block ids of concurrent writers
	                 never mix */
} blk_job;

/* Block ids: base64 of "astra-<tag>-<number>", all of the same length. */
static int block_id(const blk_job *j, unsigned num, astra_buf *out)
{
	char raw[48];
	int n = snprintf(raw, sizeof(raw), "astra-%s-%06u", j->tag, num);
	return astra__base64_encode(out, raw, (size_t)n);
}

static int put_block(blk_job *j, unsigned num)
{
	az_store *s = j->s;
	size_t off = (size_t)num * j->block;
	size_t len = off + j->block > j->n ? j->n - off : j->block;
	astra_buf id = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	char md5[64];
	int rc = block_id(j, num, &id);
	if (!rc)
		rc = md5_line(j->data + off, len, md5);
	if (!rc) {
		az_req r = { 0 };
		r.method = "PUT";
		r.key = j->key;
		add_param(&r, "comp", "block");
		add_param(&r, "blockid", id.ptr);
		r.body = j->data + off;
		r.body_len = len;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		add_header(&r, "Content-Type: application/octet-stream");
		add_header(&r, md5);
		rc = az_call(s, &r, "Put Block", &resp);
		if (rc)
			astra__err_prefix(
			        rc, "block %u of %u", num + 1, j->nblocks);
	}
	astra_buf_dispose(&id);
	astra__http_response_dispose(&resp);
	return rc;
}

/* A task of the worker pool. */
static int block_task(void *ctx, unsigned i)
{
	return put_block(ctx, i);
}

/* Sends the final request of a put (Put Blob or Put Block List) and maps
 * a conflict of a conditional create to ASTRA_EEXISTS. */
static int put_final(az_store *s, az_req *r, const char *op,
        const astra__put_opts *opts, const char *key)
{
	imm_hdrs ih;
	int if_absent = opts && (opts->flags & ASTRA_PUT_IF_ABSENT);
	if (opts && opts->retain_until) {
		make_imm(opts->retain_until, opts->lock_mode, &ih);
		add_header(r, ih.until);
		add_header(r, ih.mode);
	}
	if (if_absent)
		add_header(r, "If-None-Match: *");
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_err e;
	int rc = send_req(s, r, &resp, &e);
	if (!rc && (resp.status < 200 || resp.status >= 300)) {
		if (if_absent && (resp.status == 412 || resp.status == 409) &&
		        (astra__objhttp_code_is(&e, "BlobAlreadyExists") ||
		                astra__objhttp_code_is(&e, "ConditionNotMet") ||
		                resp.status == 412))
			rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
			        "%s already exists (%s)", key,
			        e.code[0] ? e.code : "HTTP 412");
		else
			rc = az_fail(s, &resp, op, key, &e);
	}
	astra__http_response_dispose(&resp);
	return rc;
}

static int put_blocks(az_store *s, const char *key, const char *data, size_t n,
        const astra__put_opts *opts)
{
	size_t block = s->block_size;
	if ((n + block - 1) / block > MAX_BLOCKS)
		block = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
	blk_job j;
	memset(&j, 0, sizeof(j));
	j.s = s;
	j.key = key;
	j.data = data;
	j.n = n;
	j.block = block;
	j.nblocks = (unsigned)((n + block - 1) / block);
	uint8_t rnd[6];
	int rc = astra__random(rnd, sizeof(rnd));
	if (rc)
		return rc;
	astra__hex_encode(j.tag, rnd, sizeof(rnd));
	if ((rc = astra__objhttp_parallel(
	             j.nblocks, s->concurrency, block_task, &j)))
		return rc;
	/* uncommitted blocks of a failed upload are discarded by the
	 * service after a week; nothing to abort */
	astra_buf body = ASTRA_BUF_INIT, id = ASTRA_BUF_INIT;
	char md5[64];
	rc = astra__buf_puts(
	        &body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (unsigned i = 0; i < j.nblocks && !rc; i++) {
		id.size = 0;
		rc = block_id(&j, i, &id);
		if (!rc)
			rc = astra__buf_printf(
			        &body, "<Latest>%s</Latest>", id.ptr);
	}
	if (!rc)
		rc = astra__buf_puts(&body, "</BlockList>");
	if (!rc)
		rc = md5_line(body.ptr, body.size, md5);
	if (!rc) {
		az_req r = { 0 };
		r.method = "PUT";
		r.key = key;
		add_param(&r, "comp", "blocklist");
		r.body = body.ptr;
		r.body_len = body.size;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		add_header(&r, "Content-Type: application/xml");
		add_header(&r, md5);
		add_header(
		        &r, "x-ms-blob-content-type: application/octet-stream");
		rc = put_final(s, &r, "Put Block List", opts, key);
	}
	astra_buf_dispose(&body);
	astra_buf_dispose(&id);
	return rc;
}

static int az_put(astra__store *st, const char *key, const void *data, size_t n,
        const astra__put_opts *opts)
{
	az_store *s = (az_store *)st;
	if (opts && opts->retain_until &&
	        !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "cannot make %s immutable: container %s has no "
		        "version-level immutability",
		        key, s->container);
	if (n > s->threshold)
		return put_blocks(s, key, data, n, opts);
	char md5[64];
	int rc = md5_line(data, n, md5);
	if (rc)
		return rc;
	az_req r = { 0 };
	r.method = "PUT";
	r.key = key;
	r.body = data;
	r.body_len = n;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	add_header(&r, "Content-Type: application/octet-stream");
	add_header(&r, "x-ms-blob-type: BlockBlob");
	add_header(&r, md5);
	return put_final(s, &r, "Put Blob", opts, key);
}

/* ------------------------------------------------------------------ */
/* Get Blob, Get Blob Properties                                       */
/* ------------------------------------------------------------------ */

static int az_get(astra__store *st, const char *key, uint64_t off, uint64_t len,
        astra_buf *out)
{
	az_store *s = (az_store *)st;
	char range[80];
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_req r = { 0 };
	r.method = "GET";
	r.key = key;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (off || len) {
		if (len)
			snprintf(range, sizeof(range),
			        "x-ms-range: bytes=%llu-%llu",
			        (unsigned long long)off,
			        (unsigned long long)(off + len - 1));
		else
			snprintf(range, sizeof(range),
			        "x-ms-range: bytes=%llu-",
			        (unsigned long long)off);
		add_header(&r, range);
	}
	if (len)
		r.max_body = (size_t)len + 1;
	int rc = az_call(s, &r, "Get Blob", &resp);
	rc = astra__objhttp_range_body(
	        rc, &resp, "Azure Get Blob", "the range", key, off, len, out);
	astra__http_response_dispose(&resp);
	return rc;
}

static int head_v(az_store *s, const char *key, const char *version,
        astra__obj_info *info)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_req r = { 0 };
	r.method = "HEAD";
	r.key = key;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (version)
		add_param(&r, "versionid", version);
	int rc = az_call(s, &r, "Get Blob Properties", &resp);
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
		        &resp, "x-ms-immutability-policy-until-date");
		if (ru && astra__aws_parse_time(ru, &t) == 0)
			info->retain_until = t;
		info->lock_mode = parse_mode(astra__http_header(
		        &resp, "x-ms-immutability-policy-mode"));
		const char *lh = astra__http_header(&resp, "x-ms-legal-hold");
		info->legal_hold = lh && !strcasecmp(lh, "true");
		astra_error_clear();
	}
	astra__http_response_dispose(&resp);
	return rc;
}

static int az_head(astra__store *st, const char *key, astra__obj_info *info)
{
	return head_v((az_store *)st, key, NULL, info);
}

/* ------------------------------------------------------------------ */
/* List Blobs                                                          */
/* ------------------------------------------------------------------ */

/* One entry of a listing; version is NULL unless versions were asked. */
typedef int (*entry_fn)(
        az_store *s, const char *name, const astra__xml *blob, void *payload);

static int list_raw(az_store *s, const char *full_prefix, const char *include,
        entry_fn fn, void *payload)
{
	char *marker = NULL;
	char page[16];
	snprintf(page, sizeof(page), "%u", s->list_page);
	int rc = 0;
	for (;;) {
		astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
		astra__xml *doc = NULL;
		az_req r = { 0 };
		r.method = "GET";
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		r.max_body = 64 << 20;
		add_param(&r, "restype", "container");
		add_param(&r, "comp", "list");
		add_param(&r, "prefix", full_prefix);
		add_param(&r, "maxresults", page);
		if (include)
			add_param(&r, "include", include);
		if (marker)
			add_param(&r, "marker", marker);
		rc = az_call(s, &r, "List Blobs", &resp);
		if (!rc)
			rc = astra__xml_parse(&doc, resp.body.ptr,
			        resp.body.size, "List Blobs response");
		if (!rc && strcmp(astra__xml_name(doc), "EnumerationResults"))
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
			        "container %s: List Blobs returned <%s>",
			        s->container, astra__xml_name(doc));
		const astra__xml *blobs =
		        rc ? NULL : astra__xml_child(doc, "Blobs");
		for (const astra__xml *b =
		                blobs ? astra__xml_child(blobs, "Blob") : NULL;
		        b && !rc; b = astra__xml_next(b, "Blob")) {
			const char *name = astra__xml_child_text(b, "Name");
			if (!name) {
				rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
				        "container %s: a List Blobs entry has "
				        "no Name",
				        s->container);
				break;
			}
			rc = fn(s, name, b, payload);
		}
		const char *next =
		        rc ? NULL : astra__xml_child_text(doc, "NextMarker");
		free(marker);
		marker = next && *next ? astra__strdup(next) : NULL;
		if (next && *next && !marker)
			rc = ASTRA_ENOMEM;
		astra__xml_free(doc);
		astra__http_response_dispose(&resp);
		if (rc || !marker)
			break;
	}
	free(marker);
	return rc;
}

typedef struct {
	astra__store_list_cb cb;
	void *payload;
} list_ctx;

static int list_entry(
        az_store *s, const char *name, const astra__xml *b, void *payload)
{
	list_ctx *c = payload;
	size_t plen = strlen(s->prefix);
	if (strncmp(name, s->prefix, plen) || !name[plen])
		return 0;
	const astra__xml *p = astra__xml_child(b, "Properties");
	const char *sz = p ? astra__xml_child_text(p, "Content-Length") : NULL;
	const char *lm = p ? astra__xml_child_text(p, "Last-Modified") : NULL;
	if (!sz)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
		        "container %s: List Blobs entry %s has no "
		        "Content-Length",
		        s->container, name);
	astra__obj_info info;
	memset(&info, 0, sizeof(info));
	info.key = name + plen;
	info.size = strtoull(sz, NULL, 10);
	int64_t t;
	if (lm && astra__aws_parse_time(lm, &t) == 0)
		info.mtime_ns = t * 1000000000LL;
	astra_error_clear();
	return c->cb(&info, c->payload);
}

static int az_list(astra__store *st, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	az_store *s = (az_store *)st;
	char *full = astra__aprintf("%s%s", s->prefix, prefix ? prefix : "");
	if (!full)
		return ASTRA_ENOMEM;
	list_ctx c = { cb, payload };
	int rc = list_raw(s, full, NULL, list_entry, &c);
	if (rc < 0 && prefix)
		astra__err_prefix(rc, "listing %s", prefix);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Delete Blob, retention                                              */
/* ------------------------------------------------------------------ */

static int delete_v(az_store *s, const char *key, const char *version)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_req r = { 0 };
	r.method = "DELETE";
	r.key = key;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (version)
		add_param(&r, "versionid", version);
	az_err e;
	int rc = send_req(s, &r, &resp, &e);
	if (!rc && !(resp.status >= 200 && resp.status < 300) &&
	        !(resp.status == 404 &&
	                !astra__objhttp_code_is(&e, "ContainerNotFound")))
		rc = az_fail(s, &resp, "Delete Blob", key, &e);
	astra__http_response_dispose(&resp);
	return rc;
}

/* Versions of exactly one blob, with their immutability. */
typedef struct {
	const char *full;
	char **ids;
	size_t n, cap;
	int64_t now;
	const char *key;
	int rc;
} versions_ctx;

static int version_entry(
        az_store *s, const char *name, const astra__xml *b, void *payload)
{
	(void)s;
	versions_ctx *v = payload;
	if (strcmp(name, v->full))
		return 0;
	const char *vid = astra__xml_child_text(b, "VersionId");
	const astra__xml *p = astra__xml_child(b, "Properties");
	const char *until =
	        p ? astra__xml_child_text(p, "ImmutabilityPolicyUntilDate")
	          : NULL;
	const char *hold = p ? astra__xml_child_text(p, "LegalHold") : NULL;
	int64_t t = 0;
	if (hold && !strcasecmp(hold, "true"))
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is under a legal hold and cannot be deleted",
		        v->key);
	if (until && astra__aws_parse_time(until, &t) == 0 && t > v->now) {
		char when[24];
		astra__fmt_utc(when, t);
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is immutable until %s (Azure immutability "
		        "policy) and cannot be deleted before then",
		        v->key, when);
	}
	astra_error_clear();
	if (!vid || !*vid)
		return 0;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		char **ni = astra__reallocarray(v->ids, cap, sizeof(*ni));
		if (!ni)
			return ASTRA_ENOMEM;
		v->ids = ni;
		v->cap = cap;
	}
	v->ids[v->n] = astra__strdup(vid);
	return v->ids[v->n++] ? 0 : ASTRA_ENOMEM;
}

static void versions_free(versions_ctx *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->ids[i]);
	free(v->ids);
	v->ids = NULL;
	v->n = v->cap = 0;
}

static int az_del(astra__store *st, const char *key)
{
	az_store *s = (az_store *)st;
	if (!(st->caps & ASTRA_STORE_CAP_VERSIONING))
		return delete_v(s, key, NULL);
	/* versioned (version-level WORM): every version goes, after
	 * checking that none is immutable or held; all or nothing */
	char *full = astra__aprintf("%s%s", s->prefix, key);
	if (!full)
		return ASTRA_ENOMEM;
	versions_ctx v = { 0 };
	v.full = full;
	v.key = key;
	v.now = astra__wall_ns() / 1000000000LL + atomic_load(&s->skew);
	int rc = list_raw(s, full, "versions,immutabilitypolicy,legalhold",
	        version_entry, &v);
	versions_free(&v);
	if (!rc)
		rc = delete_v(s, key, NULL);
	/* the current version became a previous one: list again */
	if (!rc)
		rc = list_raw(s, full, "versions", version_entry, &v);
	for (size_t i = 0; i < v.n && !rc; i++)
		rc = delete_v(s, key, v.ids[i]);
	versions_free(&v);
	free(full);
	return rc;
}

static int az_retain(
        astra__store *st, const char *key, int64_t until, unsigned mode)
{
	az_store *s = (az_store *)st;
	imm_hdrs ih;
	make_imm(until, mode, &ih);
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_req r = { 0 };
	r.method = "PUT";
	r.key = key;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	add_param(&r, "comp", "immutabilityPolicies");
	add_header(&r, "Content-Type: application/octet-stream");
	add_header(&r, ih.until);
	add_header(&r, ih.mode);
	int rc = az_call(s, &r, "Set Blob Immutability Policy", &resp);
	if (rc) {
		char when[24];
		astra__fmt_utc(when, until);
		astra__err_prefix(rc, "extending the immutability to %s", when);
	}
	astra__http_response_dispose(&resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Service SAS for one blob (presigned URLs)                           */
/* ------------------------------------------------------------------ */

static int az_presign(astra__store *st, const char *method, const char *key,
        unsigned expires, char **out)
{
	az_store *s = (az_store *)st;
	const char *perm = !strcmp(method, "GET") || !strcmp(method, "HEAD")
	                           ? "r"
	                   : !strcmp(method, "PUT")    ? "cw"
	                   : !strcmp(method, "DELETE") ? "d"
	                                               : NULL;
	if (!perm)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "cannot presign the method %s", method);
	if (!s->auth.key)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "presigned URLs need the account key (Shared Key); "
		        "this vault is opened with a SAS token");
	if (expires > 7 * 86400)
		expires = 7 * 86400;
	int64_t now = astra__wall_ns() / 1000000000LL + atomic_load(&s->skew);
	char st_s[24], se_s[24];
	astra__fmt_utc(st_s, now - 300);
	astra__fmt_utc(se_s, now + expires);
	astra_buf sig = ASTRA_BUF_INIT;
	astra_buf epath = ASTRA_BUF_INIT, url = ASTRA_BUF_INIT;
	int rc = astra__azure_sas_sig(
	        &s->auth, perm, st_s, se_s, s->container, s->prefix, key, &sig);
	if (!rc)
		rc = build_path(s, key, &epath);
	if (!rc)
		rc = astra__buf_printf(&url,
		        "%s%s?sv=%s&st=%s&se=%s&sr=b&sp=%s&sig=",
		        s->auth.ep_base, epath.ptr, API_VERSION, st_s, se_s,
		        perm);
	if (!rc)
		rc = astra__sigv4_encode(&url, sig.ptr, sig.size, 0);
	if (!rc)
		*out = astra__buf_detach(&url);
	astra_buf_dispose(&sig);
	astra_buf_dispose(&epath);
	astra_buf_dispose(&url);
	return rc;
}

static void az_free(astra__store *st)
{
	az_store *s = (az_store *)st;
	if (!s)
		return;
	astra__http_free(s->http);
	astra__azure_auth_free(&s->auth);
	free(s->container);
	free(s->prefix);
	free(s->base.url);
	free(s);
}

/* An immutable vault sets and extends each blob's own immutability
 * policy: it needs version-level immutability (WORM with versioning). */
static int az_worm_check(astra__store *st, int err_class)
{
	const az_store *s = (const az_store *)st;
	unsigned need =
	        ASTRA_STORE_CAP_VERSIONING | ASTRA_STORE_CAP_OBJECT_LOCK;
	if ((st->caps & need) == need)
		return 0;
	return astra__err(ASTRA_ENOTSUPPORTED, err_class,
	        "vault %s: the container has no version-level "
	        "immutability%s; an immutable vault sets and extends "
	        "each object's own immutability policy, which needs a "
	        "container with version-level immutability (immutable "
	        "storage with versioning) enabled",
	        st->url,
	        s->container_policy ? " (only a container-level policy, which "
	                              "cannot hold per-object retention)"
	                            : "");
}

static const astra__store_ops az_ops = {
	az_put, az_get, az_head, az_list, az_del, az_retain, az_free,
	az_presign, az_worm_check, NULL, /* job credentials: not narrowed */
};

/* ------------------------------------------------------------------ */
/* Opening: URL, credentials, endpoint                                 */
/* ------------------------------------------------------------------ */

static int valid_container(const char *c)
{
	size_t n = strlen(c);
	if (!strcmp(c, "$root"))
		return 1;
	if (n < 3 || n > 63 || c[0] == '-' || c[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)c[i]) ||
		            isdigit((unsigned char)c[i]) ||
		            (c[i] == '-' && c[i + 1] != '-')))
			return 0;
	return 1;
}

/* Get Container Properties: checks the container and the credentials, and
 * reads its immutability. A SAS that may not read container properties
 * (a service SAS) is checked with a one-entry List Blobs instead. */
static int probe_container(az_store *s)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	az_req r = { 0 };
	r.method = "HEAD";
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	add_param(&r, "restype", "container");
	az_err e;
	int rc = send_req(s, &r, &resp, &e);
	if (rc)
		goto done;
	if (resp.status == 200) {
		const char *worm = astra__http_header(&resp,
		        "x-ms-immutable-storage-with-versioning-enabled");
		const char *pol = astra__http_header(
		        &resp, "x-ms-has-immutability-policy");
		if (worm && !strcasecmp(worm, "true"))
			s->base.caps |= ASTRA_STORE_CAP_OBJECT_LOCK |
			                ASTRA_STORE_CAP_VERSIONING;
		s->container_policy = pol && !strcasecmp(pol, "true");
		goto done;
	}
	if (s->auth.sas && resp.status == 403 &&
	        (code_has(&e, "Authorization") || !e.code[0])) {
		astra__log_info("azure: the SAS may not read the properties "
		                "of container %s (%s); assuming it has no "
		                "immutability",
		        s->container, e.code);
		astra__http_response_dispose(&resp);
		az_req l = { 0 };
		l.method = "GET";
		l.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		add_param(&l, "restype", "container");
		add_param(&l, "comp", "list");
		add_param(&l, "maxresults", "1");
		rc = az_call(s, &l, "List Blobs", &resp);
		goto done;
	}
	rc = az_fail(s, &resp, "Get Container Properties", NULL, &e);
done:
	astra__http_response_dispose(&resp);
	return rc;
}

static int az_open(
        astra__store **out, const char *url, const astra__store_opts *so)
{
	*out = NULL;
	az_store *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	az_opts o;
	memset(&o, 0, sizeof(o));
	const char *q;
	int rc = astra__url_named_object(url, "container",
	        "azure://container/prefix?account=NAME", valid_container,
	        " (3 to 63 lowercase letters, digits and single hyphens)",
	        &s->container, &s->prefix, &q);
	if (rc)
		goto fail;
	if ((rc = parse_opts(url, q, &o)))
		goto fail;
	s->base.url = astra__url_display("azure", s->container, s->prefix);
	if (!s->base.url) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	s->base.ops = &az_ops;
	s->base.caps = ASTRA_STORE_CAP_CONDITIONAL;
	s->base.io_depth = 8;
	s->block_size = (size_t)o.block_mib * MIB;
	s->threshold = (size_t)o.threshold_mib * MIB;
	s->concurrency = (unsigned)o.concurrency;
	s->list_page = (unsigned)o.list_page;
	if ((rc = astra__azure_auth_resolve(&s->auth, url, &o.auth)))
		goto fail;
	if ((rc = astra__objhttp_check_transport(s->base.url, s->auth.ep_base,
	             &o.net, so,
	             s->auth.key   ? "a Shared Key signature"
	             : s->auth.sas ? "a SAS token"
	                           : NULL)))
		goto fail;

	astra__http_config cfg;
	astra__objhttp_config(&cfg, &o.net, so);
	if ((rc = astra__http_new(&s->http, &cfg)))
		goto fail;
	if ((rc = probe_container(s))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__log_debug("azure: %s in account %s at %s%s (credentials from "
	                 "%s)%s%s",
	        s->base.url, s->auth.account, s->auth.ep_base, s->auth.ep_path,
	        s->auth.cred_source,
	        (s->base.caps & ASTRA_STORE_CAP_OBJECT_LOCK)
	                ? ", version-level immutability"
	                : "",
	        s->container_policy ? ", container immutability policy" : "");
	astra__url_opts_free(&az_options, &o);
	*out = &s->base;
	return 0;
fail:
	astra__url_opts_free(&az_options, &o);
	az_free(&s->base);
	return rc;
}

const astra__store_backend astra__store_azure_backend = {
	.scheme = "azure://",
	.open = az_open,
	.ops = &az_ops,
	.options = &az_options,
};
