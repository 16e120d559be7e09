/*
 * A reusable HTTP client over libcurl: TLS settings, per-request
 * credentials from a provider callback, timeouts, connection reuse (HTTP/2
 * where offered), a client-side rate limit, retries with exponential backoff
 * and jitter (honouring Retry-After) inside a bounded time, streaming request
 * and response bodies, and cancellation through astra__op.
 *
 * A client may be used from several threads at once: each transfer takes a
 * curl easy handle from a small pool (idle handles keep their connections
 * open), and DNS and TLS sessions are shared between the handles.
 *
 * Transfers that received an HTTP response return 0 whatever the status;
 * callers map statuses to astra codes. Transport failures return ASTRA_ENET
 * (ASTRA_ECERTIFICATE when the server certificate is not trusted,
 * ASTRA_ETIMEOUT on timeouts), with a message that names the method and the
 * URL (query values that look like secrets are redacted).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_NET_HTTP_H
#define ASTRA_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "core/op.h"

typedef struct astra__http astra__http;

/*
 * Credentials provider, called before every attempt. Stores a complete
 * header line ("Authorization: Bearer ...") in *line (allocated; the client
 * wipes and frees it) or NULL for none. `refresh` is 1 after the server
 * answered 401: the provider should drop cached credentials; it returns 1
 * when it obtained new ones (the request is then retried once), 0 when it has
 * nothing new. Negative: an astra error (with the message set) that fails the
 * request. Called on the requesting thread; may be called concurrently.
 */
typedef int (*astra__http_auth_fn)(void *payload, int refresh, char **line);

/* Where the request body comes from when it is not in memory. */
typedef struct {
	/* Fills up to n bytes; returns the count, 0 at the end, or a
	 * negative astra error code (error set) to abort. */
	long (*read)(void *payload, char *buf, size_t n);
	/* Restarts the body from the beginning (for retries). NULL: the
	 * request is not retried once body bytes were sent. */
	int (*rewind)(void *payload);
	void *payload;
	int64_t size; /* -1 when unknown (sent chunked on HTTP/1.1) */
} astra__http_reader;

/*
 * Streaming receiver for a 2xx response body. Returns 0 to continue or a
 * negative astra error code (error set) to abort the transfer. Error
 * responses (non-2xx) are always collected in astra__http_response.body.
 */
typedef int (*astra__http_write_fn)(void *payload, const char *data, size_t n);

typedef struct {
	/* TLS */
	const char *ca_file; /* PEM bundle file, or NULL */
	const char *ca_pem; /* PEM data, or NULL (both NULL: system store) */
	size_t ca_pem_len;
	int insecure; /* skip server certificate verification */
	const char *cert_pem; /* client certificate chain, PEM data */
	size_t cert_pem_len;
	const char *key_pem; /* client key, PEM data (a secret) */
	size_t key_pem_len;
	const char *tls_server_name; /* SNI and verification name override */
	/* proxy URL (http://, https://, socks5://); NULL: libcurl's
	 * environment defaults (https_proxy, no_proxy...) */
	const char *proxy;
	const char *user_agent; /* NULL: "libastra/<version>" */
	/* timeouts in milliseconds; 0 means none */
	unsigned connect_timeout_ms; /* default 10 000 */
	unsigned timeout_ms; /* per attempt; default 60 000 */
	/* client-side rate limit: qps <= 0 is unlimited */
	double qps;
	unsigned burst; /* tokens that can accumulate; at least 1 */
	/* retries of failed attempts (5xx, 429, connection errors) */
	unsigned max_retries; /* default 5 */
	unsigned
	        retry_budget_ms; /* no new attempt after this; default 30 000 */
	unsigned backoff_base_ms; /* default 200, doubled each retry */
	unsigned backoff_max_ms; /* default 10 000 */
	int http2; /* negotiate HTTP/2 over TLS (default 1) */
	int compress; /* Accept-Encoding + transparent decoding (default 0) */
	astra__http_auth_fn auth;
	void *auth_payload;
} astra__http_config;

/* Fills the defaults above. */
void astra__http_config_init(astra__http_config *cfg);

/* Copies everything it needs from cfg. */
int astra__http_new(astra__http **out, const astra__http_config *cfg);
void astra__http_free(astra__http *c);

/*
 * Logs a warning that TLS server verification is turned off for `what` (a
 * cluster and its server, a vault URL...), once per process for each
 * distinct `what`. Callers that set astra__http_config.insecure call it.
 */
