/*
 * The public vault API (include/astra/vault.h) over lib/repo.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/vault.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "repo/data.h"
#include "repo/tree.h"

#include "repo/vault_internal.h"

_Static_assert(
        ASTRA_VAULT_LOCK_COMPLIANCE == ASTRA_STORE_LOCK_COMPLIANCE &&
                ASTRA_VAULT_LOCK_GOVERNANCE == ASTRA_STORE_LOCK_GOVERNANCE,
        "lock modes of the API and the store agree");

astra_status astra_vault_options_init(
        astra_vault_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_vault_options, VAULT, o, version,
	        offsetof(astra_vault_options, immutable_days),
	        offsetof(astra_vault_options, kdf_p), sizeof(defaults));
}

astra_status astra_data_backup_options_init(
        astra_data_backup_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_data_backup_options, DATA_BACKUP, o,
	        version, sizeof(defaults));
}

astra_status astra_data_restore_options_init(
        astra_data_restore_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_data_restore_options, DATA_RESTORE, o,
	        version, sizeof(defaults));
}

astra_status astra_check_options_init(
        astra_check_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_check_options, CHECK, o, version, sizeof(defaults));
}

astra_status astra_gc_options_init(astra_gc_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_gc_options, GC, o, version, sizeof(defaults));
}

/* Reads the secret from the options into repo options (caller wipes). */
static int secret_of(
        const astra_vault_options *o, astra__repo_opts *ro, char **owned)
{
	*owned = NULL;
	if (!o)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "no vault options: a password or key is required");
	int rc = astra__check_version(
	        o->version, ASTRA_VAULT_OPTIONS_VERSION, "astra_vault_options");
	if (rc)
		return rc;
	memset(ro, 0, sizeof(*ro));
	ro->keyfile = (o->flags & ASTRA_VAULT_F_KEY_FILE) != 0;
	ro->kdf_log2n = o->kdf_log2n;
	ro->compression_level = o->compression_level;
	ro->chunk_min = o->chunk_min;
	ro->chunk_avg = o->chunk_avg;
	ro->chunk_max = o->chunk_max;
	ro->pack_size = o->pack_size;
	ro->threads = o->threads;
	if (o->version >= 2) {
		ro->immutable_days = o->immutable_days;
		ro->lock_mode = o->lock_mode;
		if (o->lock_mode > ASTRA_VAULT_LOCK_GOVERNANCE)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "astra_vault_options: unknown lock_mode %u",
			        o->lock_mode);
	}
	if (o->version >= 3)
		ro->kdf_p = o->kdf_p;
	if (o->password) {
		ro->password = o->password;
		ro->password_len = strlen(o->password);
		return 0;
	}
	if (!o->password_file)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "no password or key given (password or "
		        "password_file)");
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra__file_read(
	        &b, o->password_file, (size_t)1 << 20, ASTRA_FILE_SECRET);
	if (rc)
		astra__err_prefix(rc, "password file");
	if (!rc && !ro->keyfile)
		while (b.size && (b.ptr[b.size - 1] == '\n' ||
		                         b.ptr[b.size - 1] == '\r'))
			b.ptr[--b.size] = '\0';
	if (!rc && b.size == 0)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "password file %s is empty", o->password_file);
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	ro->password_len = b.size;
	*owned = astra__buf_detach(&b);
	ro->password = *owned;
	return 0;
}

