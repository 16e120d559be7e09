/*
 * Compression: zstd for vault data, gzip for formats that use it (Helm
 * releases). This module is the only user of libzstd and zlib.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_COMPRESS_COMPRESS_H
#define ASTRA_COMPRESS_COMPRESS_H

#include <stddef.h>

#include "astra/common.h"

size_t astra__zstd_bound(size_t n);
/*
 * Compresses with a per-thread context. Returns 0 and *outlen, or
 * ASTRA_ERROR when the output does not fit `cap`.
 */
int astra__zstd_compress(void *dst, size_t cap, const void *src, size_t n,
        int level, size_t *outlen);
/* Decompresses exactly `expect` bytes; anything else is ASTRA_ECORRUPT. */
int astra__zstd_decompress(void *dst, size_t expect, const void *src, size_t n);
/*
 * A cheap guess whether compressing `n` bytes is worth it: compresses a few
 * samples at the fastest level. 1 = compress, 0 = store as is.
 */
int astra__compressible(const void *src, size_t n);

/*
 * Decompresses a gzip (or zlib) stream into out, refusing output larger
 * than max bytes. ASTRA_EPARSE names `what` on malformed input.
 */
int astra__gunzip(astra_buf *out, const void *src, size_t n, size_t max,
        const char *what);

/* gzip of n bytes appended to out. */
int astra__gzip(astra_buf *out, const void *src, size_t n);

#endif
