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

/* ---- every sealed JSON object under a prefix ---- */

typedef struct {
	astra__repo *r;
	astra__json *items; /* array of {"key", ...record} */
	int64_t dead_before; /* sessions: unreadable and this old is dead */
	int skip_damaged; /* skip objects that do not authenticate or parse */
} collect_ctx;

static int collect_cb(const astra__obj_info *info, void *payload)
{
	collect_ctx *c = payload;
	astra__json *j = NULL;
	int rc = astra__repo_get_json(c->r, info->key, &j);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0; /* removed between the listing and the read */
	}
	if (rc && c->dead_before && info->mtime_ns &&
	        info->mtime_ns / 1000000000LL < c->dead_before) {
		/* a session nobody has rewritten for longer than the session
		 * timeout is dead whatever its content */
		astra__log_warn("%s is unreadable (%s) and was last written "
		                "%lld s ago: treated as dead",
		        info->key, astra_error_last()->message,
		        (long long)(astra__wall_ns() / 1000000000LL -
		                    info->mtime_ns / 1000000000LL));
		astra_error_clear();
		j = astra__json_new_object();
		if (!j)
			return ASTRA_ENOMEM;
		astra__json_set_int(
		        j, "heartbeat", info->mtime_ns / 1000000000LL);
		astra__json_set_bool(j, "unreadable", 1);
		rc = 0;
	}
	if ((rc == ASTRA_ECORRUPT || rc == ASTRA_EPARSE) && c->skip_damaged) {
		astra__log_warn("ignoring damaged %s: %s", info->key,
		        astra_error_last()->message);
		astra_error_clear();
		return 0;
	}
	if (rc) {
		/* never treat an unreadable record as absent: what it
		 * protects could be deleted */
		astra__err_prefix(rc,
		        "%s cannot be read, so gc stops and deletes nothing "
		        "(a transient error: run gc again; a damaged object: "
		        "see docs/format.md, \"Repair\")",
		        info->key);
		return rc;
	}
	astra__json_set_str(j, "key", info->key);
	return astra__json_push(c->items, j);
}

int astra__repo_collect(astra__repo *r, const char *prefix, int64_t dead_before,
        int skip_damaged, astra__json **out)
{
	collect_ctx c = { r, astra__json_new_array(), dead_before,
		skip_damaged };
	if (!c.items)
		return ASTRA_ENOMEM;
	int rc = astra__store_list(r->store, prefix, collect_cb, &c);
	if (rc < 0) {
		astra__json_free(c.items);
		return rc;
	}
	*out = c.items;
	return 0;
}
