/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/ws.h"

#include <ctype.h>
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

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX ((size_t)16 << 10)
#define REFUSAL_BODY_MAX ((size_t)64 << 10)
#define DEFAULT_MAX_MESSAGE ((size_t)16 << 20)

/* ------------------------------------------------------------------ */
/* Handshake                                                           */
/* ------------------------------------------------------------------ */

int astra__ws_make_key(char key[ASTRA_WS_KEY_LEN + 1])
{
	uint8_t raw[16];
	int rc = astra__random(raw, sizeof(raw));
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra__base64_encode(&b, raw, sizeof(raw));
	if (!rc) {
		if (b.size != ASTRA_WS_KEY_LEN)
			rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_INVALID,
			        "WebSocket key of %zu characters", b.size);
		else
			memcpy(key, b.ptr, ASTRA_WS_KEY_LEN + 1);
	}
	astra_buf_dispose(&b);
	return rc;
}

int astra__ws_accept_for(const char *key, char out[ASTRA_WS_ACCEPT_LEN + 1])
{
	char in[128];
	int n = snprintf(in, sizeof(in), "%s" WS_GUID, key);
	if (n < 0 || (size_t)n >= sizeof(in))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "WebSocket key too long");
	uint8_t d[ASTRA_SHA1_LEN];
	int rc = astra__sha1(in, (size_t)n, d);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra__base64_encode(&b, d, sizeof(d));
	if (!rc)
		snprintf(out, ASTRA_WS_ACCEPT_LEN + 1, "%s", b.ptr);
	astra_buf_dispose(&b);
	return rc;
}

static int token_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
			return 0;
	return 1;
}

int astra__ws_build_request(astra_buf *out, const char *target,
        const char *head_lines, const char *key, const char *const *protocols)
{
	ASTRA_ASSERT_ARG(out && target && key);
	if (!*target || strpbrk(target, " \r\n"))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "invalid request target for a WebSocket upgrade");
	int rc = astra__buf_printf(out,
	        "GET %s HTTP/1.1\r\n%s"
	        "Upgrade: websocket\r\n"
	        "Connection: Upgrade\r\n"
	        "Sec-WebSocket-Key: %s\r\n"
	        "Sec-WebSocket-Version: 13\r\n",
	        target, head_lines ? head_lines : "", key);
	if (!rc && protocols && protocols[0]) {
		rc = astra__buf_puts(out, "Sec-WebSocket-Protocol: ");
		for (size_t i = 0; !rc && protocols[i]; i++) {
			if (!token_ok(protocols[i]))
				return astra__err(ASTRA_EINVALID,
				        ASTRA_ERROR_HTTP,
				        "invalid WebSocket subprotocol \"%.60s\"",
				        protocols[i]);
			rc = astra__buf_printf(
			        out, "%s%s", i ? ", " : "", protocols[i]);
		}
		if (!rc)
			rc = astra__buf_puts(out, "\r\n");
	}
	if (!rc)
		rc = astra__buf_puts(out, "\r\n");
	return rc;
}

/* Case-insensitive search for a comma-separated token in a header value. */
static int has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

