/*
 * Storing vault objects: retention (object lock) of what is put, and
 * sealed JSON objects. Calls only blob.c below it (docs/ARCHITECTURE.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/repo.h"

#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

/* ---- immutability ---- */

#define DAY 86400LL

int64_t astra__repo_until(const astra__repo *r)
{
	if (!r->lock_days)
		return 0;
	if (r->until_pin)
		return r->until_pin;
	return astra__wall_ns() / 1000000000LL + (int64_t)r->lock_days * DAY;
}

/* sessions/ and gc/ are rewritten and deleted while the vault runs; they
 * protect no data, so they are never locked. */
static int locked_key(const char *key)
{
	return strncmp(key, "sessions/", 9) != 0 && strncmp(key, "gc/", 3) != 0;
}

int astra__repo_put(astra__repo *r, const char *key, const void *data, size_t n,
        unsigned put_flags, int64_t until)
{
	astra__put_opts po;
	memset(&po, 0, sizeof(po));
	po.flags = put_flags;
	if (r->lock_days && locked_key(key)) {
		po.retain_until = until ? until : astra__repo_until(r);
		po.lock_mode = r->lock_mode;
	}
	return astra__store_put(r->store, key, data, n, &po);
}

int astra__repo_keep(astra__repo *r, const char *key, int64_t until)
{
	if (!until)
		return 0;
	astra__obj_info info;
	int rc = astra__store_head(r->store, key, &info);
	if (rc)
		return rc;
	if (info.retain_until >= until)
		return 0;
	astra__log_debug("extending the retention of %s from %lld to %lld", key,
	        (long long)info.retain_until, (long long)until);
	/* some slack, so that the next backups need no extension */
	int64_t slack = (int64_t)r->lock_days * DAY / 10;
	if (slack < 3600)
		slack = 3600;
	if (slack > 7 * DAY)
		slack = 7 * DAY;
	unsigned mode = info.lock_mode ? info.lock_mode : r->lock_mode;
	return astra__store_retain(r->store, key, until + slack, mode);
}

int astra__repo_put_json(astra__repo *r, const char *key, const astra__json *j,
        unsigned put_flags)
{
	astra_buf plain = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	int rc = astra__json_print_buf(&plain, j, 0);
	if (!rc)
		rc = astra__repo_seal(r, key, plain.ptr, plain.size, &sealed);
	if (!rc)
		rc = astra__repo_put(
		        r, key, sealed.ptr, sealed.size, put_flags, 0);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&sealed);
	return rc;
}

int astra__repo_get_json(astra__repo *r, const char *key, astra__json **out)
{
	astra_buf sealed = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
	*out = NULL;
	int rc = astra__store_get(r->store, key, 0, 0, &sealed);
	if (!rc)
		rc = astra__repo_open_sealed(
		        r, key, sealed.ptr, sealed.size, &plain, key);
	if (!rc)
		rc = astra__json_parse(out, plain.ptr, plain.size, key);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	return rc;
}
