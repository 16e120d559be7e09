/*
 * Vault URLs (url.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

/* ------------------------------------------------------------------ */
/* Splitting and decoding                                              */
/* ------------------------------------------------------------------ */

int astra__url_split(const char *url, astra__url_parts *out)
{
	memset(out, 0, sizeof(*out));
	const char *sep = strstr(url, "://");
	if (!sep)
		return 0;
	out->scheme = url;
	out->scheme_len = (size_t)(sep - url);
	const char *p = sep + 3;
	out->authority = p;
	out->authority_len = strcspn(p, "/?#");
	p += out->authority_len;
	out->path = p;
	const char *q = strchr(p, '?');
	out->path_len = q ? (size_t)(q - p) : strlen(p);
	out->query = q ? q + 1 : NULL;
	return 1;
}

char *astra__url_pct_decode(const char *s, size_t n)
{
	char *o = astra__malloc(n + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		        isxdigit((unsigned char)s[i + 1]) &&
		        isxdigit((unsigned char)s[i + 2])) {
			char hx[3] = { s[i + 1], s[i + 2], 0 };
			o[j++] = (char)strtol(hx, NULL, 16);
			i += 2;
		} else if (s[i] == '+') {
			o[j++] = ' ';
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	return o;
}

int astra__url_prefix(const char *url, const char *p, size_t n, char **out)
{
	astra_buf pre = ASTRA_BUF_INIT;
	int rc = 0;
	*out = NULL;
	for (const char *seg = p; !rc && seg < p + n;) {
		while (seg < p + n && *seg == '/')
			seg++;
		size_t sl = 0;
		while (seg + sl < p + n && seg[sl] != '/')
			sl++;
		if (!sl)
			break;
		if ((sl == 1 && seg[0] == '.') ||
		        (sl == 2 && seg[0] == '.' && seg[1] == '.') ||
		        memchr(seg, '#', sl))
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
			        "vault URL %s: invalid prefix", url);
		else {
			char *d = astra__url_pct_decode(seg, sl);
			rc = d ? astra__buf_printf(&pre, "%s/", d)
			       : ASTRA_ENOMEM;
			free(d);
		}
		seg += sl;
	}
	if (!rc) {
		*out = pre.ptr ? astra__buf_detach(&pre) : astra__strdup("");
		if (!*out)
			rc = ASTRA_ENOMEM;
	}
	astra_buf_dispose(&pre);
	return rc;
}

int astra__url_object(const char *url, const char *what, const char *example,
        char **authority, char **prefix, const char **query)
{
	*authority = *prefix = NULL;
	*query = NULL;
	astra__url_parts u;
	if (!astra__url_split(url, &u) || !u.authority_len)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: no %s (expected %s)", url, what,
		        example);
	int rc = astra__url_prefix(url, u.path, u.path_len, prefix);
	if (rc)
		return rc;
	*authority = astra__strndup(u.authority, u.authority_len);
	if (!*authority) {
		free(*prefix);
		*prefix = NULL;
		return ASTRA_ENOMEM;
	}
	*query = u.query;
	return 0;
}

int astra__url_named_object(const char *url, const char *what,
        const char *example, int (*valid)(const char *), const char *hint,
        char **authority, char **prefix, const char **query)
{
	int rc =
	        astra__url_object(url, what, example, authority, prefix, query);
	if (rc || valid(*authority))
		return rc;
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
	        "vault URL %s: \"%s\" is not a valid %s name%s", url,
	        *authority, what, hint);
}

char *astra__url_display(
        const char *scheme, const char *authority, const char *prefix)
{
	char *s = astra__aprintf("%s://%s/%s", scheme, authority, prefix);
	if (s && s[strlen(s) - 1] == '/')
		s[strlen(s) - 1] = '\0';
	return s;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

int astra__url_opt_next(const char **q, char **k, char **v)
{
	*k = *v = NULL;
	if (!*q || !**q)
		return 0;
	const char *s = *q;
	size_t len = strcspn(s, "&");
	const char *eq = memchr(s, '=', len);
	size_t kl = eq ? (size_t)(eq - s) : len;
	*k = astra__url_pct_decode(s, kl);
	*v = eq ? astra__url_pct_decode(eq + 1, len - kl - 1)
	        : astra__strdup("");
	*q = s[len] == '&' ? s + len + 1 : s + len;
	if (!*k || !*v) {
		free(*k);
		free(*v);
		*k = *v = NULL;
		return ASTRA_ENOMEM;
	}
	return 1;
}

int astra__url_opt_bool(const char *url, const char *k, const char *v, int *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v)
		*out = 1;
	else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
		*out = 0;
	else
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: option %s takes 0 or 1, not \"%s\"", url,
		        k, v);
	return 0;
}

