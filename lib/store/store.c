/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

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
	if (url[0] == '/' || strncmp(url, "./", 2) == 0 ||
	        strncmp(url, "../", 3) == 0)
		return astra__store_fs_open(out, url, opts);
	const char *colon = strstr(url, "://");
	if (colon)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault URL %s: unsupported scheme \"%.*s\" (supported: "
		        "file://)",
		        url, (int)(colon - url), url);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
	        "vault URL %s: not a URL (expected file:///dir)", url);
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
