/*
 * The HTTP client's core: its life cycle, the pool of curl handles, the
 * rate limit and backoff, and one request with its retries
 * (astra__http_do). URL helpers are in http_url.c, TLS options in
 * http_tls.c, raw connections in http_raw.c (the map is in
 * http_internal.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "net/http_internal.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 30)
#define ERROR_BODY_MAX ((size_t)256 << 10)

void astra__http_config_init(astra__http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = 10000;
	cfg->timeout_ms = 60000;
	cfg->burst = 1;
	cfg->max_retries = 5;
	cfg->retry_budget_ms = 30000;
	cfg->backoff_base_ms = 200;
	cfg->backoff_max_ms = 10000;
	cfg->http2 = 1;
}

static void share_lock(
        CURL *h, curl_lock_data data, curl_lock_access access, void *p)
{
	astra__http *c = p;
	(void)h;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *p)
{
	astra__http *c = p;
	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_mu[data]);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = astra__strdup(src);
	return *dst ? 0 : ASTRA_ENOMEM;
}

static int dup_mem(char **dst, size_t *dlen, const char *src, size_t n)
{
	*dst = NULL;
	*dlen = 0;
	if (!src)
		return 0;
	*dst = astra__strndup(src, n);
	if (!*dst)
		return ASTRA_ENOMEM;
	*dlen = n;
	return 0;
}

int astra__http_new(astra__http **out, const astra__http_config *cfg)
{
	ASTRA_ASSERT_ARG(out && cfg);
	*out = NULL;
	astra__http *c = astra__calloc(1, sizeof(*c));
	ASTRA_CHECK_ALLOC(c);
	pthread_mutex_init(&c->mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	int rc = 0;
	if ((rc = dup_opt(&c->ca_file, cfg->ca_file)) ||
	        (rc = dup_mem(&c->ca_pem, &c->ca_pem_len, cfg->ca_pem,
	                 cfg->ca_pem_len)) ||
	        (rc = dup_mem(&c->cert_pem, &c->cert_pem_len, cfg->cert_pem,
	                 cfg->cert_pem_len)) ||
	        (rc = dup_mem(&c->key_pem, &c->key_pem_len, cfg->key_pem,
	                 cfg->key_pem_len)) ||
	        (rc = dup_opt(&c->tls_server_name, cfg->tls_server_name)) ||
	        (rc = dup_opt(&c->proxy, cfg->proxy)))
		goto fail;
	c->user_agent = astra__strdup(
	        cfg->user_agent ? cfg->user_agent
	                        : "libastra/" ASTRA_VERSION_STRING);
	if (!c->user_agent) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	c->insecure = cfg->insecure;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->timeout_ms = cfg->timeout_ms;
	c->max_retries = cfg->max_retries;
	c->retry_budget_ms = cfg->retry_budget_ms;
	c->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 1;
	c->backoff_max_ms =
	        cfg->backoff_max_ms ? cfg->backoff_max_ms : c->backoff_base_ms;
	c->http2 = cfg->http2;
	c->compress = cfg->compress;
	c->auth = cfg->auth;
	c->auth_payload = cfg->auth_payload;
	c->qps = cfg->qps;
	c->burst = cfg->burst ? (double)cfg->burst : 1.0;
	c->tokens = c->burst;
	c->last_ns = astra__mono_ns();
	c->rng = c->last_ns ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ULL;

	c->share = curl_share_init();
	if (!c->share) {
		rc = astra__err_oom();
		goto fail;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(
	        c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = c;
	return 0;
fail:
	astra__http_free(c);
	return rc;
}

void astra__http_free(astra__http *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	if (c->share)
		curl_share_cleanup(c->share);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_pem);
	astra__free_secret(c->key_pem, c->key_pem_len);
	free(c->tls_server_name);
	free(c->proxy);
	free(c->user_agent);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int astra__http_set_client_cert(astra__http *c, const char *cert_pem,
        size_t cert_len, const char *key_pem, size_t key_len)
{
	char *cert = NULL, *key = NULL;
	size_t cl = 0, kl = 0;
	if (dup_mem(&cert, &cl, cert_pem, cert_len) ||
	        dup_mem(&key, &kl, key_pem, key_len)) {
		free(cert);
		return ASTRA_ENOMEM;
	}
	pthread_mutex_lock(&c->mu);
	free(c->cert_pem);
	astra__free_secret(c->key_pem, c->key_pem_len);
	c->cert_pem = cert;
	c->cert_pem_len = cl;
	c->key_pem = key;
	c->key_pem_len = kl;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void clear_headers(astra__http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

void astra__http_response_dispose(astra__http_response *r)
{
	if (!r)
		return;
	clear_headers(r);
	astra_buf_dispose(&r->body);
	r->status = 0;
	r->attempts = 0;
	r->http_version = 0;
}

const char *astra__http_header(const astra__http_response *r, const char *name)
{
	size_t n = strlen(name);
	/* the last occurrence wins */
	for (size_t i = r->nheaders; i-- > 0;) {
		const char *h = r->headers[i];
		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Pool, rate limit, backoff                                           */
/* ------------------------------------------------------------------ */

static CURL *acquire(astra__http *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->mu);
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (!h)
		astra__err(ASTRA_ENOMEM, ASTRA_ERROR_NET,
		        "cannot create a libcurl handle");
	return h;
}

