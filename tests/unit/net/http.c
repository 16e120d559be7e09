/*
 * The HTTP client against a small loopback HTTP/1.1 server started by each
 * test (no external processes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/op.h"
#include "net/http.h"

static int srv_fd = -1;
static int srv_port;
static atomic_int n_conns;
static atomic_int n_requests;
static atomic_int n_flaky;
static char last_auth[256];
static char last_method[16];
static char last_host[256];

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(
        int fd, int status, const char *extra, const char *body, size_t blen)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	        "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, blen,
	        extra ? extra : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, blen);
}

static const char *hdr(const char *head, const char *name, char *out, size_t n)
{
	size_t l = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p;
	        p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, l) == 0 && p[2 + l] == ':') {
			const char *v = p + 3 + l;
			while (*v == ' ')
				v++;
			size_t k = strcspn(v, "\r\n");
			if (k >= n)
				k = n - 1;
			memcpy(out, v, k);
			out[k] = 0;
			return out;
		}
	}
	return NULL;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[1 << 16];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf))
				goto out;
			ssize_t r = read(fd, buf + have, sizeof(buf) - have);
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		*end = 0;
		char head[8192];
		snprintf(head, sizeof(head), "%s", buf);
		size_t hlen = (size_t)(end - buf) + 4;
		char v[256];
		size_t clen = hdr(head, "Content-Length", v, sizeof(v))
		                      ? (size_t)atol(v)
		                      : 0;
		astra_buf body = ASTRA_BUF_INIT;
		astra__buf_put(&body, buf + hlen,
		        have - hlen < clen ? have - hlen : clen);
		size_t used = hlen + body.size;
		while (body.size < clen) {
			char tmp[4096];
			ssize_t r = read(fd, tmp, sizeof(tmp));
			if (r <= 0)
				goto out;
			size_t take = (size_t)r;
			if (body.size + take > clen)
				take = clen - body.size;
			astra__buf_put(&body, tmp, take);
		}
		memmove(buf, buf + used, have > used ? have - used : 0);
		have = have > used ? have - used : 0;

		atomic_fetch_add(&n_requests, 1);
		char method[16] = "", path[256] = "";
		sscanf(head, "%15s %255s", method, path);
		path[strcspn(path, "?")] = 0;
		snprintf(last_method, sizeof(last_method), "%s", method);
		if (!hdr(head, "Authorization", last_auth, sizeof(last_auth)))
			last_auth[0] = 0;
		if (!hdr(head, "Host", last_host, sizeof(last_host)))
			last_host[0] = 0;

		if (!strcmp(path, "/ok")) {
			respond(fd, 200, "X-Test: yes\r\n", "hello", 5);
		} else if (!strcmp(path, "/flaky")) {
			if (atomic_fetch_add(&n_flaky, 1) < 2)
				respond(fd, 503, "Retry-After: 0\r\n", "busy",
				        4);
			else
				respond(fd, 200, NULL, "done", 4);
		} else if (!strcmp(path, "/429")) {
			if (atomic_fetch_add(&n_flaky, 1) < 1)
				respond(fd, 429, "Retry-After: 1\r\n", "", 0);
			else
				respond(fd, 200, NULL, "ok", 2);
		} else if (!strcmp(path, "/fail500")) {
			respond(fd, 500, NULL, "broken", 6);
		} else if (!strcmp(path, "/echo")) {
			respond(fd, 200, NULL, body.ptr ? body.ptr : "",
			        body.size);
		} else if (!strcmp(path, "/big")) {
			size_t n = 1 << 20;
			char *b = malloc(n);
			memset(b, 'b', n);
			respond(fd, 200, NULL, b, n);
			free(b);
		} else if (!strcmp(path, "/slow")) {
			sleep(3);
			respond(fd, 200, NULL, "late", 4);
		} else if (!strcmp(path, "/auth")) {
			if (strcmp(last_auth, "Bearer fresh"))
				respond(fd, 401, NULL, "no", 2);
			else
				respond(fd, 200, NULL, "in", 2);
		} else if (!strcmp(path, "/close")) {
			/* closes without answering */
			astra_buf_dispose(&body);
			goto out;
		} else {
			respond(fd, 404, NULL, "nope", 4);
		}
		astra_buf_dispose(&body);
	}