long astra__ws_parse_response(
        const char *data, size_t n, astra__ws_response *out)
{
	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	/* find the end of the head */
	size_t end = 0;
	for (size_t i = 0; i + 3 < n && i < HEAD_MAX; i++)
		if (data[i] == '\r' && data[i + 1] == '\n' &&
		        data[i + 2] == '\r' && data[i + 3] == '\n') {
			end = i + 4;
			break;
		}
	if (!end) {
		if (n >= HEAD_MAX)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket upgrade: response head longer "
			        "than %zu bytes",
			        HEAD_MAX);
		if (n >= 5 && memcmp(data, "HTTP/", 5) != 0)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket upgrade: the server did not answer "
			        "with HTTP");
		return 0;
	}
	/* status line */
	const char *p = data, *le = memchr(p, '\r', end);
	if (!le || le - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	        !isdigit((unsigned char)p[9]) ||
	        !isdigit((unsigned char)p[10]) ||
	        !isdigit((unsigned char)p[11]) || (le - p > 12 && p[12] != ' '))
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: malformed status line");
	out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (le - p > 13)
		copy_value(out->reason, sizeof(out->reason), p + 13,
		        (size_t)(le - p - 13));
	p = le + 2;
	while (p < data + end - 2) {
		le = memchr(p, '\r', (size_t)(data + end - p));
		if (!le || le[1] != '\n')
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket upgrade: malformed header line");
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (!colon || colon == p)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket upgrade: header line without a name");
		size_t nl = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		size_t vl = (size_t)(le - v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
#define IS(name) (nl == sizeof(name) - 1 && !strncasecmp(p, name, nl))
		if (IS("Upgrade"))
			out->upgrade_websocket |= has_token(v, vl, "websocket");
		else if (IS("Connection"))
			out->connection_upgrade |= has_token(v, vl, "upgrade");
		else if (IS("Sec-WebSocket-Protocol"))
			copy_value(out->protocol, sizeof(out->protocol), v, vl);
		else if (IS("Sec-WebSocket-Accept"))
			copy_value(out->accept, sizeof(out->accept), v, vl);
		else if (IS("Sec-WebSocket-Extensions"))
			out->has_extensions = 1;
		else if (IS("Transfer-Encoding"))
			out->chunked |= has_token(v, vl, "chunked");
		else if (IS("Content-Length")) {
			int64_t cl = 0;
			size_t i = 0;
			for (; i < vl && isdigit((unsigned char)v[i]) &&
			        cl < (INT64_C(1) << 40);
			        i++)
				cl = cl * 10 + (v[i] - '0');
			if (i == 0 || i != vl)
				return astra__err(ASTRA_EPARSE,
				        ASTRA_ERROR_HTTP,
				        "WebSocket upgrade: bad "
				        "Content-Length");
			out->content_length = cl;
		}
#undef IS
		p = le + 2;
	}
	return (long)end;
}

int astra__ws_check_response(const astra__ws_response *r, const char *key,
        const char *const *protocols)
{
	if (r->status != 101)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: status %d, expected 101",
		        r->status);
	if (!r->upgrade_websocket || !r->connection_upgrade)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: 101 without \"Upgrade: websocket\" "
		        "and \"Connection: Upgrade\"");
	char want[ASTRA_WS_ACCEPT_LEN + 1];
	int rc = astra__ws_accept_for(key, want);
	if (rc)
		return rc;
	if (strcmp(r->accept, want) != 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: Sec-WebSocket-Accept \"%.40s\" "
		        "does not match the key",
		        r->accept);
	if (r->has_extensions)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: the server chose extensions none "
		        "were offered");
	if (protocols && protocols[0]) {
		if (!r->protocol[0])
			return 0; /* the caller decides what none means */
		for (size_t i = 0; protocols[i]; i++)
			if (!strcmp(protocols[i], r->protocol))
				return 0;
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: the server chose subprotocol "
		        "\"%.60s\", which was not offered",
		        r->protocol);
	} else if (r->protocol[0]) {
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket upgrade: the server chose subprotocol "
		        "\"%.60s\", none was offered",
		        r->protocol);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Framing                                                             */
/* ------------------------------------------------------------------ */

void astra__ws_mask(
        uint8_t *data, size_t n, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		data[i] ^= mask[(off + i) & 3];
}

static int is_control(int op)
{
	return op >= 0x8;
}

static int known_opcode(int op)
{
	return op == ASTRA_WS_CONT || op == ASTRA_WS_TEXT ||
	       op == ASTRA_WS_BINARY || op == ASTRA_WS_CLOSE ||
	       op == ASTRA_WS_PING || op == ASTRA_WS_PONG;
}

int astra__ws_frame_encode(astra_buf *out, int fin, int opcode,
        const void *payload, size_t n, const uint8_t *mask)
{
	ASTRA_ASSERT_ARG(out && (payload || !n));
	if (!known_opcode(opcode))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "WebSocket opcode 0x%x is not defined", opcode);
	if (is_control(opcode) && (!fin || n > 125))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "WebSocket control frames are unfragmented and carry "
		        "at most 125 bytes (got %zu)",
		        n);
	uint8_t h[14];
	size_t hl = 0;
	h[hl++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	uint8_t m = mask ? 0x80 : 0;
	if (n < 126) {
		h[hl++] = (uint8_t)(m | n);
	} else if (n <= 0xffff) {
		h[hl++] = (uint8_t)(m | 126);
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	} else {
		h[hl++] = (uint8_t)(m | 127);
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
	}
	if (mask) {
		memcpy(h + hl, mask, 4);
		hl += 4;
	}
	int rc = astra__buf_grow(out, hl + n);
	if (rc)
		return rc;
	memcpy(out->ptr + out->size, h, hl);
	out->size += hl;
	if (n) {
		memcpy(out->ptr + out->size, payload, n);
		if (mask)
			astra__ws_mask(
			        (uint8_t *)out->ptr + out->size, n, mask, 0);
		out->size += n;
	}
	out->ptr[out->size] = '\0';
	return 0;
}