void astra__http_warn_insecure(const char *what);

/* 1 when url ("scheme://[user@]host[:port][/...]") names a loopback host:
 * localhost, 127.0.0.0/8 or [::1]; 0 otherwise (also when unparsable). */
int astra__http_url_is_loopback(const char *url);

/* Replaces the client certificate and key (e.g. from a credential plugin);
 * NULL clears them. Safe while other threads use the client. */
int astra__http_set_client_cert(astra__http *c, const char *cert_pem,
        size_t cert_len, const char *key_pem, size_t key_len);

/* Retry policy of a request. */
enum {
	/* retry idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) on
	 * 5xx, 429 and transport errors; others only on 429/503 and on
	 * failures to connect (nothing was sent) */
	ASTRA_HTTP_RETRY_AUTO = 0,
	ASTRA_HTTP_RETRY_IDEMPOTENT = 1, /* treat the request as idempotent */
	ASTRA_HTTP_RETRY_NEVER = 2
};

#define ASTRA_HTTP_NO_TIMEOUT ((unsigned)-1)

typedef struct {
	const char *method; /* NULL: GET */
	const char *url;
	/* NULL-terminated "Name: value" lines, or NULL */
	const char *const *headers;
	/* request body in memory (borrowed for the call), or NULL */
	const void *body;
	size_t body_len;
	const astra__http_reader *reader; /* or a streamed body */
	astra__http_write_fn write; /* stream a 2xx body here... */
	void *write_payload;
	/* ...else it is collected in the response, up to max_body bytes
	 * (0: 1 GiB); longer bodies fail with ASTRA_EIO */
	size_t max_body;
	unsigned timeout_ms; /* 0: the client's; ASTRA_HTTP_NO_TIMEOUT */
	int retry; /* ASTRA_HTTP_RETRY_* */
	astra__op *op; /* cancellation, or NULL */
} astra__http_request;

typedef struct {
	long status; /* 0 when no response arrived */
	astra_buf body;
	char **headers; /* "name: value" of the final response */
	size_t nheaders;
	unsigned attempts;
	int http_version; /* 1, 2 */
} astra__http_response;

#define ASTRA_HTTP_RESPONSE_INIT \
	{                        \
		0                \
	}

void astra__http_response_dispose(astra__http_response *r);

/* Value of a response header (case-insensitive name), or NULL. */
const char *astra__http_header(const astra__http_response *r, const char *name);

/*
 * Performs the request, with rate limiting and retries. 0 when a response
 * arrived (check resp->status), or a negative astra error code.
 */
int astra__http_do(astra__http *c, const astra__http_request *req,
        astra__http_response *resp);

/*
 * Raw connections for protocols upgraded from HTTP/1.1 (WebSocket): libcurl
 * connects in connect-only mode (TCP, proxy tunnel, TLS with the client's
 * CA, client certificate and server name settings; ALPN offers HTTP/1.1
 * only) and hands over the byte stream. `head_lines` receives the request
 * header lines the caller must send ("Host", "User-Agent" and the
 * provider's "Authorization", each ending in CRLF; wipe it, it may hold a
 * secret) and `target` the request target (path and query; caller frees).
 */
typedef struct astra__http_raw astra__http_raw;

int astra__http_raw_open(astra__http *c, const char *url, unsigned timeout_ms,
        astra__op *op, astra__http_raw **out, astra_buf *head_lines,
        char **target);
/* Sends all n bytes. deadline_ns: astra__mono_ns() deadline, 0: none. */
int astra__http_raw_send(astra__http_raw *r, const void *data, size_t n,
        uint64_t deadline_ns, astra__op *op);
/* Receives up to n bytes: the count, 0 at the end of the stream, or a
 * negative code (ASTRA_ETIMEOUT at the deadline, ASTRA_ECANCELLED). */
long astra__http_raw_recv(astra__http_raw *r, void *data, size_t n,
        uint64_t deadline_ns, astra__op *op);
void astra__http_raw_close(astra__http_raw *r);

/* Copies url into out, replacing the values of query parameters that may
 * carry secrets (signature, token, credential, key, password...) with
 * "REDACTED". Always NUL-terminates; truncates. */
void astra__http_redact_url(const char *url, char *out, size_t n);

/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
int astra__http_escape(astra_buf *b, const char *s);

/* Parses a Retry-After value (seconds or an HTTP date) into milliseconds
 * from now; -1 when absent or malformed. */
long astra__http_parse_retry_after(const char *value);

#endif
