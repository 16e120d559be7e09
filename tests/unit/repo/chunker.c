#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "crypto/crypto.h"
#include "repo/chunker.h"

static uint8_t *det_data(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* cut points of a whole buffer */
static size_t cuts(const astra__chunker *c, const uint8_t *d, size_t n,
        size_t *out, size_t max)
{
	size_t k = 0, off = 0;
	while (off < n && k < max) {
		size_t len = astra__chunker_next(c, d + off, n - off, 1);
		off += len;
		out[k++] = off;
	}
	return k;
}

Test(repo_chunker, sizes_stay_within_bounds_and_average_near_target)
{
	astra__chunker c;
	uint8_t key[32] = { 1 };
	cr_assert_astra_ok(
	        astra__chunker_init(&c, key, 16 << 10, 64 << 10, 256 << 10));
	size_t n = 32 << 20;
	uint8_t *d = det_data(n, 1);
	size_t *cp = malloc(sizeof(size_t) * 4096);
	size_t k = cuts(&c, d, n, cp, 4096);
	size_t prev = 0;
	for (size_t i = 0; i < k; i++) {
		size_t len = cp[i] - prev;
		if (i + 1 < k) {
			cr_assert_geq(len, 16 << 10);
			cr_assert_leq(len, 256 << 10);
		}
		prev = cp[i];
	}
	double avg = (double)n / (double)k;
	cr_assert(avg > 40e3 && avg < 110e3, "average chunk %f", avg);
	free(d);
	free(cp);
}

Test(repo_chunker, boundaries_resynchronise_after_an_insertion)
{
	astra__chunker c;
	uint8_t key[32] = { 7 };
	cr_assert_astra_ok(
	        astra__chunker_init(&c, key, 16 << 10, 64 << 10, 256 << 10));
	size_t n = 8 << 20;
	uint8_t *d = det_data(n, 2);
	uint8_t *e = malloc(n + 100);
	/* insert 100 bytes at 1 MiB */
	memcpy(e, d, 1 << 20);
	memset(e + (1 << 20), 'X', 100);
	memcpy(e + (1 << 20) + 100, d + (1 << 20), n - (1 << 20));
	size_t a[1024], b[1024];
	size_t ka = cuts(&c, d, n, a, 1024), kb = cuts(&c, e, n + 100, b, 1024);
	/* count cut points after the edit that line up (shifted by 100) */
	size_t same = 0, after = 0;
	for (size_t i = 0; i < ka; i++) {
		if (a[i] <= (2u << 20))
			continue;
		after++;
		for (size_t j = 0; j < kb; j++)
			if (b[j] == a[i] + 100) {
				same++;
				break;
			}
	}
	cr_assert_gt(after, 10);
	cr_assert_geq(same * 100, after * 95, "only %zu of %zu cuts realigned",
	        same, after);
	free(d);
	free(e);
}

Test(repo_chunker, boundaries_depend_on_the_key)
{
	astra__chunker c1, c2;
	uint8_t k1[32] = { 1 }, k2[32] = { 2 };
	astra__chunker_init(&c1, k1, 16 << 10, 64 << 10, 256 << 10);
	astra__chunker_init(&c2, k2, 16 << 10, 64 << 10, 256 << 10);
	size_t n = 4 << 20;
	uint8_t *d = det_data(n, 3);
	size_t a[512], b[512];
	size_t ka = cuts(&c1, d, n, a, 512), kb = cuts(&c2, d, n, b, 512);
	size_t same = 0;
	for (size_t i = 0; i + 1 < ka; i++)
		for (size_t j = 0; j + 1 < kb; j++)
			if (a[i] == b[j])
				same++;
	cr_assert_lt(same * 10, ka, "%zu of %zu cut points shared across keys",
	        same, ka);
	free(d);
}

Test(repo_chunker, streaming_asks_for_more_data)
{
	astra__chunker c;
	uint8_t key[32] = { 3 };
	astra__chunker_init(&c, key, 16 << 10, 64 << 10, 256 << 10);
	uint8_t *d = det_data(1 << 20, 4);
	/* less than min without eof: need more */
	cr_assert_eq(astra__chunker_next(&c, d, 1000, 0), 0);
	cr_assert_eq(astra__chunker_next(&c, d, 1000, 1), 1000);
	/* a cut found in a prefix equals the cut found in the whole */
	size_t whole = astra__chunker_next(&c, d, 1 << 20, 1);
	cr_assert_eq(astra__chunker_next(&c, d, whole + 10, 0), whole);
	cr_assert_eq(
	        astra__chunker_init(&c, key, 100, 1000, 5000), ASTRA_EINVALID);
	free(d);
}

/* the byte-wise definition of docs/format.md, "Chunking" */
static size_t reference_next(
        const astra__chunker *c, const uint8_t *d, size_t n, int eof)
{
	if (n <= c->min)
		return eof ? n : 0;
	size_t limit = n < c->max ? n : c->max;
	size_t normal = c->avg < limit ? c->avg : limit;
	uint64_t h = 0;
	size_t i = c->min;
	for (; i < normal; i++) {
		h = (h << 1) + c->gear[d[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < limit; i++) {
		h = (h << 1) + c->gear[d[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	if (limit == c->max)
		return c->max;
	return eof ? n : 0;
}

Test(repo_chunker, cut_points_match_the_byte_wise_definition)
{
	/* small sizes make cuts frequent, so every lane of the four-byte
	 * step and every tail length gets exercised */
	static const size_t params[][3] = { { 64, 256, 1024 },
		{ 100, 512, 777 }, { 1000, 4096, 65536 },
		{ 16 << 10, 64 << 10, 256 << 10 } };
	size_t n = 4 << 20;
	uint8_t *d = det_data(n, 9);
	/* long runs of one byte value: the hash saturates */
	memset(d + (1 << 20), 0, 300000);
	memset(d + (2 << 20), 0xff, 70001);
	for (size_t p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
		astra__chunker c;
		uint8_t key[32] = { (uint8_t)(p + 11) };
		cr_assert_astra_ok(astra__chunker_init(
		        &c, key, params[p][0], params[p][1], params[p][2]));
		size_t off = 0, k = 0;
		while (off < n) {
			/* vary the window so "need more data" paths run too */
			size_t win = n - off;
			if (k % 3 == 1 && win > params[p][2] / 2 + 3)
				win = params[p][2] / 2 + 3 + k % 5;
			int eof = win == n - off;
			size_t want = reference_next(&c, d + off, win, eof);
			size_t got = astra__chunker_next(&c, d + off, win, eof);
			cr_assert_eq(got, want, "params %zu at %zu: %zu != %zu",
			        p, off, got, want);
			off += got ? got
			           : reference_next(&c, d + off, n - off, 1);
			k++;
		}
	}
	free(d);
}
