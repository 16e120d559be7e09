/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/base64.h"

#include <string.h>

#include "core/buf.h"

static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int astra__base64_encode(astra_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	int rc = astra__buf_grow(out, (n + 2) / 3 * 4);
	if (rc)
		return rc;
	char *o = out->ptr + out->size;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 |
		             p[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	out->size = (size_t)(o - out->ptr);
	out->ptr[out->size] = '\0';
	return 0;
}

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int astra__base64_decode(astra_buf *out, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0, pad = 0;
	int rc = astra__buf_grow(out, n / 4 * 3 + 3);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = val(c);
		if (v < 0 || pad)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_INVALID,
			        "invalid base64 at position %zu", i);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->ptr[out->size++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* 6 leftover bits: a length no encoder produces */
	if (pad > 2 || bits >= 6)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_INVALID,
		        "invalid base64 length or padding");
	out->ptr[out->size] = '\0';
	return 0;
}

int astra__hex_decode(void *out, size_t n, const char *hex)
{
	unsigned char *o = out;
	if (!hex || strlen(hex) != n * 2)
		return ASTRA_EPARSE;
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			int d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return ASTRA_EPARSE;
			v = v * 16 + d;
		}
		o[i] = (unsigned char)v;
	}
	return 0;
}

void astra__hex_encode(char *out, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}
