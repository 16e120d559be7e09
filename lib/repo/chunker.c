/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/chunker.h"

#include <string.h>

#include "core/error.h"
#include "crypto/crypto.h"

/* A mask with `bits` one-bits spread over the upper 48 bits. */
static uint64_t spread_mask(unsigned bits)
{
	uint64_t m = 0;
	if (bits > 48)
		bits = 48;
	/* evenly spaced from the top: the high bits mix the most bytes */
	for (unsigned i = 0; i < bits; i++)
		m |= 1ULL << (63 - (i * 48) / bits);
	return m;
}

int astra__chunker_init(astra__chunker *c, const uint8_t key[32], size_t min,
        size_t avg, size_t max)
{
	if (!(min < avg && avg < max) || (avg & (avg - 1)) || avg < 256)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "invalid chunk sizes min %zu avg %zu max %zu", min, avg,
		        max);
	memset(c, 0, sizeof(*c));
	int rc = astra__hkdf_sha256(c->gear, sizeof(c->gear), key, 32, NULL, 0,
	        "astra chunker gear table v1");
	if (rc)
		return rc;
	for (int i = 0; i < 256; i++) {
		c->gear1[i] = c->gear[i] << 1;
		c->gear2[i] = c->gear[i] << 2;
		c->gear3[i] = c->gear[i] << 3;
	}
	unsigned bits = 0;
	while ((1ULL << bits) < avg)
		bits++;
	/* normalization level 2 (FastCDC): +-2 bits around the average */
	c->mask_s = spread_mask(bits + 2);
	c->mask_l = spread_mask(bits - 2);
	c->min = min;
	c->avg = avg;
	c->max = max;
	return 0;
}

/*
 * The rolling hash after each byte depends on the one before it; four bytes
 * at a time, each of the four hashes is computed from the hash before the
 * group (h << k plus shifted gear values), which shortens the dependency
 * chain about fourfold. The cut points are exactly those of the byte-wise
 * definition in docs/format.md.
 */
static size_t scan(const astra__chunker *c, const uint8_t *d, size_t i,
        size_t end, uint64_t *hp, uint64_t m)
{
	uint64_t h = *hp;
	while (i + 4 <= end) {
		uint64_t a = c->gear[d[i]], a1 = c->gear1[d[i]];
		uint64_t a2 = c->gear2[d[i]], a3 = c->gear3[d[i]];
		uint64_t b = c->gear[d[i + 1]], b1 = c->gear1[d[i + 1]];
		uint64_t b2 = c->gear2[d[i + 1]];
		uint64_t e = c->gear[d[i + 2]], e1 = c->gear1[d[i + 2]];
		uint64_t f = c->gear[d[i + 3]];
		uint64_t h1 = (h << 1) + a;
		uint64_t h2 = (h << 2) + (a1 + b);
		uint64_t h3 = (h << 3) + (a2 + b1 + e);
		uint64_t h4 = (h << 4) + (a3 + b2 + e1 + f);
		if (__builtin_expect(
		            !(h1 & m) | !(h2 & m) | !(h3 & m) | !(h4 & m), 0)) {
			*hp = h4;
			return !(h1 & m)   ? i + 1
			       : !(h2 & m) ? i + 2
			       : !(h3 & m) ? i + 3
			                   : i + 4;
		}
		h = h4;
		i += 4;
	}
	for (; i < end; i++) {
		h = (h << 1) + c->gear[d[i]];
		if (!(h & m)) {
			*hp = h;
			return i + 1;
		}
	}
	*hp = h;
	return 0;
}

size_t astra__chunker_next(
        const astra__chunker *c, const uint8_t *data, size_t n, int eof)
{
	if (n <= c->min)
		return eof ? n : 0;
	size_t limit = n < c->max ? n : c->max;
	size_t normal = c->avg < limit ? c->avg : limit;
	uint64_t h = 0;
	/* min < normal <= limit: n > min, and avg and max exceed min */
	size_t cut = scan(c, data, c->min, normal, &h, c->mask_s);
	if (!cut)
		cut = scan(c, data, normal, limit, &h, c->mask_l);
	if (cut)
		return cut;
	if (limit == c->max)
		return c->max;
	return eof ? n : 0;
}
