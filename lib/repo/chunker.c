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
 * The rolling hash after each byte depends on the one before it. Eight bytes
 * at a time, each of the eight hashes is the hash before the group shifted,
 * plus a sum of the group's gear values that does not depend on it
 * (t_k = (t_{k-1} << 1) + gear[byte k]); so the chain through h is one shift
 * and one add per eight bytes. The cut points are exactly those of the
 * byte-wise definition in docs/format.md.
 */
static size_t scan(const astra__chunker *c, const uint8_t *d, size_t i,
        size_t end, uint64_t *hp, uint64_t m)
{
	const uint64_t *g = c->gear;
	uint64_t h = *hp;
	while (i + 8 <= end) {
		uint64_t t1 = g[d[i]];
		uint64_t t2 = (t1 << 1) + g[d[i + 1]];
		uint64_t t3 = (t2 << 1) + g[d[i + 2]];
		uint64_t t4 = (t3 << 1) + g[d[i + 3]];
		uint64_t t5 = (t4 << 1) + g[d[i + 4]];
		uint64_t t6 = (t5 << 1) + g[d[i + 5]];
		uint64_t t7 = (t6 << 1) + g[d[i + 6]];
		uint64_t t8 = (t7 << 1) + g[d[i + 7]];
		uint64_t h1 = (h << 1) + t1, h2 = (h << 2) + t2;
		uint64_t h3 = (h << 3) + t3, h4 = (h << 4) + t4;
		uint64_t h5 = (h << 5) + t5, h6 = (h << 6) + t6;
		uint64_t h7 = (h << 7) + t7, h8 = (h << 8) + t8;
		if (__builtin_expect(!((h1 & m) && (h2 & m) && (h3 & m) &&
		                             (h4 & m) && (h5 & m) && (h6 & m) &&
		                             (h7 & m) && (h8 & m)),
		            0)) {
			uint64_t hs[8] = { h1, h2, h3, h4, h5, h6, h7, h8 };
			for (int k = 0;; k++)
				if (!(hs[k] & m)) {
					*hp = hs[k];
					return i + (size_t)k + 1;
				}
		}
		h = h8;
		i += 8;
	}
	for (; i < end; i++) {
		h = (h << 1) + g[d[i]];
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