static void release(astra__http *c, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

static uint64_t next_rand(astra__http *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	pthread_mutex_unlock(&c->mu);
	return x;
}

/* Sleeps ms, waking every 50 ms to check cancellation. */
static int sleep_ms(uint64_t ms, astra__op *op)
{
	uint64_t end = astra__mono_ns() + ms * 1000000ULL;
	for (;;) {
		int rc = astra__op_check(op);
		if (rc)
			return rc;
		uint64_t now = astra__mono_ns();
		if (now >= end)
			return 0;
		uint64_t left = (end - now) / 1000000ULL;
		astra__sleep_ms((unsigned)(left > 50 ? 50 : left + 1));
	}
}

int astra__http_rate_wait(astra__http *c, astra__op *op)
{
	if (c->qps <= 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	uint64_t now = astra__mono_ns();
	c->tokens += (double)(now - c->last_ns) / 1e9 * c->qps;
	if (c->tokens > c->burst)
		c->tokens = c->burst;
	c->last_ns = now;
	c->tokens -= 1.0; /* reserve: may go negative */
	double wait_s = c->tokens < 0 ? -c->tokens / c->qps : 0;
	pthread_mutex_unlock(&c->mu);
	if (wait_s <= 0)
		return 0;
	return sleep_ms((uint64_t)(wait_s * 1000.0) + 1, op);
}

static uint64_t backoff_ms(astra__http *c, unsigned attempt)
{
	uint64_t d = c->backoff_base_ms;
	for (unsigned i = 1; i < attempt && d < c->backoff_max_ms; i++)
		d *= 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	/* full jitter on the upper half: [d/2, d] */
	uint64_t half = d / 2;
	return half + (half ? next_rand(c) % (half + 1) : 0);
}

/* ------------------------------------------------------------------ */
/* One transfer                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	astra__http *c;
	CURL *h;
	const astra__http_request *req;
	astra__http_response *resp;
	size_t max_body;
	uint64_t streamed; /* bytes passed to req->write */
	int cb_rc; /* error from a callback */
	const void *mem; /* in-memory body cursor for reader-less sends */
	size_t mem_left;
	uint64_t sent; /* request body bytes handed to curl */
} xfer;

static size_t on_header(char *data, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = size * nmemb;
	size_t len = n;
	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, or a retry) */
		clear_headers(x->resp);
		return n;
	}
	if (len == 0)
		return n;
	if (data[0] == ' ' || data[0] == '\t')
		return n; /* obsolete line folding: ignore */
	char **nh = astra__reallocarray(
	        x->resp->headers, x->resp->nheaders + 1, sizeof(char *));
	if (!nh) {
		x->cb_rc = ASTRA_ENOMEM;
		return 0;
	}
	x->resp->headers = nh;
	char *line = astra__strndup(data, len);
	if (!line) {
		x->cb_rc = ASTRA_ENOMEM;
		return 0;
	}
	nh[x->resp->nheaders++] = line;
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	int ok = status >= 200 && status < 300;
	if (ok && x->req->write) {
		int rc = x->req->write(x->req->write_payload, data, n);
		if (rc) {
			x->cb_rc = rc < 0 ? rc : ASTRA_ECANCELLED;
			return 0;
		}
		x->streamed += n;
		return n;
	}
	size_t cap = ok ? x->max_body : ERROR_BODY_MAX;
	if (x->resp->body.size + n > cap) {
		if (!ok) {
			/* keep the head of an error body */
			size_t room = cap > x->resp->body.size
			                      ? cap - x->resp->body.size
			                      : 0;
			if (room && astra__buf_put(&x->resp->body, data, room))
				return 0;
			return n;
		}
		char u[512];
		astra__http_redact_url(x->req->url, u, sizeof(u));
		x->cb_rc = astra__err(ASTRA_EIO, ASTRA_ERROR_HTTP,
		        "%s %s: response body larger than %zu bytes",
		        x->req->method ? x->req->method : "GET", u, cap);
		return 0;
	}
	if (astra__buf_put(&x->resp->body, data, n)) {
		x->cb_rc = ASTRA_ENOMEM;
		return 0;
	}
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = size * nmemb;
	const astra__http_reader *r = x->req->reader;
	long got = r->read(r->payload, buf, n);
	if (got < 0) {
		x->cb_rc = (int)got;
		return CURL_READFUNC_ABORT;
	}
	if ((size_t)got > n)
		got = (long)n;
	x->sent += (uint64_t)got;
	return (size_t)got;
}