int astra__url_opt_long(const char *url, const char *k, const char *v, long lo,
        long hi, long *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < lo || x > hi)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: option %s must be a number from %ld to "
		        "%ld, not \"%s\"",
		        url, k, lo, hi, v);
	*out = x;
	return 0;
}

const astra__url_opt *astra__url_opt_find(
        const astra__url_opt *opts, const char *k)
{
	for (; opts && opts->name; opts++)
		if (!strcmp(opts->name, k))
			return opts;
	return NULL;
}

/* "<k> must be a, b or c, not "<v>"" */
static int bad_choice(const char *url, const astra__url_opt *o, const char *v)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; !rc && o->choices[i]; i++)
		rc = astra__buf_printf(&b, "%s%s",
		        !i                  ? ""
		        : o->choices[i + 1] ? ", "
		                            : " or ",
		        o->choices[i]);
	if (!rc)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: %s must be %s, not \"%s\"", url, o->name,
		        b.ptr ? b.ptr : "", v);
	astra_buf_dispose(&b);
	return rc;
}

int astra__url_opt_set(const char *url, const astra__url_opt *opts,
        const char *k, char **v, void *dst)
{
	const astra__url_opt *o = astra__url_opt_find(opts, k);
	if (!o)
		return 0;
	char *field = (char *)dst + o->off;
	int rc = 0;
	switch (o->type) {
	case ASTRA__URL_OPT_STRING: {
		char **s = (char **)(void *)field;
		free(*s);
		*s = *v;
		*v = NULL;
		break;
	}
	case ASTRA__URL_OPT_AUTO_BOOL:
		if (!strcmp(*v, "auto")) {
			*(int *)(void *)field = -1;
			break;
		}
		/* fall through */
	case ASTRA__URL_OPT_BOOL:
		rc = astra__url_opt_bool(url, k, *v, (int *)(void *)field);
		break;
	case ASTRA__URL_OPT_LONG:
		rc = astra__url_opt_long(
		        url, k, *v, o->lo, o->hi, (long *)(void *)field);
		break;
	case ASTRA__URL_OPT_CHOICE: {
		size_t i = 0;
		while (o->choices[i] && strcmp(o->choices[i], *v))
			i++;
		if (!o->choices[i])
			rc = bad_choice(url, o, *v);
		else
			*(int *)(void *)field = (int)i;
		break;
	}
	}
	return rc ? rc : 1;
}

static int unknown(
        const char *url, const astra__url_opt_table *t, const char *k)
{
	astra_buf names = ASTRA_BUF_INIT;
	int rc = 0;
	for (const astra__url_opt *o = t->opts; !rc && o && o->name; o++)
		rc = astra__buf_printf(
		        &names, "%s%s", o == t->opts ? "" : ", ", o->name);
	if (!rc)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: unknown option \"%s\" (known: %s%s)",
		        url, k, names.ptr ? names.ptr : "",
		        t->note ? t->note : "");
	astra_buf_dispose(&names);
	return rc;
}

int astra__url_opts_parse(const char *url, const char *q,
        const astra__url_opt_table *t, void *dst)
{
	int rc = 0;
	char *k, *v;
	while (!rc && (rc = astra__url_opt_next(&q, &k, &v)) == 1) {
		rc = astra__url_opt_set(url, t->opts, k, &v, dst);
		if (rc == 0)
			rc = unknown(url, t, k);
		else if (rc == 1)
			rc = 0;
		free(k);
		free(v);
	}
	return rc;
}

void astra__url_opts_free(const astra__url_opt_table *t, void *dst)
{
	for (const astra__url_opt *o = t->opts; o && o->name; o++) {
		if (o->type != ASTRA__URL_OPT_STRING)
			continue;
		char **s = (char **)(void *)((char *)dst + o->off);
		free(*s);
		*s = NULL;
	}
}