out:
	close(fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(srv_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		atomic_fetch_add(&n_conns, 1);
		pthread_t t;
		pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static void server_start(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(srv_fd >= 0);
	cr_assert(bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(listen(srv_fd, 16) == 0);
	getsockname(srv_fd, (struct sockaddr *)&a, &l);
	srv_port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, accept_main, NULL);
	pthread_detach(t);
	cr_assert(astra_init() > 0);
}

static void server_stop(void)
{
	astra_shutdown();
}

TestSuite(net_http, .init = server_start, .fini = server_stop);

static char *url(const char *path)
{
	static char u[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", srv_port, path);
	return u;
}

static astra__http *client(void)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.backoff_base_ms = 10;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	return c;
}

Test(net_http, get_returns_status_headers_and_body)
{
	astra__http *c = client();
	astra__http_request req = { .url = url("/ok") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body.ptr, "hello");
	cr_assert_str_eq(astra__http_header(&r, "x-test"), "yes");
	cr_assert_null(astra__http_header(&r, "x-missing"));
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, reuses_one_connection_for_sequential_requests)
{
	astra__http *c = client();
	for (int i = 0; i < 5; i++) {
		astra__http_request req = { .url = url("/ok") };
		astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
		cr_assert_astra_ok(astra__http_do(c, &req, &r));
		astra__http_response_dispose(&r);
	}
	cr_assert_eq(atomic_load(&n_conns), 1);
	astra__http_free(c);
}

Test(net_http, retries_503_with_retry_after)
{
	astra__http *c = client();
	astra__http_request req = { .url = url("/flaky") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.attempts, 3);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, honours_retry_after_on_429)
{
	astra__http *c = client();
	astra__http_request req = {
		.url = url("/429"), .method = "POST", .body = "x", .body_len = 1
	};
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	uint64_t t0 = astra__mono_ns();
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	uint64_t ms = (astra__mono_ns() - t0) / 1000000;
	cr_assert_eq(r.status, 200);
	cr_assert_geq(ms, 900, "waited only %llu ms", (unsigned long long)ms);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, does_not_retry_post_on_500_but_retries_get)
{
	astra__http *c = client();
	astra__http_request req = { .url = url("/fail500"),
		.method = "POST",
		.body = "{}",
		.body_len = 2 };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 500);
	cr_assert_eq(r.attempts, 1);
	cr_assert_str_eq(r.body.ptr, "broken");
	req.method = "GET";
	req.body = NULL;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 500);
	cr_assert_eq(r.attempts, 6);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

static long read_str(void *p, char *buf, size_t n)
{
	const char **s = p;
	size_t l = strlen(*s);
	if (l > n)
		l = n;
	memcpy(buf, *s, l);
	*s += l;
	return (long)l;
}

Test(net_http, sends_bodies_from_memory_and_from_a_reader)
{
	astra__http *c = client();
	const char *hdrs[] = { "Content-Type: text/plain", NULL };
	astra__http_request req = { .url = url("/echo"),
		.method = "PATCH",
		.headers = hdrs,
		.body = "patched",
		.body_len = 7 };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_str_eq(r.body.ptr, "patched");
	cr_assert_str_eq(last_method, "PATCH");

	const char *src = "streamed body";
	astra__http_reader rd = {
		.read = read_str, .payload = &src, .size = 13
	};
	astra__http_request req2 = {
		.url = url("/echo"), .method = "POST", .reader = &rd
	};
	cr_assert_astra_ok(astra__http_do(c, &req2, &r));
	cr_assert_str_eq(r.body.ptr, "streamed body");
	cr_assert_str_eq(last_method, "POST");
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

static int count_write(void *p, const char *data, size_t n)
{
	(void)data;
	*(size_t *)p += n;
	return 0;
}

Test(net_http, streams_a_large_body_to_a_callback)
{
	astra__http *c = client();
	size_t got = 0;
	astra__http_request req = {
		.url = url("/big"), .write = count_write, .write_payload = &got
	};
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(got, (size_t)1 << 20);
	cr_assert_eq(r.body.size, 0);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, refuses_a_body_over_the_limit)
{
	astra__http *c = client();
	astra__http_request req = { .url = url("/big"), .max_body = 1000 };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_fail(astra__http_do(c, &req, &r), ASTRA_EIO);
	cr_assert(strstr(astra_error_last()->message, "/big"));
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, times_out_with_etimeout_naming_the_url)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.timeout_ms = 300;
	cfg.max_retries = 0;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	astra__http_request req = { .url = url("/slow?token=s3cret") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_fail(astra__http_do(c, &req, &r), ASTRA_ETIMEOUT);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "/slow?token=REDACTED"), "%s", m);
	cr_assert_null(strstr(m, "s3cret"));
	astra__http_free(c);
}

static void *cancel_later(void *p)
{
	astra__sleep_ms(200);
	astra_cancel_request(p);
	return NULL;
}

