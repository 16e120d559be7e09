/*
 * The request side the HTTP object stores (s3.c, azure.c, gcs.c) share:
 * the network options every one of them takes (ca, proxy, insecure-tls,
 * timeout, retries, retry-budget) and the HTTP client built from them
 * (whose retries, backoff with jitter, Retry-After, cancellation and retry
 * budget live in lib/net), the pause of a backend's own retries, the server
 * clock's skew (for retrying a request refused as too old), saving and
 * restoring the thread's error around clean-up requests, mapping a failed
 * response to an astra error from a backend's table of service codes, the
 * common wording of those errors, endpoint parsing, and a worker pool for
 * parallel part and block uploads.
 *
 * Internal to lib/store; nothing here is exported.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_OBJHTTP_H
#define ASTRA_STORE_OBJHTTP_H

#include <stddef.h>

#include "astra/common.h"
#include "net/http.h"
#include "store/store.h"
#include "store/url.h"

/* ------------------------------------------------------------------ */
/* Network options and the HTTP client                                 */
/* ------------------------------------------------------------------ */

typedef struct {
	char *ca, *proxy; /* ?ca=, ?proxy= (NULL: none given) */
	int insecure; /* ?insecure-tls= */
	int allow_plain_http; /* ?allow-plain-http=: credentials over http:// */
	long timeout_s; /* ?timeout=: seconds per attempt (1..86400) */
	long retries; /* ?retries= (0..100) */
	long budget_s; /* ?retry-budget=: seconds (1..86400) */
} astra__objhttp_net;

/* Entries of a backend's option table (url.h) for the network options,
 * T being the backend's options struct with an astra__objhttp_net net. */
#define ASTRA__OBJHTTP_OPT_CA(T) \
	ASTRA__URL_STR("ca", T, net.ca, "a CA bundle file (PEM)")
#define ASTRA__OBJHTTP_OPT_PROXY(T) \
	ASTRA__URL_STR("proxy", T, net.proxy, "an HTTP(S) proxy URL")
#define ASTRA__OBJHTTP_OPT_INSECURE(T)                   \
	ASTRA__URL_BOOL("insecure-tls", T, net.insecure, \
	        "1: do not verify the server's certificate")
#define ASTRA__OBJHTTP_OPT_PLAIN_HTTP(T)                                     \
	ASTRA__URL_BOOL("allow-plain-http", T, net.allow_plain_http,         \
	        "1: send credentials over a plain http:// endpoint that is " \
	        "not on loopback")
#define ASTRA__OBJHTTP_OPT_TIMEOUT(T) \
	ASTRA__URL_LONG(              \
	        "timeout", T, net.timeout_s, 1, 86400, "seconds per attempt")
#define ASTRA__OBJHTTP_OPT_RETRIES(T)                      \
	ASTRA__URL_LONG("retries", T, net.retries, 0, 100, \
	        "retries of a failed request")
#define ASTRA__OBJHTTP_OPT_BUDGET(T)                               \
	ASTRA__URL_LONG("retry-budget", T, net.budget_s, 1, 86400, \
	        "seconds all retries of a request may take")

/* Defaults: 120 s per attempt, 6 retries inside 60 s. */
void astra__objhttp_net_init(astra__objhttp_net *n);
void astra__objhttp_net_free(astra__objhttp_net *n);
/*
 * Takes URL option k (value *v) when it is one of the network options:
 * 1 when taken (a string value is moved out of *v), 0 when k is not one,
 * or ASTRA_EINVALID naming url, k and the value.
 */
int astra__objhttp_net_opt(
        const char *url, const char *k, char **v, astra__objhttp_net *n);
/* The CA file and insecure flag to use: the open options' win. */
const char *astra__objhttp_ca(
        const astra__objhttp_net *n, const astra__store_opts *so);
int astra__objhttp_insecure(
        const astra__objhttp_net *n, const astra__store_opts *so);
/*
 * The transport rules of a store's endpoint (docs/security.md), checked
 * before any request: insecure-tls together with a CA (?ca= or the open
 * options') is refused; insecure-tls alone logs a warning once per process
 * for the endpoint; `credential` (what the requests carry, e.g. "a bearer
 * token"; NULL: nothing) over a plain http:// endpoint that is not on
 * loopback is refused unless ?allow-plain-http=1. Errors (ASTRA_EINVALID)
 * name `url` (a display URL) and the endpoint, never a secret.
 */
int astra__objhttp_check_transport(const char *url, const char *endpoint,
        const astra__objhttp_net *n, const astra__store_opts *so,
        const char *credential);
/* An HTTP client configuration from the options (HTTP/1.1 only: object
 * stores answer large bodies faster on parallel connections). */