long astra__ws_frame_parse(const uint8_t *p, size_t n, astra__ws_frame *f)
{
	memset(f, 0, sizeof(*f));
	if (n < 2)
		return 0;
	if (p[0] & 0x70)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket frame with reserved bits set (no extension "
		        "was negotiated)");
	f->fin = (p[0] & 0x80) != 0;
	f->opcode = p[0] & 0x0f;
	f->masked = (p[1] & 0x80) != 0;
	if (!known_opcode(f->opcode))
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket frame with unknown opcode 0x%x", f->opcode);
	uint64_t len = p[1] & 0x7f;
	size_t hl = 2;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = ((uint64_t)p[2] << 8) | p[3];
		hl = 4;
		if (len < 126)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket frame length not minimally encoded");
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | p[2 + i];
		hl = 10;
		if (len >> 63)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket frame length with the top bit set");
		if (len <= 0xffff)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket frame length not minimally encoded");
	}
	if (is_control(f->opcode) && (!f->fin || len > 125))
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "WebSocket control frame fragmented or longer than "
		        "125 bytes");
	if (f->masked) {
		if (n < hl + 4)
			return 0;
		memcpy(f->mask, p + hl, 4);
		hl += 4;
	}
	f->len = len;
	f->header_len = hl;
	return (long)hl;
}

void astra__ws_close_info(const uint8_t *payload, size_t len, int *code,
        const char **reason, size_t *reason_len)
{
	*code = 1005;
	*reason = "";
	*reason_len = 0;
	if (len >= 2) {
		*code = (payload[0] << 8) | payload[1];
		*reason = (const char *)payload + 2;
		*reason_len = len - 2;
	}
}

void astra__ws_decoder_init(astra__ws_decoder *d, size_t max_message)
{
	memset(d, 0, sizeof(*d));
	d->max_message = max_message ? max_message : DEFAULT_MAX_MESSAGE;
}

void astra__ws_decoder_dispose(astra__ws_decoder *d)
{
	astra_buf_dispose(&d->in);
	astra_buf_dispose(&d->msg);
	astra_buf_dispose(&d->out);
	memset(d, 0, sizeof(*d));
}

int astra__ws_decoder_feed(astra__ws_decoder *d, const void *data, size_t n)
{
	if (d->in_off && d->in_off == d->in.size) {
		d->in.size = 0;
		d->in_off = 0;
	} else if (d->in_off > (size_t)64 << 10) {
		memmove(d->in.ptr, d->in.ptr + d->in_off,
		        d->in.size - d->in_off);
		d->in.size -= d->in_off;
		d->in_off = 0;
	}
	return astra__buf_put(&d->in, data, n);
}

static int valid_close_code(int c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) ||
	       (c >= 3000 && c <= 4999);
}

