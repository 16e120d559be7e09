/*
 * WebSocket client (RFC 6455) on a connection opened by the HTTP client in
 * libcurl's connect-only mode, so it uses the same TLS settings, client
 * certificates, CA, proxy and credentials provider as every other request.
 * The HTTP/1.1 upgrade and the framing are ours: Debian's libcurl 7.88 has
 * no WebSocket support built in (docs/hooks.md explains the choice over
 * libwebsockets).
 *
 * The framing and handshake functions are pure logic (tested and fuzzed
 * without a network). A connection is used by one thread at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_NET_WS_H
#define ASTRA_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "core/op.h"
#include "net/http.h"

enum {
	ASTRA_WS_CONT = 0x0,
	ASTRA_WS_TEXT = 0x1,
	ASTRA_WS_BINARY = 0x2,
	ASTRA_WS_CLOSE = 0x8,
	ASTRA_WS_PING = 0x9,
	ASTRA_WS_PONG = 0xA
};

/* Close status codes used here */
#define ASTRA_WS_CLOSE_NORMAL 1000
#define ASTRA_WS_CLOSE_PROTOCOL 1002
#define ASTRA_WS_CLOSE_TOO_BIG 1009

/* ---- handshake (pure) ---- */

#define ASTRA_WS_KEY_LEN 24 /* base64 of 16 random bytes */
#define ASTRA_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/* A fresh Sec-WebSocket-Key (NUL-terminated). */
int astra__ws_make_key(char key[ASTRA_WS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept a server must answer to `key`. */
int astra__ws_accept_for(const char *key, char out[ASTRA_WS_ACCEPT_LEN + 1]);

/*
 * Appends the upgrade request: "GET <target> HTTP/1.1", the lines in
 * `head_lines` (each ending in CRLF: Host, Authorization...), the upgrade
 * headers, Sec-WebSocket-Protocol with `protocols` in order of preference
 * (NULL-terminated; may be NULL) and the blank line.
 */
int astra__ws_build_request(astra_buf *out, const char *target,
        const char *head_lines, const char *key, const char *const *protocols);

typedef struct {
	int status; /* e.g. 101 */
	char reason[128];
	char protocol[64]; /* Sec-WebSocket-Protocol, "" when absent */
	char accept[64]; /* Sec-WebSocket-Accept, "" when absent */
	int upgrade_websocket; /* "Upgrade: websocket" */
	int connection_upgrade; /* "Connection" lists "upgrade" */
	int has_extensions; /* Sec-WebSocket-Extensions present */
	int64_t content_length; /* -1 when absent */
	int chunked; /* Transfer-Encoding: chunked */
} astra__ws_response;

/*
 * Parses a response head from the start of data. Returns the length of the
 * head (through the blank line) when complete, 0 when more bytes are
 * needed, or a negative code (ASTRA_EPARSE, error set) when it is not an
 * HTTP/1.x response or longer than 16 KiB.
 */
long astra__ws_parse_response(
        const char *data, size_t n, astra__ws_response *out);

/*
 * Checks a 101 response: upgrade headers, the accept value for `key`, a
 * protocol from `protocols` (when any were offered), no extensions.
 * ASTRA_EPARSE naming the fault.
 */
int astra__ws_check_response(const astra__ws_response *r, const char *key,
        const char *const *protocols);

/* ---- framing (pure) ---- */

/*
 * Appends one frame. `mask` (4 bytes) masks the payload as a client must;
 * NULL sends it unmasked (servers; tests). Control frames must have
 * fin = 1 and at most 125 bytes (ASTRA_EINVALID).
 */
int astra__ws_frame_encode(astra_buf *out, int fin, int opcode,
        const void *payload, size_t n, const uint8_t *mask);

typedef struct {
	int fin;
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t len; /* payload length */
	size_t header_len;
} astra__ws_frame;

/*
 * Parses a frame header at the start of p. Returns the header length when
 * complete, 0 when more bytes are needed, or ASTRA_EPARSE (error set) for a
 * protocol violation: reserved bits, unknown opcodes, fragmented or long
 * control frames, non-minimal lengths, a 64-bit length with the top bit.
 */
long astra__ws_frame_parse(const uint8_t *p, size_t n, astra__ws_frame *f);

/* XORs data with the mask, starting at payload offset `off`. */
void astra__ws_mask(
        uint8_t *data, size_t n, const uint8_t mask[4], uint64_t off);

/*
 * Incremental decoder from bytes to messages: reassembles fragmented
 * messages, passes control frames through (also between fragments),
 * refuses frames from a client-side view: masked frames from the server,
 * continuation without a start, a new message inside a fragmented one,
 * messages above max_message bytes (ASTRA_EIO), and invalid close
 * payloads.
 */
typedef struct {
	astra_buf in; /* bytes not consumed yet */
	size_t in_off;
	astra_buf msg; /* data message being assembled */
	int msg_opcode; /* 0: none in progress */
	astra_buf out; /* the last message returned */
	size_t max_message;
	int accept_masked; /* 1: frames may be masked (server side) */
	int closed; /* a close frame was returned */
} astra__ws_decoder;

void astra__ws_decoder_init(astra__ws_decoder *d, size_t max_message);
void astra__ws_decoder_dispose(astra__ws_decoder *d);
int astra__ws_decoder_feed(astra__ws_decoder *d, const void *data, size_t n);
/*
 * The next complete message: 1 with its opcode and payload (valid until the
 * next call), 0 when more bytes are needed, or a negative code (error set).
 */
int astra__ws_decoder_next(astra__ws_decoder *d, int *opcode,
        const uint8_t **payload, size_t *len);

/* Splits a close payload: code (1005 when empty) and reason. */
void astra__ws_close_info(const uint8_t *payload, size_t len, int *code,
        const char **reason, size_t *reason_len);

/* ---- connections ---- */

typedef struct astra__ws astra__ws;

typedef struct {
	const char *url; /* http:// or https:// with path and query */
	const char *const *protocols; /* preference order; may be NULL */
	const char *const *headers; /* extra "Name: value" lines; may be NULL */
	size_t max_message; /* 0: 16 MiB */
	unsigned timeout_ms; /* connect + handshake; 0: the client's */
	astra__op *op; /* cancellation; may be NULL */
} astra__ws_options;

/* When the server does not switch protocols. */
typedef struct {
	long status; /* 0 when no HTTP response arrived */
	astra_buf body; /* the response body (up to 64 KiB) */
} astra__ws_refusal;

/*
 * Connects, sends the upgrade and checks the answer. A response other than
 * 101 returns ASTRA_ENOTSUPPORTED with refusal->status and body set (the
 * caller decides what the body means); transport failures as
 * astra__http_do.
 */
int astra__ws_connect(astra__http *c, const astra__ws_options *o,
        astra__ws **out, astra__ws_refusal *refusal);

/* The subprotocol the server chose ("" when none). */
const char *astra__ws_protocol(const astra__ws *ws);

/* Sends one complete (fin) frame with a fresh mask. deadline_ns: monotonic
 * deadline (astra__mono_ns() clock), 0 for none. */
int astra__ws_send(astra__ws *ws, int opcode, const void *data, size_t n,
        uint64_t deadline_ns);

/*
 * Receives the next data message (text or binary) into msg (replacing its
 * contents), answering pings. Returns 1 with *opcode set, 0 when the peer
 * closed (close answered; *close_code set when not NULL) or the connection
 * ended, ASTRA_ETIMEOUT at the deadline, ASTRA_ECANCELLED, or another
 * negative code.
 */
int astra__ws_recv(astra__ws *ws, int *opcode, astra_buf *msg,
        uint64_t deadline_ns, int *close_code);

/* Sends a close frame (once) and waits briefly for the peer's; frees. */
void astra__ws_close(astra__ws *ws, int code);

void astra__ws_refusal_dispose(astra__ws_refusal *r);

#endif