/* libcurl rewinds the body itself when it resends a request on a new
 * connection (a reused one was closed by the server): only to the start. */
static int on_seek(void *p, curl_off_t offset, int origin)
{
	xfer *x = p;
	const astra__http_reader *r = x->req->reader;
	if (origin != SEEK_SET || offset != 0 || !r->rewind)
		return CURL_SEEKFUNC_CANTSEEK;
	if (r->rewind(r->payload))
		return CURL_SEEKFUNC_FAIL;
	x->sent = 0;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow,
        curl_off_t ultotal, curl_off_t ulnow)
{
	xfer *x = p;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (x->req->op && astra__op_check(x->req->op)) {
		x->cb_rc = ASTRA_ECANCELLED;
		return 1;
	}
	return 0;
}

static int is_idempotent(const astra__http_request *req)
{
	if (req->retry == ASTRA_HTTP_RETRY_IDEMPOTENT)
		return 1;
	const char *m = req->method ? req->method : "GET";
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
	       !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

/* Builds the header list; returns NULL with the error set. */
static struct curl_slist *build_headers(astra__http *c,
        const astra__http_request *req, const char *host_header, int *auth_rc)
{
	struct curl_slist *l = NULL, *t;
	*auth_rc = 0;
	if (c->auth) {
		char *line = NULL;
		int rc = c->auth(c->auth_payload, 0, &line);
		if (rc < 0) {
			*auth_rc = rc;
			astra__free_secret_str(line);
			return NULL;
		}
		if (line) {
			t = curl_slist_append(l, line);
			astra__free_secret_str(line);
			if (!t)
				goto oom;
			l = t;
		}
	}
	if (host_header) {
		t = curl_slist_append(l, host_header);
		if (!t)
			goto oom;
		l = t;
	}
	/* no "Expect: 100-continue" round trip */
	t = curl_slist_append(l, "Expect:");
	if (!t)
		goto oom;
	l = t;
	for (const char *const *h = req->headers; h && *h; h++) {
		t = curl_slist_append(l, *h);
		if (!t)
			goto oom;
		l = t;
	}
	return l;
oom:
	*auth_rc = astra__err_oom();
	return l; /* caller frees */
}

static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *s = l; s; s = s->next)
		if (s->data)
			astra__wipe(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

int astra__http_map_curl_error(CURLcode cc, const char *method, const char *url,
        const char *detail, unsigned timeout_ms)
{
	char u[512];
	astra__http_redact_url(url, u, sizeof(u));
	const char *why = detail && *detail ? detail : curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_NET,
		        "%s %s: timed out (%s)", method, u, why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
		return astra__err(ASTRA_ECERTIFICATE, ASTRA_ERROR_TLS,
		        "%s %s: server certificate not trusted: %s", method, u,
		        why);
	case CURLE_SSL_CERTPROBLEM:
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_TLS,
		        "%s %s: client certificate or key unusable: %s", method,
		        u, why);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "%s %s: invalid URL: %s", method, u, why);
	case CURLE_OUT_OF_MEMORY:
		return astra__err_oom();
	default:
		(void)timeout_ms;
		return astra__err(ASTRA_ENET, ASTRA_ERROR_NET, "%s %s: %s",
		        method, u, why);
	}
}

