/*
 * What the files of the HTTP client share (not for use outside lib/net):
 * the client's state and the steps that both a pooled transfer (http.c)
 * and a raw connect-only connection (http_raw.c) take.
 *
 *   http.c      the client's life cycle, the handle pool, the rate limit,
 *               backoff, and one request with its retries (astra__http_do)
 *   http_url.c  URL redaction and escaping, Retry-After parsing
 *   http_tls.c  TLS options of a handle, the TLS server name override, the
 *               "verification is off" warning
 *   http_raw.c  raw connections (connect-only, for protocol upgrades)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_NET_HTTP_INTERNAL_H
#define ASTRA_NET_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/op.h"
#include "net/http.h"

#define POOL_MAX 16

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
/*
 * Client-side rate limit: takes a token from c's bucket, sleeping (in
 * slices that notice cancellation) until one is due. Returns 0, or the
 * op's error when cancelled while waiting (the token stays taken).
 */
int astra__http_rate_wait(astra__http *c, astra__op *op);

/*
 * Maps a libcurl failure of `method` on `url` to an astra code and sets the
 * message (the URL redacted; `detail` is curl's error buffer, may be empty).
 */
int astra__http_map_curl_error(CURLcode cc, const char *method, const char *url,
        const char *detail, unsigned timeout_ms);

/*
 * With c's TLS server name set: *new_url is `url` with its host replaced
 * by the name, *connect_to routes the connection to the real host and port,
 * *host_header ("Host: host:port") keeps the original authority. Without
 * it all three are NULL. On failure all three are NULL and the error is set.
 * The caller frees *new_url and *host_header, and curl_slist_free_all()s
 * *connect_to.
 */
int astra__http_tls_name_setup(astra__http *c, const char *url, char **new_url,
        struct curl_slist **connect_to, char **host_header);

/* Sets h's TLS options from c: verification or not, the CA, the client
 * certificate (read under c->mu). Cannot fail (blobs are copied by curl). */
void astra__http_configure_tls(astra__http *c, CURL *h);

#endif
