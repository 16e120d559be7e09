/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/util.h"

#include <string.h>
#include <time.h>

#include "core/buf.h"

static int b64val(unsigned char c)
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

int astra__kube_b64decode(astra_buf *out, const char *in, size_t len)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	int rc = astra__buf_grow(out, len / 4 * 3 + 3);
	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -1; /* data after padding */
		int v = b64val(c);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char byte = (char)((acc >> bits) & 0xff);
			if ((rc = astra__buf_put(out, &byte, 1)))
				return rc;
		}
	}
	if (bits >= 6 || pad > 2)
		return -1;
	return 0;
}

int astra__kube_b64encode(astra_buf *out, const void *in, size_t len)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	int rc = astra__buf_grow(out, (len + 2) / 3 * 4);
	if (rc)
		return rc;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		char q[4] = { tab[(v >> 18) & 63], tab[(v >> 12) & 63],
			i + 1 < len ? tab[(v >> 6) & 63] : '=',
			i + 2 < len ? tab[v & 63] : '=' };
		if ((rc = astra__buf_put(out, q, 4)))
			return rc;
	}
	return 0;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int astra__kube_parse_time(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec;
	if (!s || strlen(s) < 20)
		return -1;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
	        s[7] != '-' || digits(s + 8, 2, &D) ||
	        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	        digits(s + 11, 2, &h) || s[13] != ':' ||
	        digits(s + 14, 2, &m) || s[16] != ':' ||
	        digits(s + 17, 2, &sec))
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		        digits(p + 4, 2, &om))
			return -1;
		offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	        sec > 60)
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - offset;
	return 0;
}
