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

size_t astra__chunker_next(
        const astra__chunker *c, const uint8_t *data, size_t n, int eof)
{
	if (n <= c->min)
		return eof ? n : 0;
	size_t limit = n < c->max ? n : c->max;
	size_t normal = c->avg < limit ? c->avg : limit;
	uint64_t h = 0;
	size_t i = c->min;
	for (; i < normal; i++) {
		h = (h << 1) + c->gear[data[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < limit; i++) {
		h = (h << 1) + c->gear[data[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	if (limit == c->max)
		return c->max;
	return eof ? n : 0;
}
