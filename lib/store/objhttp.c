/*
 * The request side shared by the s3, azure and gcs stores (objhttp.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/objhttp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/buf.h"
#include "core/error.h"
#include "store/awscreds.h"

/* ------------------------------------------------------------------ */
/* Network options and the HTTP client                                 */
/* ------------------------------------------------------------------ */

void astra__objhttp_net_init(astra__objhttp_net *n)
{
	memset(n, 0, sizeof(*n));
	n->timeout_s = 120;
	n->retries = 6;
	n->budget_s = 60;
}

void astra__objhttp_net_free(astra__objhttp_net *n)
{
	free(n->ca);
	free(n->proxy);
	n->ca = n->proxy = NULL;
}

/* The network options alone, for astra__objhttp_net_opt. */
typedef struct {
	astra__objhttp_net net;
} net_only;

static const astra__url_opt net_opts[] = {
	ASTRA__OBJHTTP_OPT_CA(net_only),
	ASTRA__OBJHTTP_OPT_PROXY(net_only),
	ASTRA__OBJHTTP_OPT_INSECURE(net_only),
	ASTRA__OBJHTTP_OPT_PLAIN_HTTP(net_only),
	ASTRA__OBJHTTP_OPT_TIMEOUT(net_only),
	ASTRA__OBJHTTP_OPT_RETRIES(net_only),
	ASTRA__OBJHTTP_OPT_BUDGET(net_only),
	ASTRA__URL_END,
};

int astra__objhttp_net_opt(
        const char *url, const char *k, char **v, astra__objhttp_net *n)
{
	return astra__url_opt_set(url, net_opts, k, v, n);
}

const char *astra__objhttp_ca(
        const astra__objhttp_net *n, const astra__store_opts *so)
{
	return so && so->ca_file ? so->ca_file : n->ca;
}

int astra__objhttp_insecure(
        const astra__objhttp_net *n, const astra__store_opts *so)
{
	return (so && so->insecure_tls) || n->insecure;
}

int astra__objhttp_check_transport(const char *url, const char *endpoint,
        const astra__objhttp_net *n, const astra__store_opts *so,
        const char *credential)
{
	const char *ca = astra__objhttp_ca(n, so);
	if (astra__objhttp_insecure(n, so)) {
		if (ca)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
			        "vault %s: insecure-tls=1 turns off the "
			        "certificate verification that the CA %s is "
			        "given for; use one or the other",
			        url, ca);
		char what[600];
		snprintf(what, sizeof(what), "the store endpoint %.500s",
		        endpoint);
		astra__http_warn_insecure(what);
	}
	if (credential && strncasecmp(endpoint, "http://", 7) == 0 &&
	        !astra__http_url_is_loopback(endpoint) && !n->allow_plain_http)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault %s: the endpoint %s is plain http:// and not on "
		        "loopback, so %s would cross the network unencrypted; "
		        "use https://, or allow it with allow-plain-http=1",
		        url, endpoint, credential);
	return 0;
}

void astra__objhttp_config(astra__http_config *cfg, const astra__objhttp_net *n,
        const astra__store_opts *so)
{
	astra__http_config_init(cfg);
	cfg->ca_file = astra__objhttp_ca(n, so);
	cfg->insecure = astra__objhttp_insecure(n, so);
	cfg->proxy = n->proxy;
	cfg->http2 = 0;
	cfg->timeout_ms = (unsigned)n->timeout_s * 1000u;
	cfg->max_retries = (unsigned)n->retries;
	cfg->retry_budget_ms = (unsigned)n->budget_s * 1000u;
}

/* ------------------------------------------------------------------ */
/* Retries and the thread's error                                      */
/* ------------------------------------------------------------------ */

int astra__objhttp_transient(long status)
{
	return status >= 500 || status == 429;
}

void astra__objhttp_pause(unsigned base_ms, unsigned attempt)
{
	astra__sleep_ms(base_ms << attempt);
}

int astra__objhttp_server_skew(
        const astra__http_response *resp, long long *skew)
{
	const char *date = astra__http_header(resp, "Date");
	int64_t server;
	if (!date || astra__aws_parse_time(date, &server) != 0) {
		astra_error_clear();
		return 0;
	}
	*skew = (long long)(server - astra__wall_ns() / 1000000000LL);
	return 1;
}

int astra__objhttp_range_body(int rc, astra__http_response *resp,
        const char *what, const char *range_word, const char *key, uint64_t off,
        uint64_t len, astra_buf *out)
{
	if (rc == ASTRA_ECORRUPT)
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
		        "object %s is shorter than the range %llu+%llu", key,
		        (unsigned long long)off, (unsigned long long)len);
	if (rc)
		return rc;
	if ((off || len) && resp->status != 206 &&
	        !(resp->status == 200 && off == 0))
		return astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "%s %s: the server ignored %s (HTTP %ld)", what, key,
		        range_word, resp->status);
	size_t got = resp->body.size;
	if (resp->status == 200 && off == 0 && len && got > len)
		got = (size_t)len; /* a whole object for a range from 0 */
	if (len && got != len)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
		        "object %s: got %zu bytes for the range %llu+%llu", key,
		        got, (unsigned long long)off, (unsigned long long)len);
	if (out->size == 0 && out->asize == 0 && resp->body.ptr &&
	        got == resp->body.size) {
		*out = resp->body;
		memset(&resp->body, 0, sizeof(resp->body));
	} else if ((rc = astra__buf_put(
	                    out, resp->body.ptr ? resp->body.ptr : "", got))) {
		return rc;
	}
	return astra__buf_grow(out, 0);
}