/* Transport errors worth another attempt; `sent` says whether the
 * request may have reached the server. */
static int retryable_curl(CURLcode cc, int *maybe_sent)
{
	*maybe_sent = 1;
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		*maybe_sent = 0;
		return 1;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int retryable_status(long s, int idempotent, int has_retry_after)
{
	if (s == 429)
		return 1;
	if (s == 503 && has_retry_after)
		return 1;
	if (!idempotent)
		return 0;
	return s == 500 || s == 502 || s == 503 || s == 504;
}

static void configure(astra__http *c, CURL *h, xfer *x, const char *url,
        const char *method, unsigned timeout_ms, char *errbuf)
{
	const astra__http_request *req = x->req;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->http2)
		curl_easy_setopt(
		        h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	else
		curl_easy_setopt(
		        h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (c->compress)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->connect_timeout_ms)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		        (long)c->connect_timeout_ms);
	if (timeout_ms && timeout_ms != ASTRA_HTTP_NO_TIMEOUT)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);

	astra__http_configure_tls(c, h);
	if (c->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);

	/* callbacks */
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);

	/* method and body */
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (req->reader) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		if (req->reader->rewind) {
			curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
		}
		if (req->reader->size >= 0)
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
			        (curl_off_t)req->reader->size);
		if (strcmp(method, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (req->body || !strcmp(method, "POST") ||
	           !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		        (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(
		        h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		if (strcmp(method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
}

/*
 * One request: astra__http_do runs these steps, in this order, for every
 * attempt (libgit2's clone is the model):
 *
 *   request_begin     resolve the method, timeout, retry budget and the TLS
 *                     server name override, once
 *   attempt_prepare   cancellation, rate limit, fresh response, rewind
 *   attempt_perform   headers, a pooled handle, the transfer itself
 *   transport_failed  \ decide whether and when to try again, from the
 *   response_received / transport error or from the HTTP status
 *   retry_wait        the retry budget and the backoff sleep
 *   request_end       free what request_begin made
 */
typedef struct {
	astra__http *c;
	const astra__http_request *req;
	astra__http_response *resp;
	const char *method;
	int idempotent;
	unsigned timeout_ms;
	uint64_t deadline; /* of the retry budget */
	char *url; /* with the TLS server name, or NULL: req->url */
	char *host_header;
	struct curl_slist *connect_to;
	unsigned attempt; /* 1 for the first */
	int auth_retried; /* the provider was asked to refresh once */
} request;

/*
 * Fills *rq for one astra__http_do call; the retry budget starts now.
 * Post: rq is always safe to pass to request_end, also on failure (an
 * invalid TLS server name or URL, out of memory: the error is set).
 */
static int request_begin(request *rq, astra__http *c,
        const astra__http_request *req, astra__http_response *resp)
{
	memset(rq, 0, sizeof(*rq));
	rq->c = c;
	rq->req = req;
	rq->resp = resp;
	rq->method = req->method ? req->method : "GET";
	rq->idempotent = is_idempotent(req);
	rq->timeout_ms = req->timeout_ms ? req->timeout_ms : c->timeout_ms;
	uint64_t start = astra__mono_ns();
	rq->deadline = start + (uint64_t)c->retry_budget_ms * 1000000ULL;
	return astra__http_tls_name_setup(
	        c, req->url, &rq->url, &rq->connect_to, &rq->host_header);
}

/* Frees what request_begin allocated. */
static void request_end(request *rq)
{
	free(rq->url);
	free(rq->host_header);
	curl_slist_free_all(rq->connect_to);
}

/*
 * Before attempt rq->attempt: fails when the operation is cancelled
 * (also while waiting for the rate limit), resets the response (its
 * `attempts` set to this attempt), and rewinds a streamed body on a
 * retry. On failure the error is set; the response may have been reset.
 */
static int attempt_prepare(request *rq)
{
	const astra__http_request *req = rq->req;
	int rc = astra__op_check(req->op);
	if (rc)
		return rc;
	rc = astra__http_rate_wait(rq->c, req->op);
	if (rc)
		return rc;
	astra__http_response_dispose(rq->resp);
	rq->resp->attempts = rq->attempt;
	if (req->reader && rq->attempt > 1 && req->reader->rewind) {
		rc = req->reader->rewind(req->reader->payload);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Runs one transfer: builds the headers (credentials from the provider),
 * takes a handle from the pool, configures and performs it. Post, on 0:
 * *cc, *status and x (callback errors, bytes streamed and sent) describe
 * the transfer, the response holds its headers, body and HTTP version, the
 * handle is back in the pool with no pointer to our header lists, the
 * headers are wiped and freed. A negative return (the provider failed, no
 * memory for the headers or a handle) happens before any transfer, with
 * nothing left allocated and the error set.
 */
static int attempt_perform(request *rq, xfer *x, char errbuf[CURL_ERROR_SIZE],
        CURLcode *cc, long *status)
{
	astra__http *c = rq->c;
	const astra__http_request *req = rq->req;
	int auth_rc = 0;
	struct curl_slist *hdrs =
	        build_headers(c, req, rq->host_header, &auth_rc);
	if (auth_rc) {
		free_headers(hdrs);
		return auth_rc;
	}
	CURL *h = acquire(c);
	if (!h) {
		free_headers(hdrs);
		return ASTRA_ENOMEM;
	}
	errbuf[0] = '\0';
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->h = h;
	x->req = req;
	x->resp = rq->resp;
	x->max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	configure(c, h, x, rq->url ? rq->url : req->url, rq->method,
	        rq->timeout_ms, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (rq->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, rq->connect_to);

	uint64_t t0 = astra__mono_ns();
	*cc = curl_easy_perform(h);
	long ver = 0;
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
	/* the handle must not keep pointers to our headers */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
	free_headers(hdrs);
	release(c, h);
	rq->resp->http_version = ver == CURL_HTTP_VERSION_2_0 ? 2 : 1;
	uint64_t took_ms = (astra__mono_ns() - t0) / 1000000ULL;

	if (astra__log_enabled(ASTRA_LOG_DEBUG)) {
		char u[512];
		astra__http_redact_url(req->url, u, sizeof(u));
		astra__log_debug("http: %s %s -> %ld (%s) in %llu ms, "
		                 "HTTP/%d, attempt %u",
		        rq->method, u, *status,
		        *cc == CURLE_OK ? "ok" : curl_easy_strerror(*cc),
		        (unsigned long long)took_ms, rq->resp->http_version,
		        rq->attempt);
	}
	return 0;
}

/*
 * After a transfer that failed below HTTP (cc != CURLE_OK): returns the
 * error to report, its message set. A failure of one of our callbacks
 * (cancellation, a body over its cap, the caller's writer or reader) is
 * final: *again stays 0. Otherwise *again says whether another attempt is
 * safe (the request cannot have reached the server or is idempotent,
 * nothing was streamed to the caller, a sent body can be rewound, retries
 * are allowed) and *wait is the backoff before it.
 */
static int transport_failed(request *rq, const xfer *x, CURLcode cc,
        const char *errbuf, int *again, uint64_t *wait)
{
	const astra__http_request *req = rq->req;
	int rc;
	if (x->cb_rc) {
		/* our callback failed; its error is set */
		rc = x->cb_rc;
		if (rc == ASTRA_ECANCELLED)
			rc = astra__op_check(req->op)
			             ? ASTRA_ECANCELLED
			             : astra__err(ASTRA_ECANCELLED,
			                       ASTRA_ERROR_CALLBACK,
			                       "transfer cancelled");
		return rc;
	}
	int maybe_sent = 1;
	rc = astra__http_map_curl_error(
	        cc, rq->method, req->url, errbuf, rq->timeout_ms);
	*again = retryable_curl(cc, &maybe_sent) &&
	         (rq->idempotent || !maybe_sent) && x->streamed == 0 &&
	         req->retry != ASTRA_HTTP_RETRY_NEVER;
	if (*again && req->reader && x->sent && !req->reader->rewind)
		*again = 0;
	*wait = backoff_ms(rq->c, rq->attempt);
	return rc;
}

/*
 * After a transfer that got an HTTP response: records its status and
 * returns 0, or the provider's error when a credential refresh failed.
 * On the first 401 the provider is asked once for fresh credentials; when
 * it has some, *again_now asks for an immediate attempt that does not
 * count against the retries. Otherwise *again says whether the status is
 * worth another attempt (429, 503 with Retry-After, 5xx when idempotent;
 * a sent body must be rewindable) and *wait is Retry-After or the backoff.
 */
static int response_received(request *rq, const xfer *x, long status,
        int *again, int *again_now, uint64_t *wait)
{
	astra__http *c = rq->c;
	const astra__http_request *req = rq->req;
	rq->resp->status = status;
	if (status == 401 && c->auth && !rq->auth_retried &&
	        (!req->reader || !x->sent || req->reader->rewind)) {
		/* ask the provider for fresh credentials */
		char *line = NULL;
		int r = c->auth(c->auth_payload, 1, &line);
		astra__free_secret_str(line);
		rq->auth_retried = 1;
		if (r < 0)
			return r;
		if (r > 0) {
			*again_now = 1;
			return 0;
		}
	}
	const char *ra = astra__http_header(rq->resp, "Retry-After");
	long ra_ms = astra__http_parse_retry_after(ra);
	*again = req->retry != ASTRA_HTTP_RETRY_NEVER &&
	         retryable_status(status, rq->idempotent, ra != NULL);
	if (*again && req->reader && x->sent && !req->reader->rewind)
		*again = 0;
	*wait = ra_ms >= 0 ? (uint64_t)ra_ms : backoff_ms(c, rq->attempt);
	return 0;
}

/*
 * Sleeps `wait` ms before the next attempt. Returns 0 to go on, 1 when the
 * sleep would end past the retry budget (nothing slept: the last attempt's
 * result stands), or the op's error when cancelled while sleeping.
 */
static int retry_wait(request *rq, uint64_t wait)
{
	uint64_t now = astra__mono_ns();
	if (now + wait * 1000000ULL >= rq->deadline) {
		astra__log_debug("http: retry budget of %u ms spent",
		        rq->c->retry_budget_ms);
		return 1;
	}
	return sleep_ms(wait, rq->req->op);
}

int astra__http_do(astra__http *c, const astra__http_request *req,
        astra__http_response *resp)
{
	ASTRA_ASSERT_ARG(c && req && req->url && resp);
	request rq;
	int rc = request_begin(&rq, c, req, resp);
	if (rc)
		goto done;
	for (;;) {
		rq.attempt++;
		rc = attempt_prepare(&rq);
		if (rc)
			goto done;
		char errbuf[CURL_ERROR_SIZE];
		xfer x;
		CURLcode cc;
		long status;
		rc = attempt_perform(&rq, &x, errbuf, &cc, &status);
		if (rc)
			goto done;
		int again = 0, again_now = 0;
		uint64_t wait = 0;
		if (cc != CURLE_OK)
			rc = transport_failed(
			        &rq, &x, cc, errbuf, &again, &wait);
		else
			rc = response_received(
			        &rq, &x, status, &again, &again_now, &wait);
		if (again_now) {
			rq.attempt--; /* not a failed attempt */
			continue;
		}
		if (!again || rq.attempt > c->max_retries)
			goto done;
		int src = retry_wait(&rq, wait);
		if (src) {
			if (src < 0)
				rc = src;
			goto done;
		}
	}
done:
	request_end(&rq);
	return rc;
}
