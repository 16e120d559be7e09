/*
 * WebSocket: handshake and framing as pure logic (RFC 6455 examples), and a
 * client connection against a small loopback WebSocket server started by
 * the test (no external processes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "core/clock.h"
#include "net/http.h"
#include "net/ws.h"

Test(ws, accept_rfc_example)
{
	char acc[ASTRA_WS_ACCEPT_LEN + 1];
	cr_assert_astra_ok(
	        astra__ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc));
	cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	char k1[ASTRA_WS_KEY_LEN + 1], k2[ASTRA_WS_KEY_LEN + 1];
	cr_assert_astra_ok(astra__ws_make_key(k1));
	cr_assert_astra_ok(astra__ws_make_key(k2));
	cr_assert_eq(strlen(k1), 24);
	cr_assert_str_neq(k1, k2);
}

Test(ws, request)
{
	astra_buf b = ASTRA_BUF_INIT;
	const char *protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io",
		NULL };
	cr_assert_astra_ok(astra__ws_build_request(&b, "/a?b=c",
	        "Host: h:1\r\n", "dGhlIHNhbXBsZSBub25jZQ==", protos));
	cr_assert(
	        strstr(b.ptr, "GET /a?b=c HTTP/1.1\r\nHost: h:1\r\n") == b.ptr);
	cr_assert(strstr(b.ptr, "\r\nUpgrade: websocket\r\n"));
	cr_assert(strstr(b.ptr, "\r\nSec-WebSocket-Version: 13\r\n"));
	cr_assert(strstr(b.ptr, "\r\nSec-WebSocket-Protocol: "
	                        "v5.channel.k8s.io, v4.channel.k8s.io\r\n"));
	cr_assert(b.size > 4 && !strcmp(b.ptr + b.size - 4, "\r\n\r\n"));
	b.size = 0;
	const char *bad[] = { "a b", NULL };
	cr_assert_astra_fail(
	        astra__ws_build_request(&b, "/", "", "k", bad), ASTRA_EINVALID);
	cr_assert_astra_fail(astra__ws_build_request(&b, "/x y", "", "k", NULL),
	        ASTRA_EINVALID);
	astra_buf_dispose(&b);
}

static const char *good_resp =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: WebSocket\r\n"
        "Connection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
        "\r\n"
        "\x81\x02hi";

Test(ws, response_parse_and_check)
{
	astra__ws_response r;
	size_t n = strlen(good_resp);
	/* incomplete heads need more bytes, at every cut */
	for (size_t cut = 0; cut < n - 4; cut++)
		cr_assert_eq(astra__ws_parse_response(good_resp, cut, &r), 0,
		        "cut %zu", cut);
	long hl = astra__ws_parse_response(good_resp, n, &r);
	cr_assert_eq(hl, (long)n - 4);
	cr_assert_eq(r.status, 101);
	cr_assert_str_eq(r.reason, "Switching Protocols");
	cr_assert_str_eq(r.protocol, "v4.channel.k8s.io");
	cr_assert(r.upgrade_websocket && r.connection_upgrade);
	const char *protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io",
		NULL };
	cr_assert_astra_ok(astra__ws_check_response(
	        &r, "dGhlIHNhbXBsZSBub25jZQ==", protos));
	/* wrong key */
	cr_assert_astra_fail(astra__ws_check_response(
	                             &r, "AAAAAAAAAAAAAAAAAAAAAA==", protos),
	        ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "Sec-WebSocket-Accept"));
	/* a protocol not offered */
	const char *other[] = { "x", NULL };
	cr_assert_astra_fail(
	        astra__ws_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", other),
	        ASTRA_EPARSE);
	cr_assert_astra_fail(
	        astra__ws_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", NULL),
	        ASTRA_EPARSE);

	const char *refused = "HTTP/1.1 403 Forbidden\r\n"
	                      "Content-Type: application/json\r\n"
	                      "Content-Length: 12\r\n\r\n{\"kind\":\"x\"}";
	hl = astra__ws_parse_response(refused, strlen(refused), &r);
	cr_assert_gt(hl, 0);
	cr_assert_eq(r.status, 403);
	cr_assert_eq(r.content_length, 12);
	cr_assert_astra_fail(
	        astra__ws_check_response(&r, "k", NULL), ASTRA_EPARSE);

	cr_assert_astra_fail(
	        (int)astra__ws_parse_response("SSH-2.0-x\r\n\r\n", 13, &r),
	        ASTRA_EPARSE);
	cr_assert_astra_fail((int)astra__ws_parse_response(
	                             "HTTP/1.1 1x1 no\r\n\r\n", 19, &r),
	        ASTRA_EPARSE);
	const char *nocolon = "HTTP/1.1 101 ok\r\nbogus\r\n\r\n";
	cr_assert_astra_fail(
	        (int)astra__ws_parse_response(nocolon, strlen(nocolon), &r),
	        ASTRA_EPARSE);
	const char *noupg = "HTTP/1.1 101 ok\r\nSec-WebSocket-Accept: "
	                    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	cr_assert_gt(astra__ws_parse_response(noupg, strlen(noupg), &r), 0);
	cr_assert_astra_fail(
	        astra__ws_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", NULL),
	        ASTRA_EPARSE);
}

