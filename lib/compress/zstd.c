/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "compress/compress.h"

#include <pthread.h>
#include <zstd.h>

#include "core/error.h"

static pthread_key_t cctx_key, dctx_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p)
{
	ZSTD_freeCCtx(p);
}

static void free_dctx(void *p)
{
	ZSTD_freeDCtx(p);
}

static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *cctx(void)
{
	pthread_once(&once, make_keys);
	ZSTD_CCtx *c = pthread_getspecific(cctx_key);
	if (!c) {
		c = ZSTD_createCCtx();
		if (c)
			pthread_setspecific(cctx_key, c);
	}
	return c;
}

static ZSTD_DCtx *dctx(void)
{
	pthread_once(&once, make_keys);
	ZSTD_DCtx *d = pthread_getspecific(dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		if (d)
			pthread_setspecific(dctx_key, d);
	}
	return d;
}

size_t astra__zstd_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

int astra__zstd_compress(void *dst, size_t cap, const void *src, size_t n,
        int level, size_t *outlen)
{
	ZSTD_CCtx *c = cctx();
	if (!c)
		return astra__err_oom();
	size_t r = ZSTD_compressCCtx(c, dst, cap, src, n, level);
	if (ZSTD_isError(r))
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_COMPRESS,
		        "zstd compression failed: %s", ZSTD_getErrorName(r));
	*outlen = r;
	return 0;
}

int astra__zstd_decompress(void *dst, size_t expect, const void *src, size_t n)
{
	ZSTD_DCtx *d = dctx();
	if (!d)
		return astra__err_oom();
	size_t r = ZSTD_decompressDCtx(d, dst, expect, src, n);
	if (ZSTD_isError(r) || r != expect)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_COMPRESS,
		        "zstd decompression failed: %s",
		        ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size");
	return 0;
}

int astra__compressible(const void *src, size_t n)
{
	enum { SAMPLE = 8192, SAMPLES = 4 };
	unsigned char out[SAMPLE + 512];
	const unsigned char *s = src;
	if (n < 4 * SAMPLE)
		return 1;
	ZSTD_CCtx *c = cctx();
	if (!c)
		return 1;
	size_t in_total = 0, out_total = 0;
	for (int i = 0; i < SAMPLES; i++) {
		size_t off = (n - SAMPLE) / (SAMPLES - 1) * (size_t)i;
		size_t r = ZSTD_compressCCtx(
		        c, out, sizeof(out), s + off, SAMPLE, 1);
		if (ZSTD_isError(r))
			return 1;
		in_total += SAMPLE;
		out_total += r;
	}
	/* store as is unless compression saves at least 3% */
	return out_total * 100 < in_total * 97;
}
