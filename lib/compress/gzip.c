/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>
#include <zlib.h>

#include "compress/compress.h"
#include "core/buf.h"
#include "core/error.h"

int astra__gunzip(
        astra_buf *out, const void *src, size_t n, size_t max, const char *what)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 32: gzip or zlib header, detected */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_COMPRESS,
		        "%s: cannot initialise zlib", what);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)n;
	int rc = 0, zr = Z_OK;
	while (zr != Z_STREAM_END) {
		if ((rc = astra__buf_grow(out, 64 * 1024)))
			break;
		size_t room = out->asize - out->size - 1;
		z.next_out = (Bytef *)out->ptr + out->size;
		z.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
		uInt before = z.avail_out;
		zr = inflate(&z, Z_NO_FLUSH);
		out->size += before - z.avail_out;
		out->ptr[out->size] = '\0';
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_COMPRESS,
			        "%s: corrupt compressed data (%s)", what,
			        z.msg ? z.msg : "zlib error");
			break;
		}
		if (out->size > max) {
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_COMPRESS,
			        "%s: decompresses to more than %zu bytes", what,
			        max);
			break;
		}
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_COMPRESS,
			        "%s: compressed data is truncated", what);
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

int astra__gzip(astra_buf *out, const void *src, size_t n)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	        Z_OK)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_COMPRESS,
		        "cannot initialise zlib");
	size_t bound = deflateBound(&z, (uLong)n) + 64;
	int rc = astra__buf_grow(out, bound);
	if (!rc) {
		z.next_in = (Bytef *)src;
		z.avail_in = (uInt)n;
		z.next_out = (Bytef *)out->ptr + out->size;
		z.avail_out = (uInt)bound;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_COMPRESS,
			        "gzip compression failed");
		else {
			out->size += bound - z.avail_out;
			out->ptr[out->size] = '\0';
		}
	}
	deflateEnd(&z);
	return rc;
}
