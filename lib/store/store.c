/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

static const astra__store_backend *const backends[] = {
	&astra__store_fs_backend,
	&astra__store_s3_backend,
	&astra__store_azure_backend,
	&astra__store_gcs_backend,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const astra__store_backend *astra__store_backend_of(const char *url)
{
	for (size_t i = 0; url && i < NBACKENDS; i++) {
		const char *sc = backends[i]->scheme;
		if (!strncmp(url, sc, strlen(sc)))
			return backends[i];
	}
	return NULL;
}

int astra__store_url_can_lock(const char *url)
{
	const astra__store_backend *b = astra__store_backend_of(url);
	return b && b->ops->worm_check;
}

static char lock_schemes[64];
static pthread_once_t lock_schemes_once = PTHREAD_ONCE_INIT;

static void make_lock_schemes(void)
{
	size_t n = 0;
	for (size_t i = 0; i < NBACKENDS; i++) {
		if (!backends[i]->ops->worm_check)
			continue;
		int w = snprintf(lock_schemes + n, sizeof(lock_schemes) - n,
		        "%s%s", n ? ", " : "", backends[i]->scheme);
		if (w > 0 && (size_t)w < sizeof(lock_schemes) - n)
			n += (size_t)w;
	}
}

const char *astra__store_lock_schemes(void)
{
	pthread_once(&lock_schemes_once, make_lock_schemes);
	return lock_schemes;
}

const char *const *astra__store_url_job_env(const char *url)
{
	static const char *const none[] = { NULL };
	const astra__store_backend *b = astra__store_backend_of(url);
	return b && b->job_env ? b->job_env : none;
}

int astra__store_url_local_dir(const char *url, char **out)
{
	*out = NULL;
	const astra__store_backend *b = astra__store_backend_of(url);
	return b && b->local_dir ? b->local_dir(url, out) : 0;
}

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
	const astra__store_backend *b = astra__store_backend_of(url);
	if (b)
		return b->open(out, url, opts);
	if (url[0] == '/' || strncmp(url, "./", 2) == 0 ||
	        strncmp(url, "../", 3) == 0)
		return astra__store_fs_open(out, url, opts);
	const char *colon = strstr(url, "://");
	if (colon) {
		char names[128];
		size_t n = 0;
		for (size_t i = 0; i < NBACKENDS; i++) {
			int w = snprintf(names + n, sizeof(names) - n, "%s%s",
			        i ? ", " : "", backends[i]->scheme);
			if (w > 0 && (size_t)w < sizeof(names) - n)
				n += (size_t)w;
		}
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault URL %s: unsupported scheme \"%.*s\" "
		        "(supported: %s)",
		        url, (int)(colon - url), url, names);
	}
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

int astra__store_job_creds(astra__store *s, unsigned seconds, astra__json *env)
{
	if (!s->ops->job_creds)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "vault %s: this store cannot narrow credentials",
		        s->url);
	return s->ops->job_creds(s, seconds, env);
}
