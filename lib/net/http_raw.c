/*
 * Raw connections of the HTTP client: a connect-only libcurl handle (TLS
 * and proxy as for requests) whose socket the caller drives itself, e.g.
 * for a WebSocket upgrade (net/ws.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "net/http_internal.h"

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
	        (rc = astra__http_tls_name_setup(
	                 c, url, &new_url, &connect_to, &host_header)) ||
	        (rc = astra__http_rate_wait(c, op)))
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
	astra__http_configure_tls(c, h);
	if (c->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	if (connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
	if (cc != CURLE_OK) {
		rc = astra__http_map_curl_error(cc, "CONNECT", url, errbuf, ct);
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
