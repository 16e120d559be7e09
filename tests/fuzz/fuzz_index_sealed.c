/*
 * Index files as stored: sealed "u64 body length || zstd(body)".
 *   first byte even: the rest is sealed as it is (the length field and the
 *     zstd frame are the fuzzer's);
 *   first byte odd: the rest is the body; the harness compresses it and
 *     writes its true length (or, with bit 1 set, a length off by the
 *     next 8 bytes), then seals it with the known key.
 * Either way astra__index_file_open and astra__index_decode run on it, as
 * loading the index does.
 */
#include <stddef.h>
#include <stdint.h>

#include "compress/compress.h"
#include "core/buf.h"
#include "fuzz_vault.h"
#include "repo/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char key[] = "index/00112233445566778899aabbccddeeff"
	                          "00112233445566778899aabbccddeeff";
	astra__repo *r = fuzz_repo();
	if (size < 1 || size > (1u << 20))
		return 0;
	astra_buf plain = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	astra_buf body = ASTRA_BUF_INIT;
	uint8_t mode = data[0];
	data++;
	size--;
	if (!(mode & 1)) {
		if (astra__buf_put(&plain, data, size))
			abort();
	} else {
		uint64_t len = size;
		if ((mode & 2) && size >= 8) {
			uint64_t d = 0;
			memcpy(&d, data, 8);
			len += d;
			data += 8;
			size -= 8;
		}
		uint8_t l8[8];
		fuzz_put_le32(l8, (uint32_t)len);
		fuzz_put_le32(l8 + 4, (uint32_t)(len >> 32));
		size_t cap = size + size / 8 + 1024, zn = 0;
		if (astra__buf_put(&plain, l8, 8) ||
		        astra__buf_grow(&plain, cap) ||
		        astra__zstd_compress(plain.ptr + plain.size, cap, data,
		                size, 1, &zn))
			abort();
		plain.size += zn;
	}
	if (astra__repo_seal(r, key, plain.ptr, plain.size, &sealed))
		abort();
	uint8_t *p = malloc(sealed.size);
	memcpy(p, sealed.ptr, sealed.size);
	if (astra__index_file_open(r, key, p, sealed.size, &body) == 0) {
		astra__index ix = { 0 };
		(void)astra__index_decode(
		        &ix, (uint8_t *)body.ptr, body.size, key);
		astra__index_free(&ix);
	}
	free(p);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&body);
	return 0;
}