Test(net_http, cancels_a_transfer_in_flight)
{
	astra__http *c = client();
	astra_cancel *tok;
	cr_assert_astra_ok(astra_cancel_new(&tok));
	astra__op op;
	astra__op_init(&op, NULL, NULL, tok);
	astra__http_request req = { .url = url("/slow"), .op = &op };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	pthread_t t;
	pthread_create(&t, NULL, cancel_later, tok);
	uint64_t t0 = astra__mono_ns();
	cr_assert_astra_fail(astra__http_do(c, &req, &r), ASTRA_ECANCELLED);
	cr_assert_lt((astra__mono_ns() - t0) / 1000000, 2500);
	pthread_join(t, NULL);
	astra_cancel_free(tok);
	astra__http_free(c);
}

Test(net_http, connection_refused_is_enet_after_bounded_retries)
{
	/* a port nobody listens on: bind, then close */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(a.sin_port));

	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.backoff_base_ms = 20;
	cfg.max_retries = 3;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	astra__http_request req = { .url = u, .method = "POST" };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_fail(astra__http_do(c, &req, &r), ASTRA_ENET);
	cr_assert_eq(r.attempts, 4); /* nothing was sent: POST retried */
	cr_assert(strstr(astra_error_last()->message, u));
	astra__http_free(c);
}

static int auth_calls;
static int auth_fresh(void *p, int refresh, char **line)
{
	(void)p;
	auth_calls++;
	if (refresh) {
		*(int *)p = 1;
		return 1;
	}
	*line = strdup(*(int *)p ? "Authorization: Bearer fresh"
	                         : "Authorization: Bearer stale");
	return 0;
}

Test(net_http, refreshes_credentials_once_after_401)
{
	int fresh = 0;
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.auth = auth_fresh;
	cfg.auth_payload = &fresh;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	astra__http_request req = { .url = url("/auth") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(last_auth, "Bearer fresh");
	cr_assert_eq(auth_calls, 3);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, rate_limit_spaces_requests)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.qps = 20;
	cfg.burst = 1;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	uint64_t t0 = astra__mono_ns();
	for (int i = 0; i < 6; i++) {
		astra__http_request req = { .url = url("/ok") };
		astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
		cr_assert_astra_ok(astra__http_do(c, &req, &r));
		astra__http_response_dispose(&r);
	}
	uint64_t ms = (astra__mono_ns() - t0) / 1000000;
	cr_assert_geq(ms, 240, "6 requests at 20 qps took %llu ms",
	        (unsigned long long)ms);
	astra__http_free(c);
}

Test(net_http, tls_server_name_keeps_the_host_header)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.tls_server_name = "api.example.test";
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	astra__http_request req = { .url = url("/ok") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_ok(astra__http_do(c, &req, &r));
	cr_assert_eq(r.status, 200);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", srv_port);
	cr_assert_str_eq(last_host, want);
	astra__http_response_dispose(&r);
	astra__http_free(c);
}

Test(net_http, server_closing_without_answer_is_enet)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.max_retries = 1;
	cfg.backoff_base_ms = 5;
	astra__http *c;
	cr_assert_astra_ok(astra__http_new(&c, &cfg));
	astra__http_request req = { .url = url("/close") };
	astra__http_response r = ASTRA_HTTP_RESPONSE_INIT;
	cr_assert_astra_fail(astra__http_do(c, &req, &r), ASTRA_ENET);
	cr_assert_eq(r.attempts, 2);
	astra__http_free(c);
}

Test(net_http_url, redacts_secret_query_values_and_userinfo)
{
	char out[256];
	astra__http_redact_url("https://u:p@h/x?a=1&X-Amz-Signature=abc&"
	                       "labelSelector=app%3Dx&token=t#frag",
	        out, sizeof(out));
	cr_assert_str_eq(out, "https://REDACTED@h/x?a=1&X-Amz-Signature="
	                      "REDACTED&labelSelector=app%3Dx&token=REDACTED"
	                      "#frag");
	astra__http_redact_url("http://h/p", out, sizeof(out));
	cr_assert_str_eq(out, "http://h/p");
	astra__http_redact_url("https://h/upload/storage/v1/b/b/o?uploadType="
	                       "resumable&name=x&upload_id=ADPycdu",
	        out, sizeof(out));
	cr_assert_str_eq(out, "https://h/upload/storage/v1/b/b/o?uploadType="
	                      "resumable&name=x&upload_id=REDACTED");
}

Test(net_http_url, escapes_and_parses_retry_after)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__http_escape(&b, "a b/c=d~"));
	cr_assert_str_eq(b.ptr, "a%20b%2Fc%3Dd~");
	astra_buf_dispose(&b);
	cr_assert_eq(astra__http_parse_retry_after("3"), 3000);
	cr_assert_eq(astra__http_parse_retry_after("x"), -1);
	cr_assert_eq(astra__http_parse_retry_after(NULL), -1);
	cr_assert_eq(
	        astra__http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
	        0);
}