static int open_or_init(astra_vault **out, const char *url,
        const astra_vault_options *o, int create)
{
	ASTRA_ASSERT_ARG(out);
	ASTRA_ASSERT_ARG(url);
	*out = NULL;
	astra__repo_opts ro;
	char *owned = NULL;
	int rc = secret_of(o, &ro, &owned);
	if (rc)
		return rc;
	astra_vault *v = astra__calloc(1, sizeof(*v));
	if (!v) {
		astra__free_secret_str(owned);
		return ASTRA_ENOMEM;
	}
	rc = create ? astra__repo_init(&v->r, url, &ro)
	            : astra__repo_open(&v->r, url, &ro);
	if (owned)
		astra__free_secret(owned, ro.password_len);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

astra_status astra_vault_init(
        astra_vault **out, const char *url, const astra_vault_options *o)
{
	return open_or_init(out, url, o, 1);
}

astra_status astra_vault_open(
        astra_vault **out, const char *url, const astra_vault_options *o)
{
	return open_or_init(out, url, o, 0);
}

void astra_vault_free(astra_vault *v)
{
	if (!v)
		return;
	astra__repo_free(v->r);
	free(v);
}

astra_status astra_vault_change_password(
        astra_vault *v, const astra_vault_options *o)
{
	ASTRA_ASSERT_ARG(v);
	astra__repo_opts ro;
	char *owned = NULL;
	int rc = secret_of(o, &ro, &owned);
	if (rc)
		return rc;
	rc = (o->flags & ASTRA_VAULT_F_REKEY)
	             ? astra__repo_rekey(v->r, &ro)
	             : astra__repo_change_secret(v->r, &ro);
	if (owned)
		astra__free_secret(owned, ro.password_len);
	return rc;
}

static int json_out(astra__json *j, astra_buf *out)
{
	int rc = astra__json_print_buf(out, j, 1);
	astra__json_free(j);
	return rc;
}

typedef struct {
	uint64_t count, bytes;
} counter;

static int count_cb(const astra__obj_info *info, void *payload)
{
	counter *c = payload;
	c->count++;
	c->bytes += info->size;
	return 0;
}

astra_status astra_vault_info(astra_vault *v, astra_buf *out)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(out);
	astra__repo *r = v->r;
	int rc = 0;
	if (!r->index_loaded && (rc = astra__repo_load_index(r)))
		return rc;
	counter packs = { 0, 0 }, snaps = { 0, 0 }, idx = { 0, 0 };
	if ((rc = astra__store_list(r->store, "data/", count_cb, &packs)) < 0 ||
	        (rc = astra__store_list(
	                 r->store, "snapshots/", count_cb, &snaps)) < 0 ||
	        (rc = astra__store_list(r->store, "index/", count_cb, &idx)) <
	                0)
		return rc;
	astra__json *j = astra__json_new_object();
	astra__json *ch = astra__json_new_object();
	if (!j || !ch) {
		astra__json_free(j);
		astra__json_free(ch);
		return ASTRA_ENOMEM;
	}
	astra__json_set_str(j, "url", r->store->url);
	astra__json_set_str(j, "vault_id", r->vault_id);
	astra__json_set_int(j, "format", r->format);
	astra__json_set_int(ch, "min", (int64_t)r->chunker.min);
	astra__json_set_int(ch, "avg", (int64_t)r->chunker.avg);
	astra__json_set_int(ch, "max", (int64_t)r->chunker.max);
	astra__json_set(j, "chunker", ch);
	astra__json_set_str(j, "compression", "zstd");
	astra__json_set_int(j, "compression_level", r->level);
	astra__json_set_str(j, "encryption", "aes-256-gcm");
	astra__json_set_str(j, "blob_id", astra__repo_blob_id_name(r));
	astra__json_set_int(j, "key_epoch", (int64_t)r->n_old);
	astra__json_set_int(j, "pack_size", (int64_t)r->pack_size);
	astra__json_set_int(j, "snapshots", (int64_t)snaps.count);
	astra__json_set_int(j, "packs", (int64_t)packs.count);
	astra__json_set_int(j, "index_files", (int64_t)idx.count);
	astra__json_set_int(j, "blobs", (int64_t)r->index.n);
	astra__json_set_int(j, "stored_bytes",
	        (int64_t)(packs.bytes + snaps.bytes + idx.bytes));
	if (r->lock_days) {
		astra__json *im = astra__json_new_object();
		if (im) {
			astra__json_set_int(im, "days", r->lock_days);
			astra__json_set_str(im, "mode",
			        r->lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
			                ? "governance"
			                : "compliance");
			astra__json_set(j, "immutability", im);
		}
	}
	return json_out(j, out);
}

astra_status astra_vault_backup_path(astra_vault *v, const char *path,
        const astra_data_backup_options *o, astra_data_backup_result *res)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(path);
	astra__backup_params p = { 0 };
	int rc;
	if (o) {
		if ((rc = astra__check_version(o->version,
		             ASTRA_DATA_BACKUP_OPTIONS_VERSION,
		             "astra_data_backup_options")))
			return rc;
		p.tags = o->tags;
		p.ntags = o->ntags;
		p.parent = o->parent;
		p.source = o->source;
		p.flags = o->flags;
		p.progress_cb = o->progress_cb;
		p.payload = o->payload;
		p.cancel = o->cancel;
	}
	if (res && (rc = astra__check_version(res->version,
	                    ASTRA_DATA_BACKUP_RESULT_VERSION,
	                    "astra_data_backup_result")))
		return rc;
	astra__backup_out bo;
	memset(&bo, 0, sizeof(bo));
	rc = astra__data_backup(v->r, path, &p, &bo);
	if (res) {
		memcpy(res->id, bo.id, sizeof(res->id));
		res->files = bo.files;
		res->dirs = bo.dirs;
		res->files_unchanged = bo.unchanged;
		res->bytes_total = bo.bytes_total;
		res->bytes_read = bo.bytes_read;
		res->bytes_new = bo.bytes_new;
		res->bytes_stored = bo.bytes_stored;
		res->errors = bo.errors;
		res->duration_s = bo.duration_s;
	}
	return rc;
}

