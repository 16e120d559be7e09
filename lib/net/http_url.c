/*
 * URL helpers of the HTTP client: redaction of credentials for messages,
 * percent-escaping, and the Retry-After header.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

/* ------------------------------------------------------------------ */
/* URLs                                                                */
/* ------------------------------------------------------------------ */

static int secret_param(const char *name, size_t n)
{
	/* upload_id: a GCS resumable-upload session is a capability */
	static const char *const words[] = { "sig", "token", "credential",
		"key", "secret", "password", "passwd", "auth", "upload_id",
		NULL };
	char low[64];
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (int i = 0; words[i]; i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

void astra__http_redact_url(const char *url, char *out, size_t n)
{
	if (!n)
		return;
	out[0] = '\0';
	if (!url)
		return;
	astra_buf b = ASTRA_BUF_INIT;
	const char *q = strchr(url, '?');
	const char *frag = strchr(url, '#');
	/* drop user:password@ in the authority */
	const char *p = strstr(url, "://");
	const char *auth_end = NULL;
	if (p) {
		const char *host = p + 3;
		size_t hl = strcspn(host, "/?#");
		const char *at = memchr(host, '@', hl);
		if (at) {
			/* last '@' inside the authority */
			for (const char *x = at; x < host + hl; x++)
				if (*x == '@')
					at = x;
			auth_end = at + 1;
		}
	}
	int rc = 0;
	if (auth_end) {
		rc |= astra__buf_put(&b, url, (size_t)(p + 3 - url));
		rc |= astra__buf_puts(&b, "REDACTED@");
		url = auth_end;
	}
	if (!q || (frag && frag < q)) {
		rc |= astra__buf_puts(&b, url);
	} else {
		rc |= astra__buf_put(&b, url, (size_t)(q + 1 - url));
		const char *s = q + 1;
		while (*s && *s != '#') {
			size_t len = strcspn(s, "&#");
			const char *eq = memchr(s, '=', len);
			if (eq && secret_param(s, (size_t)(eq - s))) {
				rc |= astra__buf_put(
				        &b, s, (size_t)(eq + 1 - s));
				rc |= astra__buf_puts(&b, "REDACTED");
			} else {
				rc |= astra__buf_put(&b, s, len);
			}
			s += len;
			if (*s == '&') {
				rc |= astra__buf_putc(&b, '&');
				s++;
			}
		}
		rc |= astra__buf_puts(&b, s); /* the fragment */
	}
	if (rc == 0 && b.ptr)
		snprintf(out, n, "%s", b.ptr);
	else
		snprintf(out, n, "(url)");
	astra_buf_dispose(&b);
}

int astra__http_escape(astra_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int rc;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ||
		        ch == '~') {
			rc = astra__buf_putc(b, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			rc = astra__buf_put(b, e, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}

long astra__http_parse_retry_after(const char *v)
{
	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (!*v)
		return -1;
	if (isdigit((unsigned char)*v)) {
		char *end;
		unsigned long s = strtoul(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			return -1;
		if (s > 86400)
			s = 86400;
		return (long)s * 1000;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	time_t now = time(NULL);
	if (t <= now)
		return 0;
	if (t - now > 86400)
		return 86400L * 1000;
	return (long)(t - now) * 1000;
}
