/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

#define POOL_MAX 16
#define DEFAULT_MAX_BODY ((size_t)1 << 30)
#define ERROR_BODY_MAX ((size_t)256 << 10)

struct astra__http {
	pthread_mutex_t mu; /* guards everything below */
	CURL *idle[POOL_MAX];
	size_t nidle;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

	char *ca_file;
	char *ca_pem;
	size_t ca_pem_len;
	int insecure;
	char *cert_pem;
	size_t cert_pem_len;
	char *key_pem;
	size_t key_pem_len;
	char *tls_server_name;
	char *proxy;
	char *user_agent;
	unsigned connect_timeout_ms, timeout_ms;
	unsigned max_retries, retry_budget_ms, backoff_base_ms, backoff_max_ms;
	int http2, compress;
	astra__http_auth_fn auth;
	void *auth_payload;

	/* token bucket */
	double qps, tokens, burst;
	uint64_t last_ns;
	uint64_t rng;
};

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
/* URLs                                                                */
/* ------------------------------------------------------------------ */

static int secret_param(const char *name, size_t n)
{
	/* upload_id: a GCS resumable-upload session is a capability */
	static const char *const words[] = { "sig", "token", "credential",
		"key", "secret", "password", "passwd", "auth", "upload_id",
		NULL };
	char low[64];
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (int i = 0; words[i]; i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

void astra__http_redact_url(const char *url, char *out, size_t n)
{
	if (!n)
		return;
	out[0] = '\0';
	if (!url)
		return;
	astra_buf b = ASTRA_BUF_INIT;
	const char *q = strchr(url, '?');
	const char *frag = strchr(url, '#');
	/* drop user:password@ in the authority */
	const char *p = strstr(url, "://");
	const char *auth_end = NULL;
	if (p) {
		const char *host = p + 3;
		size_t hl = strcspn(host, "/?#");
		const char *at = memchr(host, '@', hl);
		if (at) {
			/* last '@' inside the authority */
			for (const char *x = at; x < host + hl; x++)
				if (*x == '@')
					at = x;
			auth_end = at + 1;
		}
	}
	int rc = 0;
	if (auth_end) {
		rc |= astra__buf_put(&b, url, (size_t)(p + 3 - url));
		rc |= astra__buf_puts(&b, "REDACTED@");
		url = auth_end;
	}
	if (!q || (frag && frag < q)) {
		rc |= astra__buf_puts(&b, url);
	} else {
		rc |= astra__buf_put(&b, url, (size_t)(q + 1 - url));
		const char *s = q + 1;
		while (*s && *s != '#') {
			size_t len = strcspn(s, "&#");
			const char *eq = memchr(s, '=', len);
			if (eq && secret_param(s, (size_t)(eq - s))) {
				rc |= astra__buf_put(
				        &b, s, (size_t)(eq + 1 - s));
				rc |= astra__buf_puts(&b, "REDACTED");
			} else {
				rc |= astra__buf_put(&b, s, len);
			}
			s += len;
			if (*s == '&') {
				rc |= astra__buf_putc(&b, '&');
				s++;
			}
		}
		rc |= astra__buf_puts(&b, s); /* the fragment */
	}
	if (rc == 0 && b.ptr)
		snprintf(out, n, "%s", b.ptr);
	else
		snprintf(out, n, "(url)");
	astra_buf_dispose(&b);
}

int astra__http_escape(astra_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int rc;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ||
		        ch == '~') {
			rc = astra__buf_putc(b, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			rc = astra__buf_put(b, e, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}

long astra__http_parse_retry_after(const char *v)
{
	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (!*v)
		return -1;
	if (isdigit((unsigned char)*v)) {
		char *end;
		unsigned long s = strtoul(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			return -1;
		if (s > 86400)
			s = 86400;
		return (long)s * 1000;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	time_t now = time(NULL);
	if (t <= now)
		return 0;
	if (t - now > 86400)
		return 86400L * 1000;
	return (long)(t - now) * 1000;
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

static int rate_wait(astra__http *c, astra__op *op)
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

/*
 * With a TLS server name override the URL's host is replaced by the name
 * (so SNI and verification use it), CONNECT_TO sends the connection to the
 * real host, and a Host header keeps the original authority.
 */
static int tls_name_setup(astra__http *c, const char *url, char **new_url,
        struct curl_slist **connect_to, char **host_header)
{
	*new_url = NULL;
	*connect_to = NULL;
	*host_header = NULL;
	if (!c->tls_server_name)
		return 0;
	CURLU *u = curl_url();
	if (!u)
		return astra__err_oom();
	char *host = NULL, *port = NULL, *out = NULL;
	int rc = 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	                CURLUE_OK) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "malformed URL for TLS server name %s",
		        c->tls_server_name);
		goto done;
	}
	if (curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) !=
	                CURLUE_OK ||
	        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "invalid TLS server name \"%s\"", c->tls_server_name);
		goto done;
	}
	char *ct = astra__aprintf(
	        "%s:%s:%s:%s", c->tls_server_name, port, host, port);
	char *hh = astra__aprintf("Host: %s:%s", host, port);
	if (!ct || !hh) {
		free(ct);
		free(hh);
		rc = ASTRA_ENOMEM;
		goto done;
	}
	*connect_to = curl_slist_append(NULL, ct);
	free(ct);
	if (!*connect_to) {
		free(hh);
		rc = astra__err_oom();
		goto done;
	}
	*host_header = hh;
	*new_url = astra__strdup(out);
	if (!*new_url)
		rc = ASTRA_ENOMEM;
done:
	curl_free(host);
	curl_free(port);
	curl_free(out);
	curl_url_cleanup(u);
	return rc;
}

static void set_blob(CURL *h, CURLoption opt, const char *data, size_t len)
{
	struct curl_blob blob;
	blob.data = (void *)data;
	blob.len = len;
	blob.flags = CURL_BLOB_COPY;
	curl_easy_setopt(h, opt, &blob);
}

static int map_curl_error(CURLcode cc, const char *method, const char *url,
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

/* Hashes of the `what`s already warned about; past the table's size every
 * call warns (louder, never quieter). */
static pthread_mutex_t warned_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t warned[64];
static size_t nwarned;

void astra__http_warn_insecure(const char *what)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)what; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	int seen = 0;
	pthread_mutex_lock(&warned_mu);
	for (size_t i = 0; i < nwarned && !seen; i++)
		seen = warned[i] == h;
	if (!seen && nwarned < sizeof(warned) / sizeof(warned[0]))
		warned[nwarned++] = h;
	pthread_mutex_unlock(&warned_mu);
	if (!seen)
		astra__log_warn("TLS certificate verification is turned off "
		                "for %s: anyone on the network path can read "
		                "and change the traffic, credentials included",
		        what);
}

static void configure_tls(astra__http *c, CURL *h)
{
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		if (c->ca_pem)
			set_blob(h, CURLOPT_CAINFO_BLOB, c->ca_pem,
			        c->ca_pem_len);
		else if (c->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	pthread_mutex_lock(&c->mu);
	if (c->cert_pem && c->key_pem) {
		set_blob(h, CURLOPT_SSLCERT_BLOB, c->cert_pem, c->cert_pem_len);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(h, CURLOPT_SSLKEY_BLOB, c->key_pem, c->key_pem_len);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	pthread_mutex_unlock(&c->mu);
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

	configure_tls(c, h);
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

int astra__http_do(astra__http *c, const astra__http_request *req,
        astra__http_response *resp)
{
	ASTRA_ASSERT_ARG(c && req && req->url && resp);
	const char *method = req->method ? req->method : "GET";
	int idempotent = is_idempotent(req);
	unsigned timeout_ms = req->timeout_ms ? req->timeout_ms : c->timeout_ms;
	uint64_t start = astra__mono_ns();
	uint64_t deadline = start + (uint64_t)c->retry_budget_ms * 1000000ULL;
	char *url = NULL, *host_header = NULL;
	struct curl_slist *connect_to = NULL;
	int rc = tls_name_setup(c, req->url, &url, &connect_to, &host_header);
	if (rc)
		goto done;

	unsigned attempt = 0;
	int auth_retried = 0;
	for (;;) {
		attempt++;
		rc = astra__op_check(req->op);
		if (rc)
			goto done;
		rc = rate_wait(c, req->op);
		if (rc)
			goto done;
		astra__http_response_dispose(resp);
		resp->attempts = attempt;
		if (req->reader && attempt > 1 && req->reader->rewind) {
			rc = req->reader->rewind(req->reader->payload);
			if (rc)
				goto done;
		}

		int auth_rc = 0;
		struct curl_slist *hdrs =
		        build_headers(c, req, host_header, &auth_rc);
		if (auth_rc) {
			free_headers(hdrs);
			rc = auth_rc;
			goto done;
		}
		CURL *h = acquire(c);
		if (!h) {
			free_headers(hdrs);
			rc = ASTRA_ENOMEM;
			goto done;
		}
		char errbuf[CURL_ERROR_SIZE];
		errbuf[0] = '\0';
		xfer x;
		memset(&x, 0, sizeof(x));
		x.c = c;
		x.h = h;
		x.req = req;
		x.resp = resp;
		x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
		configure(c, h, &x, url ? url : req->url, method, timeout_ms,
		        errbuf);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		if (connect_to)
			curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);

		uint64_t t0 = astra__mono_ns();
		CURLcode cc = curl_easy_perform(h);
		long status = 0, ver = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
		/* the handle must not keep pointers to our headers */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
		free_headers(hdrs);
		release(c, h);
		resp->http_version = ver == CURL_HTTP_VERSION_2_0 ? 2 : 1;
		uint64_t took_ms = (astra__mono_ns() - t0) / 1000000ULL;

		if (astra__log_enabled(ASTRA_LOG_DEBUG)) {
			char u[512];
			astra__http_redact_url(req->url, u, sizeof(u));
			astra__log_debug("http: %s %s -> %ld (%s) in %llu ms, "
			                 "HTTP/%d, attempt %u",
			        method, u, status,
			        cc == CURLE_OK ? "ok" : curl_easy_strerror(cc),
			        (unsigned long long)took_ms, resp->http_version,
			        attempt);
		}

		int maybe_sent = 1;
		uint64_t wait = 0;
		int again = 0;
		if (cc != CURLE_OK) {
			if (x.cb_rc) {
				/* our callback failed; its error is set */
				rc = x.cb_rc;
				if (rc == ASTRA_ECANCELLED)
					rc = astra__op_check(req->op)
					             ? ASTRA_ECANCELLED
					             : astra__err(
					                       ASTRA_ECANCELLED,
					                       ASTRA_ERROR_CALLBACK,
					                       "transfer cancelled");
				goto done;
			}
			rc = map_curl_error(
			        cc, method, req->url, errbuf, timeout_ms);
			again = retryable_curl(cc, &maybe_sent) &&
			        (idempotent || !maybe_sent) &&
			        x.streamed == 0 &&
			        req->retry != ASTRA_HTTP_RETRY_NEVER;
			if (again && req->reader && x.sent &&
			        !req->reader->rewind)
				again = 0;
			wait = backoff_ms(c, attempt);
		} else {
			resp->status = status;
			rc = 0;
			if (status == 401 && c->auth && !auth_retried &&
			        (!req->reader || !x.sent ||
			                req->reader->rewind)) {
				/* ask the provider for fresh credentials */
				char *line = NULL;
				int r = c->auth(c->auth_payload, 1, &line);
				astra__free_secret_str(line);
				auth_retried = 1;
				if (r < 0) {
					rc = r;
					goto done;
				}
				if (r > 0) {
					attempt--; /* not a failed attempt */
					continue;
				}
			}
			const char *ra =
			        astra__http_header(resp, "Retry-After");
			long ra_ms = astra__http_parse_retry_after(ra);
			again = req->retry != ASTRA_HTTP_RETRY_NEVER &&
			        retryable_status(
			                status, idempotent, ra != NULL);
			if (again && req->reader && x.sent &&
			        !req->reader->rewind)
				again = 0;
			wait = ra_ms >= 0 ? (uint64_t)ra_ms
			                  : backoff_ms(c, attempt);
		}
		if (!again || attempt > c->max_retries)
			goto done;
		uint64_t now = astra__mono_ns();
		if (now + wait * 1000000ULL >= deadline) {
			astra__log_debug("http: retry budget of %u ms spent",
			        c->retry_budget_ms);
			goto done;
		}
		int src = sleep_ms(wait, req->op);
		if (src) {
			rc = src;
			goto done;
		}
	}
done:
	free(url);
	free(host_header);
	curl_slist_free_all(connect_to);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Raw connections (connect-only)                                      */
/* ------------------------------------------------------------------ */

struct astra__http_raw {
	CURL *h;
	curl_socket_t fd;
	char *url; /* redacted, for messages */
};

static int raw_target(const char *url, char **target, char **authority)
{
	*target = NULL;
	*authority = NULL;
	CURLU *u = curl_url();
	if (!u)
		return astra__err_oom();
	char *path = NULL, *query = NULL, *host = NULL, *port = NULL;
	int rc = 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		char r[512];
		astra__http_redact_url(url, r, sizeof(r));
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "malformed URL %s", r);
		goto done;
	}
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	*target = astra__aprintf(
	        "%s%s%s", path, query ? "?" : "", query ? query : "");
	*authority = astra__aprintf(
	        "%s%s%s", host, port ? ":" : "", port ? port : "");
	if (!*target || !*authority) {
		free(*target);
		free(*authority);
		*target = *authority = NULL;
		rc = ASTRA_ENOMEM;
	}
done:
	curl_free(path);
	curl_free(query);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int astra__http_raw_open(astra__http *c, const char *url, unsigned timeout_ms,
        astra__op *op, astra__http_raw **out, astra_buf *head_lines,
        char **target)
{
	ASTRA_ASSERT_ARG(c && url && out && head_lines && target);
	*out = NULL;
	*target = NULL;
	char *new_url = NULL, *host_header = NULL, *authority = NULL;
	struct curl_slist *connect_to = NULL;
	astra__http_raw *r = NULL;
	int rc = astra__op_check(op);
	if (rc)
		return rc;
	if ((rc = raw_target(url, target, &authority)) ||
	        (rc = tls_name_setup(
	                 c, url, &new_url, &connect_to, &host_header)) ||
	        (rc = rate_wait(c, op)))
		goto fail;
	if (host_header)
		rc = astra__buf_printf(head_lines, "%s\r\n", host_header);
	else
		rc = astra__buf_printf(head_lines, "Host: %s\r\n", authority);
	if (!rc)
		rc = astra__buf_printf(
		        head_lines, "User-Agent: %s\r\n", c->user_agent);
	if (!rc && c->auth) {
		char *line = NULL;
		rc = c->auth(c->auth_payload, 0, &line);
		if (rc > 0)
			rc = 0;
		if (!rc && line)
			rc = astra__buf_printf(head_lines, "%s\r\n", line);
		astra__free_secret_str(line);
	}
	if (rc)
		goto fail;
	r = astra__calloc(1, sizeof(*r));
	if (!r) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	char red[512];
	astra__http_redact_url(url, red, sizeof(red));
	r->url = astra__strdup(red);
	r->h = curl_easy_init();
	if (!r->url || !r->h) {
		rc = astra__err_oom();
		goto fail;
	}
	char errbuf[CURL_ERROR_SIZE];
	errbuf[0] = '\0';
	CURL *h = r->h;
	curl_easy_setopt(h, CURLOPT_URL, new_url ? new_url : url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* an upgrade needs HTTP/1.1: ALPN must not pick h2 */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	unsigned ct = c->connect_timeout_ms;
	if (timeout_ms && timeout_ms != ASTRA_HTTP_NO_TIMEOUT &&
	        (!ct || timeout_ms < ct))
		ct = timeout_ms;
	if (ct)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ct);
	configure_tls(c, h);
	if (c->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	if (connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
	if (cc != CURLE_OK) {
		rc = map_curl_error(cc, "CONNECT", url, errbuf, ct);
		goto fail;
	}
	curl_socket_t fd = CURL_SOCKET_BAD;
	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	        fd == CURL_SOCKET_BAD) {
		rc = astra__err(ASTRA_ENET, ASTRA_ERROR_NET,
		        "%s: no connected socket", red);
		goto fail;
	}
	r->fd = fd;
	*out = r;
	goto done;
fail:
	astra__http_raw_close(r);
	free(*target);
	*target = NULL;
done:
	free(new_url);
	free(host_header);
	free(authority);
	curl_slist_free_all(connect_to);
	return rc;
}

/* Waits until the socket is ready for `events`, in slices that let the
 * operation be cancelled. */
static int raw_wait(
        astra__http_raw *r, short events, uint64_t deadline_ns, astra__op *op)
{
	for (;;) {
		int rc = astra__op_check(op);
		if (rc)
			return rc;
		int ms = 200;
		if (deadline_ns) {
			uint64_t now = astra__mono_ns();
			if (now >= deadline_ns)
				return astra__err(ASTRA_ETIMEOUT,
				        ASTRA_ERROR_NET,
				        "%s: no data before the deadline",
				        r->url);
			uint64_t left = (deadline_ns - now) / 1000000ULL + 1;
			if (left < (uint64_t)ms)
				ms = (int)left;
		}
		struct pollfd p = { .fd = r->fd, .events = events };
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return astra__err_os("%s: poll", r->url);
	}
}

int astra__http_raw_send(astra__http_raw *r, const void *data, size_t n,
        uint64_t deadline_ns, astra__op *op)
{
	ASTRA_ASSERT_ARG(r);
	const char *p = data;
	while (n) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(r->h, p, n, &sent);
		if (cc == CURLE_AGAIN) {
			int rc = raw_wait(r, POLLOUT, deadline_ns, op);
			if (rc)
				return rc;
			continue;
		}
		if (cc != CURLE_OK)
			return astra__err(ASTRA_ENET, ASTRA_ERROR_NET,
			        "%s: send: %s", r->url, curl_easy_strerror(cc));
		p += sent;
		n -= sent;
	}
	return 0;
}

long astra__http_raw_recv(astra__http_raw *r, void *data, size_t n,
        uint64_t deadline_ns, astra__op *op)
{
	ASTRA_ASSERT_ARG(r);
	for (;;) {
		size_t got = 0;
		/* try first: TLS may hold decrypted bytes the socket
		 * does not show */
		CURLcode cc = curl_easy_recv(r->h, data, n, &got);
		if (cc == CURLE_OK)
			return (long)got; /* 0: closed */
		if (cc != CURLE_AGAIN)
			return astra__err(ASTRA_ENET, ASTRA_ERROR_NET,
			        "%s: receive: %s", r->url,
			        curl_easy_strerror(cc));
		int rc = raw_wait(r, POLLIN, deadline_ns, op);
		if (rc)
			return rc;
	}
}

void astra__http_raw_close(astra__http_raw *r)
{
	if (!r)
		return;
	if (r->h)
		curl_easy_cleanup(r->h);
	free(r->url);
	free(r);
}