int astra__ws_decoder_next(
        astra__ws_decoder *d, int *opcode, const uint8_t **payload, size_t *len)
{
	for (;;) {
		if (d->closed && d->in.size == d->in_off)
			return 0;
		if (d->closed)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket data after the close frame");
		const uint8_t *p = (const uint8_t *)d->in.ptr + d->in_off;
		size_t avail = d->in.size - d->in_off;
		astra__ws_frame f;
		long hl = astra__ws_frame_parse(p, avail, &f);
		if (hl <= 0)
			return (int)hl;
		if (f.masked && !d->accept_masked)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
			        "WebSocket frame from the server is masked");
		if (f.len > d->max_message ||
		        (!is_control(f.opcode) &&
		                d->msg.size + f.len > d->max_message))
			return astra__err(ASTRA_EIO, ASTRA_ERROR_HTTP,
			        "WebSocket message larger than %zu bytes",
			        d->max_message);
		if ((uint64_t)(avail - (size_t)hl) < f.len)
			return 0; /* wait for the whole frame */
		uint8_t *body = (uint8_t *)d->in.ptr + d->in_off + hl;
		size_t blen = (size_t)f.len;
		if (f.masked)
			astra__ws_mask(body, blen, f.mask, 0);
		d->in_off += (size_t)hl + blen;

		if (is_control(f.opcode)) {
			if (f.opcode == ASTRA_WS_CLOSE) {
				int code;
				const char *r;
				size_t rl;
				if (blen == 1)
					return astra__err(ASTRA_EPARSE,
					        ASTRA_ERROR_HTTP,
					        "WebSocket close frame with a "
					        "1-byte payload");
				astra__ws_close_info(
				        body, blen, &code, &r, &rl);
				if (blen >= 2 && !valid_close_code(code))
					return astra__err(ASTRA_EPARSE,
					        ASTRA_ERROR_HTTP,
					        "WebSocket close code %d is not "
					        "allowed on the wire",
					        code);
				d->closed = 1;
			}
			d->out.size = 0;
			int rc = astra__buf_put(&d->out, body, blen);
			if (rc)
				return rc;
			*opcode = f.opcode;
			*payload = (const uint8_t *)d->out.ptr;
			*len = d->out.size;
			return 1;
		}
		if (f.opcode == ASTRA_WS_CONT) {
			if (!d->msg_opcode)
				return astra__err(ASTRA_EPARSE,
				        ASTRA_ERROR_HTTP,
				        "WebSocket continuation frame without "
				        "a message");
		} else {
			if (d->msg_opcode)
				return astra__err(ASTRA_EPARSE,
				        ASTRA_ERROR_HTTP,
				        "WebSocket message started inside a "
				        "fragmented one");
			d->msg_opcode = f.opcode;
			d->msg.size = 0;
		}
		int rc = astra__buf_put(&d->msg, body, blen);
		if (rc)
			return rc;
		if (!f.fin)
			continue;
		/* a complete message: hand it over */
		astra_buf t = d->out;
		d->out = d->msg;
		d->msg = t;
		d->msg.size = 0;
		*opcode = d->msg_opcode;
		d->msg_opcode = 0;
		if (!d->out.ptr && (rc = astra__buf_grow(&d->out, 0)))
			return rc;
		*payload = (const uint8_t *)d->out.ptr;
		*len = d->out.size;
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

struct astra__ws {
	astra__http_raw *raw;
	astra__op *op;
	astra__ws_decoder dec;
	char protocol[64];
	int close_sent, close_received, broken;
	char url[256];
};

const char *astra__ws_protocol(const astra__ws *ws)
{
	return ws->protocol;
}

void astra__ws_refusal_dispose(astra__ws_refusal *r)
{
	if (!r)
		return;
	astra_buf_dispose(&r->body);
	r->status = 0;
}

/* Reads the rest of a refusal's body (Content-Length or until close,
 * bounded; chunked bodies are kept raw up to the bound). */
static void read_refusal_body(astra__ws *ws, const astra__ws_response *resp,
        const char *have, size_t nhave, uint64_t deadline,
        astra__ws_refusal *ref)
{
	size_t want = resp->content_length >= 0 ? (size_t)resp->content_length
	                                        : REFUSAL_BODY_MAX;
	if (want > REFUSAL_BODY_MAX)
		want = REFUSAL_BODY_MAX;
	if (astra__buf_put(&ref->body, have, nhave < want ? nhave : want))
		return;
	char buf[4096];
	while (ref->body.size < want) {
		long n = astra__http_raw_recv(
		        ws->raw, buf, sizeof(buf), deadline, ws->op);
		if (n <= 0) {
			astra_error_clear();
			break;
		}
		size_t take = (size_t)n;
		if (take > want - ref->body.size)
			take = want - ref->body.size;
		if (astra__buf_put(&ref->body, buf, take))
			break;
	}
	if (resp->chunked) {
		/* de-chunk in place, good enough for a Status object */
		astra_buf plain = ASTRA_BUF_INIT;
		const char *p = ref->body.ptr, *e = p + ref->body.size;
		while (p < e) {
			char *end = NULL;
			unsigned long cl = strtoul(p, &end, 16);
			const char *nl = strstr(end, "\r\n");
			if (!nl || cl == 0)
				break;
			p = nl + 2;
			if ((size_t)(e - p) < cl)
				cl = (unsigned long)(e - p);
			if (astra__buf_put(&plain, p, cl))
				break;
			p += cl + 2;
		}
		astra_buf_dispose(&ref->body);
		ref->body = plain;
	}
	if (!ref->body.ptr)
		(void)astra__buf_grow(&ref->body, 0);
}

int astra__ws_connect(astra__http *c, const astra__ws_options *o,
        astra__ws **out, astra__ws_refusal *ref)
{
	ASTRA_ASSERT_ARG(c && o && o->url && out);
	*out = NULL;
	if (ref) {
		ref->status = 0;
		memset(&ref->body, 0, sizeof(ref->body));
	}
	astra__ws *ws = astra__calloc(1, sizeof(*ws));
	if (!ws)
		return astra__err_oom();
	ws->op = o->op;
	astra__ws_decoder_init(&ws->dec, o->max_message);
	astra__http_redact_url(o->url, ws->url, sizeof(ws->url));
	unsigned tmo = o->timeout_ms ? o->timeout_ms : 30000;
	uint64_t deadline = astra__mono_ns() + (uint64_t)tmo * 1000000ULL;
	astra_buf head = ASTRA_BUF_INIT, req = ASTRA_BUF_INIT;
	astra_buf in = ASTRA_BUF_INIT;
	char *target = NULL;
	char key[ASTRA_WS_KEY_LEN + 1];
	int rc = astra__http_raw_open(
	        c, o->url, tmo, o->op, &ws->raw, &head, &target);
	for (const char *const *h = o->headers; !rc && h && *h; h++)
		rc = astra__buf_printf(&head, "%s\r\n", *h);
	if (!rc)
		rc = astra__ws_make_key(key);
	if (!rc)
		rc = astra__ws_build_request(&req, target,
		        head.ptr ? head.ptr : "", key, o->protocols);
	if (!rc)
		rc = astra__http_raw_send(
		        ws->raw, req.ptr, req.size, deadline, o->op);
	astra__ws_response resp;
	long hl = 0;
	while (!rc && hl == 0) {
		char buf[4096];
		long n = astra__http_raw_recv(
		        ws->raw, buf, sizeof(buf), deadline, o->op);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			rc = astra__err(ASTRA_ENET, ASTRA_ERROR_NET,
			        "%s: the server closed the connection during "
			        "the WebSocket upgrade",
			        ws->url);
			break;
		}
		if ((rc = astra__buf_put(&in, buf, (size_t)n)))
			break;
		hl = astra__ws_parse_response(in.ptr, in.size, &resp);
		if (hl < 0)
			rc = (int)hl;
	}
	if (!rc && resp.status != 101) {
		if (ref) {
			ref->status = resp.status;
			read_refusal_body(ws, &resp, in.ptr + hl,
			        in.size - (size_t)hl, deadline, ref);
		}
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_HTTP,
		        "%s: the server refused the WebSocket upgrade with "
		        "status %d %s",
		        ws->url, resp.status, resp.reason);
	}
	if (!rc)
		rc = astra__ws_check_response(&resp, key, o->protocols);
	if (!rc) {
		snprintf(ws->protocol, sizeof(ws->protocol), "%s",
		        resp.protocol);
		/* frames that came with the head */
		rc = astra__ws_decoder_feed(
		        &ws->dec, in.ptr + hl, in.size - (size_t)hl);
	}
	if (rc && rc != ASTRA_ENOTSUPPORTED)
		astra__err_prefix(rc, "WebSocket %s", ws->url);
	astra_buf_dispose(&head);
	astra_buf_dispose(&req);
	astra_buf_dispose(&in);
	free(target);
	if (rc) {
		ws->close_sent = 1; /* nothing to close politely */
		astra__ws_close(ws, 0);
		return rc;
	}
	astra__log_debug("websocket: %s connected, subprotocol \"%s\"", ws->url,
	        ws->protocol);
	*out = ws;
	return 0;
}

