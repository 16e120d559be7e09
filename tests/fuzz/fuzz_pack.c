/*
 * Pack files: the trailer and the sealed header (check --read-data), then
 * the decrypted header entries and the blobs they point to.
 *   first byte even: the input is a whole pack as read from the store
 *     (the trailer parser sees any bytes; authentication stops the rest);
 *   first byte odd: the input is "u16 split || blob area || header
 *     plaintext"; the harness builds "ASTRAPK1 || blob area ||
 *     seal(header) || u32 length" with the known key, so the entry parser
 *     and the blob decoder see fuzzer-chosen entries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "fuzz_vault.h"
#include "repo/parse.h"

static void parse_pack(astra__repo *r, const uint8_t *p, size_t n)
{
	static const char hex[] = "00112233445566778899aabbccddeeff"
	                          "00112233445566778899aabbccddeeff";
	uint64_t hoff = 0;
	uint32_t hl = 0;
	if (astra__pack_trailer(p, n, "data/00/fuzz", &hoff, &hl) != 0)
		return;
	if (hoff + hl + 4 != n)
		abort(); /* the parser's promise */
	astra_buf h = ASTRA_BUF_INIT;
	char aad[80];
	snprintf(aad, sizeof(aad), "pack %s", hex);
	astra__pack_entry *ents = NULL;
	size_t ne = 0;
	if (astra__repo_open_sealed(r, aad, p + hoff, hl, &h, "pack") == 0 &&
	        astra__pack_header_parse((const uint8_t *)h.ptr, h.size, hoff,
	                "data/00/fuzz", &ents, &ne) == 0) {
		for (size_t i = 0; i < ne; i++) {
			if ((uint64_t)ents[i].offset + ents[i].length > hoff)
				abort();
			astra__idx_entry e = { 0 };
			e.id = ents[i].id;
			e.type = ents[i].type;
			e.flags = ents[i].flags;
			e.offset = ents[i].offset;
			e.length = ents[i].length;
			e.raw = ents[i].raw > (1u << 20) ? 1u << 20
			                                 : ents[i].raw;
			astra_buf out = ASTRA_BUF_INIT;
			(void)astra__repo_decode_blob(
			        r, &e, p + e.offset, &out);
			astra_buf_dispose(&out);
		}
	}
	free(ents);
	astra_buf_dispose(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__repo *r = fuzz_repo();
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		/* a copy of exactly the input: reads past it are caught */
		uint8_t *p = malloc(size - 1 ? size - 1 : 1);
		memcpy(p, data + 1, size - 1);
		parse_pack(r, p, size - 1);
		free(p);
		return 0;
	}
	if (size < 3)
		return 0;
	size_t split = (size_t)(data[1] | data[2] << 8);
	const uint8_t *body = data + 3;
	size_t n = size - 3;
	if (split > n)
		split = n;
	static const char hex[] = "00112233445566778899aabbccddeeff"
	                          "00112233445566778899aabbccddeeff";
	char aad[80];
	snprintf(aad, sizeof(aad), "pack %s", hex);
	astra_buf pack = ASTRA_BUF_INIT;
	uint8_t t[4];
	if (astra__buf_put(&pack, ASTRA_PACK_MAGIC, 8) ||
	        astra__buf_put(&pack, body, split))
		abort();
	size_t before = pack.size;
	if (astra__repo_seal(r, aad, body + split, n - split, &pack))
		abort();
	fuzz_put_le32(t, (uint32_t)(pack.size - before));
	if (astra__buf_put(&pack, t, 4))
		abort();
	/* exactly sized, so that ASan sees any read past the pack */
	uint8_t *p = malloc(pack.size);
	memcpy(p, pack.ptr, pack.size);
	parse_pack(r, p, pack.size);
	free(p);
	astra_buf_dispose(&pack);
	return 0;
}