astra_status astra_vault_restore_path(astra_vault *v, const char *id,
        const char *target, const astra_data_restore_options *o,
        astra_data_restore_result *res, astra_buf *report)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(id);
	ASTRA_ASSERT_ARG(target);
	astra__restore_params p = { 0 };
	int rc;
	if (o) {
		if ((rc = astra__check_version(o->version,
		             ASTRA_DATA_RESTORE_OPTIONS_VERSION,
		             "astra_data_restore_options")))
			return rc;
		p.subpath = o->subpath;
		p.flags = o->flags;
		p.progress_cb = o->progress_cb;
		p.payload = o->payload;
		p.cancel = o->cancel;
	}
	if (res && (rc = astra__check_version(res->version,
	                    ASTRA_DATA_RESTORE_RESULT_VERSION,
	                    "astra_data_restore_result")))
		return rc;
	astra__restore_out ro;
	memset(&ro, 0, sizeof(ro));
	rc = astra__data_restore(v->r, id, target, &p, &ro);
	if (res) {
		res->files = ro.files;
		res->dirs = ro.dirs;
		res->bytes = ro.bytes;
		res->errors = ro.errors;
		res->duration_s = ro.duration_s;
	}
	if (report && ro.report) {
		/* keep the operation's error message across serialisation */
		astra__saved_err e;
		astra__err_save(&e);
		int r2 = astra__json_print_buf(report, ro.report, 1);
		if (r2 && !rc)
			rc = r2;
		else if (rc)
			astra__err_restore(&e);
	}
	astra__json_free(ro.report);
	return rc;
}

astra_status astra_vault_snapshots(astra_vault *v, astra_buf *out)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(out);
	astra__json *list = NULL;
	int rc = astra__snapshot_list(v->r, &list);
	if (rc)
		return rc;
	return json_out(list, out);
}

astra_status astra_vault_forget(astra_vault *v, const char *id)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(id);
	astra__json *rec = NULL;
	char full[33];
	int rc = astra__snapshot_load(v->r, id, &rec, full);
	astra__json_free(rec);
	if (rc)
		return rc;
	rc = astra__snapshot_delete(v->r, full);
	if (rc == ASTRA_EPOLICY)
		astra__err_prefix(
		        rc, "snapshot %s cannot be forgotten yet", full);
	return rc;
}

astra_status astra_vault_check(
        astra_vault *v, const astra_check_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(v);
	astra__op op;
	int rc;
	if (o && (rc = astra__check_version(o->version,
	                  ASTRA_CHECK_OPTIONS_VERSION, "astra_check_options")))
		return rc;
	astra__op_init(&op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o ? o->cancel : NULL);
	op.p.stage = ASTRA_STAGE_CHECKING;
	astra__json *rep = NULL;
	rc = astra__data_check(
	        v->r, o && (o->flags & ASTRA_CHECK_F_READ_DATA), &op, &rep);
	if (rep && report) {
		astra__saved_err e;
		astra__err_save(&e);
		int r2 = astra__json_print_buf(report, rep, 1);
		if (r2 && !rc)
			rc = r2;
		else if (rc)
			astra__err_restore(&e);
	}
	astra__json_free(rep);
	return rc;
}

astra_status astra_vault_gc(
        astra_vault *v, const astra_gc_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(v);
	astra_gc_options defaults;
	int rc;
	if (!o) {
		astra_gc_options_init(&defaults, ASTRA_GC_OPTIONS_VERSION);
		o = &defaults;
	} else if ((rc = astra__check_version(o->version,
	                    ASTRA_GC_OPTIONS_VERSION, "astra_gc_options"))) {
		return rc;
	}
	if (o->grace_seconds < 0 || o->repack_threshold > 100)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "gc options: grace_seconds must be >= 0 and "
		        "repack_threshold 0..100");
	astra__op op;
	astra__op_init(&op, o->progress_cb, o->payload, o->cancel);
	astra__gc_params p = { (o->flags & ASTRA_GC_F_DRY_RUN) != 0,
		o->grace_seconds, o->repack_threshold, 3600 };
	if (p.session_timeout_seconds < p.grace_seconds)
		p.session_timeout_seconds = p.grace_seconds;
	astra__json *rep = NULL;
	rc = astra__data_gc(v->r, &p, &op, &rep);
	if (!rc && report)
		rc = astra__json_print_buf(report, rep, 1);
	astra__json_free(rep);
	return rc;
}
