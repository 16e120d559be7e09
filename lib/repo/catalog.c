/*
 * The vault's named records above the data path: app-backup records
 * (`appbackups/<name>`, docs/backups.md), and what the layers above need
 * to know of the store behind a vault URL (so that they never include the
 * store's header).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/catalog.h"
#include "store/store.h"

const char *astra__repo_url(const astra__repo *r)
{
	return r->store->url;
}

const char *const *astra__repo_url_job_env(const char *url)
{
	return astra__store_url_job_env(url);
}

int astra__repo_url_local_dir(const char *url, char **out)
{
	return astra__store_url_local_dir(url, out);
}

int astra__appbackup_key(char *out, size_t n, const char *name)
{
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		            *p == '-' || *p == '.'))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "\"%s\" is not a valid backup name", name);
	snprintf(out, n, "appbackups/%s", name);
	return 0;
}

int astra__appbackup_load(astra__repo *r, const char *name, astra__json **rec,
        astra__json **manifests)
{
	char key[300];
	*rec = NULL;
	if (manifests)
		*manifests = NULL;
	int rc = astra__appbackup_key(key, sizeof(key), name);
	if (rc)
		return rc;
	rc = astra__repo_get_json(r, key, rec);
	if (rc == ASTRA_ENOTFOUND)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "backup %s is not in vault %s", name, r->store->url);
	if (rc)
		return rc;
	int64_t fmt = astra__json_int(*rec, "format", 0);
	if (fmt < 1 || fmt > ASTRA_APPBACKUP_FORMAT) {
		astra__json_free(*rec);
		*rec = NULL;
		return astra__err(ASTRA_EVERSION, ASTRA_ERROR_REPO,
		        "backup %s has record format %lld; this library reads "
		        "1 to %d",
		        name, (long long)fmt, ASTRA_APPBACKUP_FORMAT);
	}
	if (manifests) {
		astra__id id;
		astra_buf b = ASTRA_BUF_INIT;
		if (!r->index_loaded && (rc = astra__repo_load_index(r)))
			goto fail;
		rc = astra__id_parse(&id, astra__json_str(*rec, "manifests"));
		if (!rc)
			rc = astra__repo_read_blob(r, &id, &b);
		if (!rc)
			rc = astra__json_parse(manifests, b.ptr, b.size, name);
		astra_buf_dispose(&b);
	}
fail:
	if (rc) {
		astra__json_free(*rec);
		*rec = NULL;
	}
	return rc;
}

int astra__appbackup_exists(astra__repo *r, const char *name)
{
	char key[300];
	astra__obj_info info;
	return astra__appbackup_key(key, sizeof(key), name) == 0 &&
	       astra__store_head(r->store, key, &info) == 0;
}

typedef struct {
	astra__repo *r;
	astra__appbackup_cb cb;
	void *payload;
} list_ctx;

static int list_one(const astra__obj_info *info, void *payload)
{
	list_ctx *l = payload;
	astra__json *rec = NULL;
	if (astra__repo_get_json(l->r, info->key, &rec) != 0) {
		/* a listing shows what it can read; gc and check stop on
		 * an unreadable record instead */
		astra__log_warn("%s", astra_error_last()->message);
		return 0;
	}
	return l->cb(rec, l->payload);
}

int astra__appbackup_list(astra__repo *r, astra__appbackup_cb cb, void *payload)
{
	list_ctx l = { r, cb, payload };
	return astra__store_list(r->store, "appbackups/", list_one, &l);
}

int astra__appbackup_delete(astra__repo *r, const char *name)
{
	char key[300];
	int rc = astra__appbackup_key(key, sizeof(key), name);
	return rc ? rc : astra__store_del(r->store, key);
}