/* RFC 6455 section 5.7 examples */
Test(ws, rfc_frames)
{
	astra__ws_frame f;
	const uint8_t hello[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	cr_assert_eq(astra__ws_frame_parse(hello, sizeof(hello), &f), 2);
	cr_assert(f.fin && f.opcode == ASTRA_WS_TEXT && !f.masked);
	cr_assert_eq(f.len, 5);
	cr_assert_eq(astra__ws_frame_parse(hello, 1, &f), 0);

	const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
		0x9f, 0x4d, 0x51, 0x58 };
	cr_assert_eq(astra__ws_frame_parse(masked, sizeof(masked), &f), 6);
	cr_assert(f.masked);
	uint8_t body[5];
	memcpy(body, masked + 6, 5);
	astra__ws_mask(body, 5, f.mask, 0);
	cr_assert_eq(memcmp(body, "Hello", 5), 0);
	/* the encoder produces the same bytes with the same mask */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__ws_frame_encode(
	        &b, 1, ASTRA_WS_TEXT, "Hello", 5, masked + 2));
	cr_assert_eq(b.size, sizeof(masked));
	cr_assert_eq(memcmp(b.ptr, masked, sizeof(masked)), 0);

	/* 256 bytes and 64 KiB: 16- and 64-bit lengths */
	static uint8_t big[65536];
	b.size = 0;
	cr_assert_astra_ok(
	        astra__ws_frame_encode(&b, 1, ASTRA_WS_BINARY, big, 256, NULL));
	const uint8_t h16[] = { 0x82, 0x7e, 0x01, 0x00 };
	cr_assert_eq(memcmp(b.ptr, h16, 4), 0);
	cr_assert_eq(b.size, 260);
	b.size = 0;
	cr_assert_astra_ok(astra__ws_frame_encode(
	        &b, 1, ASTRA_WS_BINARY, big, sizeof(big), NULL));
	const uint8_t h64[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	cr_assert_eq(memcmp(b.ptr, h64, 10), 0);
	cr_assert_eq(astra__ws_frame_parse((uint8_t *)b.ptr, b.size, &f), 10);
	cr_assert_eq(f.len, 65536);

	/* control frames: at most 125 bytes, never fragmented */
	cr_assert_astra_fail(
	        astra__ws_frame_encode(&b, 1, ASTRA_WS_PING, big, 126, NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__ws_frame_encode(&b, 0, ASTRA_WS_CLOSE, NULL, 0, NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(astra__ws_frame_encode(&b, 1, 3, NULL, 0, NULL),
	        ASTRA_EINVALID);
	astra_buf_dispose(&b);
}

Test(ws, frame_violations)
{
	astra__ws_frame f;
	const uint8_t rsv[] = { 0xc1, 0x00 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(rsv, 2, &f), ASTRA_EPARSE);
	const uint8_t op3[] = { 0x83, 0x00 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(op3, 2, &f), ASTRA_EPARSE);
	const uint8_t fragping[] = { 0x09, 0x00 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(fragping, 2, &f), ASTRA_EPARSE);
	const uint8_t longping[] = { 0x89, 0x7e, 0x00, 0x80 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(longping, 4, &f), ASTRA_EPARSE);
	const uint8_t nonmin[] = { 0x82, 0x7e, 0x00, 0x05 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(nonmin, 4, &f), ASTRA_EPARSE);
	const uint8_t top[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	cr_assert_astra_fail(
	        (int)astra__ws_frame_parse(top, 10, &f), ASTRA_EPARSE);
}

static int next(astra__ws_decoder *d, int *op, astra_buf *into)
{
	const uint8_t *p;
	size_t n;
	int rc = astra__ws_decoder_next(d, op, &p, &n);
	if (rc == 1) {
		into->size = 0;
		astra__buf_put(into, p, n);
	}
	return rc;
}

Test(ws, decoder_fragments_and_control)
{
	astra__ws_decoder d;
	astra__ws_decoder_init(&d, 0);
	/* "Hel" + ping inside the fragmented message + "lo", fed one byte
	 * at a time */
	const uint8_t stream[] = { 0x01, 0x03, 'H', 'e', 'l', 0x89, 0x01, 'p',
		0x80, 0x02, 'l', 'o', 0x88, 0x02, 0x03, 0xe8 };
	astra_buf m = ASTRA_BUF_INIT;
	int op, got = 0;
	const char *want[] = { "p", "Hello", "\x03\xe8" };
	int wantop[] = { ASTRA_WS_PING, ASTRA_WS_TEXT, ASTRA_WS_CLOSE };
	for (size_t i = 0; i < sizeof(stream); i++) {
		cr_assert_astra_ok(astra__ws_decoder_feed(&d, stream + i, 1));
		int rc;
		while ((rc = next(&d, &op, &m)) == 1) {
			cr_assert_lt(got, 3);
			cr_assert_eq(op, wantop[got]);
			cr_assert_eq(m.size, strlen(want[got]));
			cr_assert_eq(memcmp(m.ptr, want[got], m.size), 0);
			got++;
		}
		cr_assert_astra_ok(rc);
	}
	cr_assert_eq(got, 3);
	int code;
	const char *r;
	size_t rl;
	astra__ws_close_info((const uint8_t *)m.ptr, m.size, &code, &r, &rl);
	cr_assert_eq(code, 1000);
	/* nothing may follow a close */
	cr_assert_astra_ok(astra__ws_decoder_feed(&d, "\x81\x00", 2));
	cr_assert_astra_fail(next(&d, &op, &m), ASTRA_EPARSE);
	astra__ws_decoder_dispose(&d);
	astra_buf_dispose(&m);
}

static int decode_all(const void *data, size_t n, size_t max)
{
	astra__ws_decoder d;
	astra__ws_decoder_init(&d, max);
	astra_buf m = ASTRA_BUF_INIT;
	int op, rc = astra__ws_decoder_feed(&d, data, n);
	while (rc == 0 && (rc = next(&d, &op, &m)) == 1)
		rc = 0;
	astra__ws_decoder_dispose(&d);
	astra_buf_dispose(&m);
	return rc;
}

Test(ws, decoder_violations)
{
	/* continuation without a start */
	cr_assert_astra_fail(decode_all("\x80\x01x", 3, 0), ASTRA_EPARSE);
	/* a new message inside a fragmented one */
	cr_assert_astra_fail(
	        decode_all("\x01\x01x\x81\x01y", 6, 0), ASTRA_EPARSE);
	/* masked frames from a server */
	cr_assert_astra_fail(
	        decode_all("\x81\x81\x01\x02\x03\x04x", 7, 0), ASTRA_EPARSE);
	/* close with one byte, or a code that must not be sent */
	cr_assert_astra_fail(decode_all("\x88\x01x", 3, 0), ASTRA_EPARSE);
	cr_assert_astra_fail(
	        decode_all("\x88\x02\x03\xed", 4, 0), ASTRA_EPARSE); /* 1005 */
	/* over the message limit, also across fragments */
	cr_assert_astra_fail(decode_all("\x82\x05hello", 7, 4), ASTRA_EIO);
	cr_assert_astra_fail(
	        decode_all("\x02\x03hel\x80\x02lo", 9, 4), ASTRA_EIO);
	cr_assert_eq(decode_all("\x82\x05hello", 7, 5), 0);
}

/* ---- a loopback WebSocket server ---- */

static int srv_fd = -1, srv_port;
static volatile int srv_mode; /* 0 echo, 1 refuse 403, 2 bad accept */

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void *serve(void *arg)
{
	(void)arg;
	int fd = accept(srv_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	char head[8192];
	size_t n = 0;
	while (n < sizeof(head) - 1) {
		ssize_t r = read(fd, head + n, sizeof(head) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		head[n] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	head[n] = '\0';
	if (srv_mode == 1) {
		const char *body = "{\"kind\":\"Status\",\"message\":\"nope\"}";
		char r[512];
		snprintf(r, sizeof(r),
		        "HTTP/1.1 403 Forbidden\r\nContent-Length: %zu\r\n\r\n%s",
		        strlen(body), body);
		send_all(fd, r, strlen(r));
		close(fd);
		return NULL;
	}
	const char *k = strstr(head, "Sec-WebSocket-Key: ");
	char key[64] = "", acc[ASTRA_WS_ACCEPT_LEN + 1] = "";
	if (k)
		sscanf(k + 19, "%63[^\r]", key);
	astra__ws_accept_for(key, acc);
	if (srv_mode == 2)
		acc[0] = acc[0] == 'A' ? 'B' : 'A';
	char r[512];
	/* a ping rides along with the head */
	snprintf(r, sizeof(r),
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
	        "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
	        "\x89\x02hi",
	        acc);
	send_all(fd, r, strlen(r));
	/* echo data messages back unmasked until a close */
	astra__ws_decoder d;
	astra__ws_decoder_init(&d, 0);
	d.accept_masked = 1;
	char buf[65536];
	int done = 0, saw_pong = 0;
	while (!done) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got <= 0)
			break;
		astra__ws_decoder_feed(&d, buf, (size_t)got);
		int op;
		const uint8_t *p;
		size_t len;
		while (!done &&
		        astra__ws_decoder_next(&d, &op, &p, &len) == 1) {
			astra_buf f = ASTRA_BUF_INIT;
			if (op == ASTRA_WS_PONG) {
				saw_pong = len == 2 && !memcmp(p, "hi", 2);
				continue;
			}
			if (op == ASTRA_WS_CLOSE) {
				astra__ws_frame_encode(
				        &f, 1, ASTRA_WS_CLOSE, p, len, NULL);
				done = 1;
			} else {
				/* echo, prefixed with the pong flag */
				astra_buf e = ASTRA_BUF_INIT;
				astra__buf_putc(&e, saw_pong ? 'P' : '-');
				astra__buf_put(&e, p, len);
				/* fragmented in two */
				size_t h = e.size / 2;
				astra__ws_frame_encode(
				        &f, 0, op, e.ptr, h, NULL);
				astra__ws_frame_encode(&f, 1, ASTRA_WS_CONT,
				        e.ptr + h, e.size - h, NULL);
				astra_buf_dispose(&e);
			}
			send_all(fd, f.ptr, f.size);
			astra_buf_dispose(&f);
		}
	}
	astra__ws_decoder_dispose(&d);
	close(fd);
	return NULL;
}

static pthread_t srv_start(int mode)
{
	srv_mode = mode;
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(srv_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(srv_fd, (struct sockaddr *)&a, &l);
	srv_port = ntohs(a.sin_port);
	listen(srv_fd, 4);
	pthread_t t;
	pthread_create(&t, NULL, serve, NULL);
	return t;
}

static astra__http *client(void)
{
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	astra__http *h = NULL;
	cr_assert_astra_ok(astra__http_new(&h, &cfg));
	return h;
}

Test(ws, loopback_echo)
{
	pthread_t t = srv_start(0);
	astra__http *h = client();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?x=1", srv_port);
	const char *protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io",
		NULL };
	astra__ws_options o = { 0 };
	o.url = url;
	o.protocols = protos;
	o.timeout_ms = 5000;
	astra__ws *ws = NULL;
	cr_assert_astra_ok(astra__ws_connect(h, &o, &ws, NULL));
	cr_assert_str_eq(astra__ws_protocol(ws), "v4.channel.k8s.io");
	uint64_t dl = astra__mono_ns() + 5000000000ULL;
	astra_buf m = ASTRA_BUF_INIT;
	int op = 0;
	/* the first exchange answers the server's ping */
	cr_assert_astra_ok(astra__ws_send(ws, ASTRA_WS_TEXT, "one", 3, dl));
	cr_assert_eq(astra__ws_recv(ws, &op, &m, dl, NULL), 1);
	cr_assert_eq(op, ASTRA_WS_TEXT);
	cr_assert_eq(m.size, 4);
	cr_assert_eq(memcmp(m.ptr + 1, "one", 3), 0);
	/* a message big enough for a 64-bit length */
	size_t big = 70000;
	char *payload = malloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (char)('a' + i % 26);
	cr_assert_astra_ok(
	        astra__ws_send(ws, ASTRA_WS_BINARY, payload, big, dl));
	cr_assert_eq(astra__ws_recv(ws, &op, &m, dl, NULL), 1);
	cr_assert_eq(op, ASTRA_WS_BINARY);
	cr_assert_eq(m.size, big + 1);
	/* the server saw our pong before the second message */
	cr_assert_eq(m.ptr[0], 'P');
	cr_assert_eq(memcmp(m.ptr + 1, payload, big), 0);
	free(payload);
	astra_buf_dispose(&m);
	astra__ws_close(ws, 0);
	pthread_join(t, NULL);
	close(srv_fd);
	astra__http_free(h);
}

Test(ws, loopback_refused_and_bad_accept)
{
	pthread_t t = srv_start(1);
	astra__http *h = client();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv_port);
	astra__ws_options o = { 0 };
	o.url = url;
	o.timeout_ms = 5000;
	astra__ws *ws = NULL;
	astra__ws_refusal ref;
	cr_assert_astra_fail(
	        astra__ws_connect(h, &o, &ws, &ref), ASTRA_ENOTSUPPORTED);
	cr_assert_eq(ref.status, 403);
	cr_assert(strstr(ref.body.ptr, "\"nope\""));
	astra__ws_refusal_dispose(&ref);
	pthread_join(t, NULL);
	close(srv_fd);

	t = srv_start(2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv_port);
	cr_assert_astra_fail(astra__ws_connect(h, &o, &ws, NULL), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "Sec-WebSocket-Accept"));
	pthread_join(t, NULL);
	close(srv_fd);

	/* nobody listening */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv_port);
	cr_assert_astra_fail(astra__ws_connect(h, &o, &ws, NULL), ASTRA_ENET);
	astra__http_free(h);
}