static int send_frame(astra__ws *ws, int opcode, const void *data, size_t n,
        uint64_t deadline)
{
	uint8_t mask[4];
	int rc = astra__random(mask, sizeof(mask));
	if (rc)
		return rc;
	astra_buf f = ASTRA_BUF_INIT;
	rc = astra__ws_frame_encode(&f, 1, opcode, data, n, mask);
	if (!rc)
		rc = astra__http_raw_send(
		        ws->raw, f.ptr, f.size, deadline, ws->op);
	astra_buf_dispose(&f);
	if (rc)
		ws->broken = 1;
	return rc;
}

int astra__ws_send(astra__ws *ws, int opcode, const void *data, size_t n,
        uint64_t deadline_ns)
{
	ASTRA_ASSERT_ARG(ws);
	if (ws->close_sent || ws->broken)
		return astra__err(ASTRA_ENET, ASTRA_ERROR_NET,
		        "%s: the WebSocket is closed", ws->url);
	return send_frame(ws, opcode, data, n, deadline_ns);
}

int astra__ws_recv(astra__ws *ws, int *opcode, astra_buf *msg,
        uint64_t deadline_ns, int *close_code)
{
	ASTRA_ASSERT_ARG(ws && opcode && msg);
	if (close_code)
		*close_code = 0;
	if (ws->broken || ws->close_received)
		return 0;
	for (;;) {
		int op = 0;
		const uint8_t *p = NULL;
		size_t n = 0;
		int rc = astra__ws_decoder_next(&ws->dec, &op, &p, &n);
		if (rc < 0) {
			int code = rc == ASTRA_EIO ? ASTRA_WS_CLOSE_TOO_BIG
			                           : ASTRA_WS_CLOSE_PROTOCOL;
			if (!ws->close_sent) {
				uint8_t cp[2] = { (uint8_t)(code >> 8),
					(uint8_t)code };
				astra__err_prefix(rc, "%s", ws->url);
				char keep[1024];
				snprintf(keep, sizeof(keep), "%s",
				        astra_error_last()->message);
				(void)send_frame(ws, ASTRA_WS_CLOSE, cp, 2,
				        astra__mono_ns() + 1000000000ULL);
				ws->close_sent = 1;
				astra__err(rc, ASTRA_ERROR_HTTP, "%s", keep);
			}
			ws->broken = 1;
			return rc;
		}
		if (rc == 1) {
			if (op == ASTRA_WS_PING) {
				/* a pong may wait a little even when the
				 * caller only polls */
				if (!ws->close_sent &&
				        (rc = send_frame(ws, ASTRA_WS_PONG, p,
				                 n,
				                 astra__mono_ns() +
				                         5000000000ULL)))
					return rc;
				continue;
			}
			if (op == ASTRA_WS_PONG)
				continue;
			if (op == ASTRA_WS_CLOSE) {
				int code;
				const char *r;
				size_t rl;
				astra__ws_close_info(p, n, &code, &r, &rl);
				if (close_code)
					*close_code = code;
				ws->close_received = 1;
				if (!ws->close_sent) {
					/* echo the code */
					(void)send_frame(ws, ASTRA_WS_CLOSE, p,
					        n >= 2 ? 2 : 0,
					        astra__mono_ns() +
					                1000000000ULL);
					ws->close_sent = 1;
				}
				astra_error_clear();
				return 0;
			}
			msg->size = 0;
			if ((rc = astra__buf_put(msg, p, n)))
				return rc;
			*opcode = op;
			return 1;
		}
		char buf[16384];
		long got = astra__http_raw_recv(
		        ws->raw, buf, sizeof(buf), deadline_ns, ws->op);
		if (got < 0)
			return (int)got;
		if (got == 0) {
			ws->broken = 1;
			if (close_code)
				*close_code = 1006;
			return 0;
		}
		if ((rc = astra__ws_decoder_feed(&ws->dec, buf, (size_t)got)))
			return rc;
	}
}

void astra__ws_close(astra__ws *ws, int code)
{
	if (!ws)
		return;
	if (ws->raw && !ws->close_sent && !ws->broken) {
		/* the caller's error survives the closing handshake */
		astra__saved_err e;
		astra__err_save(&e);
		int c = code ? code : ASTRA_WS_CLOSE_NORMAL;
		uint8_t cp[2] = { (uint8_t)(c >> 8), (uint8_t)c };
		uint64_t dl = astra__mono_ns() + 1000000000ULL;
		if (send_frame(ws, ASTRA_WS_CLOSE, cp, 2, dl) == 0) {
			ws->close_sent = 1;
			/* wait briefly for the peer's close */
			astra_buf m = ASTRA_BUF_INIT;
			int op;
			while (!ws->close_received && !ws->broken &&
			        astra__ws_recv(ws, &op, &m, dl, NULL) > 0)
				;
			astra_buf_dispose(&m);
		}
		astra__err_restore(&e);
	}
	astra__http_raw_close(ws->raw);
	astra__ws_decoder_dispose(&ws->dec);
	free(ws);
}