/* ------------------------------------------------------------------ */
/* Failed responses                                                    */
/* ------------------------------------------------------------------ */

int astra__objhttp_code_is(const astra__objhttp_err *e, const char *c)
{
	return !strcmp(e->code, c);
}

/* Whether code is one of names ("A|B|*Part"). */
static int names_match(const char *names, const char *code)
{
	if (!names || !*code)
		return 0;
	size_t cl = strlen(code);
	for (const char *p = names; *p;) {
		size_t n = strcspn(p, "|");
		if (p[0] == '*') {
			char part[96];
			if (n - 1 < sizeof(part)) {
				memcpy(part, p + 1, n - 1);
				part[n - 1] = '\0';
				if (strstr(code, part))
					return 1;
			}
		} else if (n == cl && !memcmp(p, code, n)) {
			return 1;
		}
		p += n;
		if (*p == '|')
			p++;
	}
	return 0;
}

int astra__objhttp_classify(
        const astra__objhttp_rule *rules, long status, const char *svc_code)
{
	const char *c = svc_code ? svc_code : "";
	for (const astra__objhttp_rule *r = rules; r->code; r++) {
		if (names_match(r->names, c))
			return r->code;
		if (r->st_lo && status >= r->st_lo && status <= r->st_hi &&
		        !(r->uncoded && *c))
			return r->code;
	}
	return ASTRA_EIO;
}

int astra__objhttp_fail(int code, const astra__http_response *resp,
        const astra__objhttp_failure *f)
{
	long st = resp->status;
	char rid[128] = "";
	if (f->request_id)
		snprintf(rid, sizeof(rid), ", request id %s",
		        f->request_id[0] ? f->request_id : "none");
	if (code == ASTRA_ENOTFOUND && f->key)
		return astra__err(code, ASTRA_ERROR_STORE,
		        "object %s not found (%s %s: %s, HTTP %ld%s)", f->key,
		        f->service, f->op, f->code[0] ? f->code : f->absent, st,
		        rid);
	return astra__err(code, ASTRA_ERROR_STORE,
	        "%s %s %s in %s failed: %s%s%s (HTTP %ld%s%s)", f->service,
	        f->op, f->key ? f->key : f->whole, f->where,
	        f->code[0] ? f->code : f->no_code, f->message[0] ? ": " : "",
	        f->message, st, rid, resp->attempts > 1 ? ", retried" : "");
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

const char *astra__objhttp_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int astra__objhttp_endpoint(const char *url, const char *ep,
        const char *cred_hint, char **scheme, char **host)
{
	const char *rest = ep;
	const char *sch = "https";
	*scheme = *host = NULL;
	if (!strncmp(ep, "http://", 7)) {
		sch = "http";
		rest = ep + 7;
	} else if (!strncmp(ep, "https://", 8)) {
		rest = ep + 8;
	} else if (strstr(ep, "://")) {
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the endpoint %s must be http:// or "
		        "https://",
		        url, ep);
	}
	size_t hl = strcspn(rest, "/?#");
	if (!hl || (rest[hl] && strcmp(rest + hl, "/")))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the endpoint %s must be "
		        "scheme://host[:port] without a path",
		        url, ep);
	if (memchr(rest, '@', hl))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the endpoint must not contain "
		        "credentials%s",
		        url, cred_hint ? cred_hint : "");
	*scheme = astra__strdup(sch);
	*host = astra__strndup(rest, hl);
	if (!*scheme || !*host) {
		free(*scheme);
		free(*host);
		*scheme = *host = NULL;
		return ASTRA_ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parallel uploads                                                    */
/* ------------------------------------------------------------------ */

#define MAX_WORKERS 64

typedef struct {
	astra__objhttp_task task;
	void *ctx;
	unsigned n;
	atomic_uint next;
	atomic_int failed;
	pthread_mutex_t mu;
	int rc, klass;
	char msg[1024];
} pool;

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		if (atomic_load(&p->failed))
			break;
		unsigned i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		int rc = p->task(p->ctx, i);
		if (rc) {
			pthread_mutex_lock(&p->mu);
			if (!p->rc) {
				p->rc = rc;
				p->klass = astra_error_last()->klass;
				snprintf(p->msg, sizeof(p->msg), "%s",
				        astra_error_last()->message);
			}
			pthread_mutex_unlock(&p->mu);
			atomic_store(&p->failed, 1);
			break;
		}
	}
	return NULL;
}

int astra__objhttp_parallel(
        unsigned n, unsigned concurrency, astra__objhttp_task task, void *ctx)
{
	pool p;
	memset(&p, 0, sizeof(p));
	p.task = task;
	p.ctx = ctx;
	p.n = n;
	pthread_mutex_init(&p.mu, NULL);
	unsigned nt = concurrency < n ? concurrency : n;
	if (nt > MAX_WORKERS)
		nt = MAX_WORKERS;
	pthread_t tids[MAX_WORKERS];
	unsigned started = 0;
	for (; started < nt; started++)
		if (pthread_create(&tids[started], NULL, worker, &p))
			break;
	if (!started)
		worker(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.rc)
		return astra__err(p.rc, p.klass, "%s", p.msg);
	return 0;
}
