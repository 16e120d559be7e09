/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/util.h"

#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/buf.h"

/* Kubernetes carries base64 in both alphabets (standard in Secrets and
 * kubeconfigs, URL-safe in tokens): core's decoder takes either. */
int astra__kube_b64decode(astra_buf *out, const char *in, size_t len)
{
	int rc = astra__base64_decode(out, in, len);
	return rc == ASTRA_EPARSE ? -1 : rc;
}

int astra__kube_b64encode(astra_buf *out, const void *in, size_t len)
{
	return astra__base64_encode(out, in, len);
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
