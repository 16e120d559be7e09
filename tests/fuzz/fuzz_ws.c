/*
 * libFuzzer target: the WebSocket frame decoder (server frames as a client
 * sees them, and masked client frames as a server would) and the upgrade
 * response parser.
 */
#include <stddef.h>
#include <stdint.h>

#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size, int masked, size_t step)
{
	astra__ws_decoder d;
	astra__ws_decoder_init(&d, 1 << 16);
	d.accept_masked = masked;
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		if (astra__ws_decoder_feed(&d, data + off, n))
			break;
		int op, rc;
		const uint8_t *p;
		size_t len;
		while ((rc = astra__ws_decoder_next(&d, &op, &p, &len)) == 1) {
			volatile uint8_t sink = len ? p[len - 1] : 0;
			(void)sink;
			if (op == ASTRA_WS_CLOSE) {
				int code;
				const char *r;
				size_t rl;
				astra__ws_close_info(p, len, &code, &r, &rl);
			}
		}
		if (rc < 0)
			break;
	}
	astra__ws_decoder_dispose(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size, 0, size ? size : 1);
	decode(data, size, 1, 7);
	astra__ws_response r;
	long hl = astra__ws_parse_response((const char *)data, size, &r);
	if (hl > 0)
		(void)astra__ws_check_response(
		        &r, "dGhlIHNhbXBsZSBub25jZQ==", NULL);
	return 0;
}
