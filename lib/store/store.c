/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/store.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

int astra__store_open(
        astra__store **out, const char *url, const astra__store_opts *opts)
{
	static const astra__store_opts defaults = { 0 };
	*out = NULL;
	if (!url || !*url)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "no vault URL given");
	if (!opts)
		opts = &defaults;
	if (strncmp(url, "file://", 7) == 0) {
		const char *path = url + 7;
		if (strncmp(path, "localhost/", 10) == 0)
			path += 9;
		if (path[0] != '/')
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
			        "vault URL %s: a file:// URL needs an absolute "
			        "path (file:///dir)",
			        url);
		return astra__store_fs_open(out, path, opts);
	}
	if (strncmp(url, "s3://", 5) == 0)
		return astra__store_s3_open(out, url, opts);
	if (strncmp(url, "azure://", 8) == 0)
		return astra__store_azure_open(out, url, opts);
	if (strncmp(url, "gs://", 5) == 0)
		return astra__store_gcs_open(out, url, opts);
	if (url[0] == '/' || strncmp(url, "./", 2) == 0 ||
	        strncmp(url, "../", 3) == 0)
		return astra__store_fs_open(out, url, opts);
	const char *colon = strstr(url, "://");
	if (colon)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault URL %s: unsupported scheme \"%.*s\" (supported: "
		        "file://, s3://, azure://, gs://)",
		        url, (int)(colon - url), url);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
	        "vault URL %s: not a URL (expected file:///dir or "
	        "s3://bucket/prefix)",
	        url);
}

void astra__store_free(astra__store *s)
{
	if (s)
		s->ops->free(s);
}

static int ctx(int rc, astra__store *s, const char *key)
{
	if (rc < 0)
		return astra__err_prefix(rc, "vault %s: %s", s->url, key);
	return rc;
}

int astra__store_put(astra__store *s, const char *key, const void *data,
        size_t n, const astra__put_opts *opts)
{
	return ctx(s->ops->put(s, key, data, n, opts), s, key);
}

int astra__store_get(astra__store *s, const char *key, uint64_t off,
        uint64_t len, astra_buf *out)
{
	return ctx(s->ops->get(s, key, off, len, out), s, key);
}

int astra__store_head(astra__store *s, const char *key, astra__obj_info *info)
{
	return ctx(s->ops->head(s, key, info), s, key);
}

int astra__store_list(astra__store *s, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	return s->ops->list(s, prefix, cb, payload);
}

int astra__store_del(astra__store *s, const char *key)
{
	return ctx(s->ops->del(s, key), s, key);
}

int astra__store_retain(
        astra__store *s, const char *key, int64_t until, unsigned mode)
{
	if (!s->ops->retain || !(s->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault %s: %s: this store has no object lock", s->url,
		        key);
	return ctx(s->ops->retain(s, key, until, mode), s, key);
}

int astra__store_presign(astra__store *s, const char *method, const char *key,
        unsigned expires, char **out)
{
	*out = NULL;
	if (!s->ops->presign)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault %s: %s: this store cannot presign URLs", s->url,
		        key);
	return ctx(s->ops->presign(s, method, key, expires, out), s, key);
}

/* URL option helpers shared by the backends */

char *astra__store_pct_decode(const char *s, size_t n)
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

int astra__store_url_prefix(
        const char *url, const char *p, size_t n, char **out)
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
			char *d = astra__store_pct_decode(seg, sl);
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

int astra__store_opt_next(const char **q, char **k, char **v)
{
	*k = *v = NULL;
	if (!*q || !**q)
		return 0;
	const char *s = *q;
	size_t len = strcspn(s, "&");
	const char *eq = memchr(s, '=', len);
	size_t kl = eq ? (size_t)(eq - s) : len;
	*k = astra__store_pct_decode(s, kl);
	*v = eq ? astra__store_pct_decode(eq + 1, len - kl - 1)
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

int astra__store_opt_bool(
        const char *url, const char *k, const char *v, int *out)
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

int astra__store_opt_long(const char *url, const char *k, const char *v,
        long lo, long hi, long *out)
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