void astra__objhttp_config(astra__http_config *cfg, const astra__objhttp_net *n,
        const astra__store_opts *so);

/* ------------------------------------------------------------------ */
/* Retries and the thread's error                                      */
/* ------------------------------------------------------------------ */

/* 1 for the statuses a retry may cure: 429 and 5xx. */
int astra__objhttp_transient(long status);
/* Sleeps before a backend's own retry `attempt` (1, 2...) for
 * base_ms << attempt. The HTTP client's retries come on top. */
void astra__objhttp_pause(unsigned base_ms, unsigned attempt);

/* The server's clock minus ours, in seconds, from a response's Date
 * header (signatures older than 15 minutes are refused): 1 with *skew
 * set, 0 when the response has no readable Date. */
int astra__objhttp_server_skew(
        const astra__http_response *resp, long long *skew);

/*
 * The body of a ranged GET (off/len as astra__store_get takes them; len 0:
 * to the end) into *out, once the request returned rc: a too-short object
 * (rc ASTRA_ECORRUPT from the body limit) and a server that ignored the
 * range ("<what> <key>: the server ignored <range_word> (HTTP n)") are
 * named; exactly len bytes are kept (a whole object sent for a range from
 * 0 is cut); *out takes the response's buffer over when it is empty.
 */
int astra__objhttp_range_body(int rc, astra__http_response *resp,
        const char *what, const char *range_word, const char *key, uint64_t off,
        uint64_t len, astra_buf *out);

/* ------------------------------------------------------------------ */
/* Failed responses                                                    */
/* ------------------------------------------------------------------ */

/* A service's error details of a response. */
typedef struct {
	char code[96]; /* "NoSuchKey", "BlobNotFound"... or "" */
	char message[320];
	char request_id[96];
} astra__objhttp_err;

int astra__objhttp_code_is(const astra__objhttp_err *e, const char *c);

/*
 * One line of a backend's mapping from a failed response to an astra code,
 * tried in order: it matches when the service code is one of `names`
 * ("A|B|C"; "*Part" matches codes containing Part) or the status is in
 * [st_lo, st_hi] (0: no status), with `uncoded` only when the response
 * carries no service code. A table ends with a line whose code is 0.
 */
typedef struct {
	int code; /* ASTRA_E* */
	const char *names;
	long st_lo, st_hi;
	int uncoded;
} astra__objhttp_rule;

/* The code of the first matching line, else ASTRA_EIO. */
int astra__objhttp_classify(
        const astra__objhttp_rule *rules, long status, const char *svc_code);

/* What a failure message names. */
typedef struct {
	const char *service; /* "S3", "Azure", "GCS" */
	const char *op; /* method or operation */
	const char *key; /* the object, or NULL */
	const char *whole; /* what a request without a key is on: "(bucket)" */
	const char *where; /* "bucket B", "container C of account A" */
	const char *code; /* the service code, or "" */
	const char *no_code; /* said instead of an empty code */
	const char *absent; /* the code said of an absent object */
	const char *message; /* the service's message, or "" */
	const char *request_id; /* "" for none; NULL: not told */
} astra__objhttp_failure;

/*
 * Sets and returns error `code` for a failed response:
 *   object KEY not found (SERVICE OP: CODE, HTTP N[, request id R])
 * for ASTRA_ENOTFOUND on an object, else
 *   SERVICE OP KEY in WHERE failed: CODE[: MESSAGE] (HTTP N[, request id
 *   R][, retried])
 */
int astra__objhttp_fail(int code, const astra__http_response *resp,
        const astra__objhttp_failure *f);

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* getenv(name) when set and not empty, else NULL. */
const char *astra__objhttp_env(const char *name);

/*
 * An endpoint "[http[s]://]host[:port][/]" (no scheme: https) split into
 * its scheme ("http" or "https") and host[:port] (both allocated).
 * Refused naming url: another scheme, a path or query, credentials
 * (cred_hint, e.g. " (use AWS_ACCESS_KEY_ID or a profile)", follows the
 * message).
 */
int astra__objhttp_endpoint(const char *url, const char *ep,
        const char *cred_hint, char **scheme, char **host);

/* ------------------------------------------------------------------ */
/* Parallel uploads                                                    */
/* ------------------------------------------------------------------ */

/* Uploads item i (0 <= i < n); a negative astra code (error set) fails. */
typedef int (*astra__objhttp_task)(void *ctx, unsigned i);

/*
 * Runs task for every item on up to `concurrency` threads (at most 64; the
 * calling thread alone when none can start). After the first failure no
 * new item starts; its code and message are set again on the calling
 * thread and returned.
 */
int astra__objhttp_parallel(
        unsigned n, unsigned concurrency, astra__objhttp_task task, void *ctx);

#endif
