/*
 * Rekey: a new key epoch (docs/format.md, "Key epochs"). A new master key
 * wrapped under the new secret, the small sealed objects rewritten under
 * its K_enc, every other key slot removed. Packs keep their key.
 * Calls blob.c, object.c, keys.c, index.c and repo.c below it
 * (docs/ARCHITECTURE.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "repo/keys.h"

int astra__rekey_fail_after;

static int step_done(int step)
{
	if (astra__rekey_fail_after == step)
		return astra__err(ASTRA_EIO, ASTRA_ERROR_REPO,
		        "rekey: failure injected after step %d (test)", step);
	return 0;
}

typedef struct {
	ASTRA_VEC(char *) v;
} key_list;

static int list_key(const astra__obj_info *info, void *payload)
{
	key_list *l = payload;
	char *k = astra__strdup(info->key);
	if (!k)
		return ASTRA_ENOMEM;
	int rc = astra_vec_push(&l->v, k);
	if (rc)
		free(k);
	return rc;
}

static void key_list_free(key_list *l)
{
	for (size_t i = 0; i < l->v.n; i++)
		free(l->v.v[i]);
	astra_vec_free(&l->v);
}

static int list_prefix(astra__repo *r, const char *prefix, key_list *l)
{
	int rc = astra__store_list(r->store, prefix, list_key, l);
	return rc < 0 ? rc : 0;
}

/* The epoch object of `master`: every earlier master, oldest first,
 * sealed under master's K_enc (r->aead must be master's). */
static int write_epoch_object(astra__repo *r, const uint8_t *masters, size_t n,
        const uint8_t master[MASTER_LEN])
{
	char key[48];
	astra__json *j = astra__json_new_object();
	astra__json *arr = astra__json_new_array();
	astra_buf plain = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	int rc = (!j || !arr) ? ASTRA_ENOMEM : astra__epoch_key(master, key);
	for (size_t i = 0; !rc && i < n; i++) {
		astra_buf b = ASTRA_BUF_INIT;
		rc = astra__base64_encode(
		        &b, masters + i * MASTER_LEN, MASTER_LEN);
		if (!rc) {
			astra__json *s = astra__json_new_string(b.ptr);
			rc = s ? astra__json_push(arr, s) : ASTRA_ENOMEM;
		}
		if (b.ptr)
			astra__wipe(b.ptr, b.size);
		astra_buf_dispose(&b);
	}
	if (!rc)
		rc = astra__json_set_int(j, "epoch", (int64_t)n);
	if (!rc) {
		rc = astra__json_set(j, "masters", arr);
		arr = NULL;
	}
	if (!rc)
		rc = astra__json_print_buf(&plain, j, 0);
	if (!rc)
		rc = astra__repo_seal(r, key, plain.ptr, plain.size, &sealed);
	if (!rc)
		rc = astra__repo_put(r, key, sealed.ptr, sealed.size, 0, 0);
	if (plain.ptr)
		astra__wipe(plain.ptr, plain.size);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&sealed);
	astra__json_free(arr);
	astra__json_free(j);
	return rc;
}

/* Re-seals object `key` (sealed with additional data = its key) under the
 * current K_enc: in place, or for index files under a new random name and
 * the old one then deleted. */
static int reseal(astra__repo *r, const char *key, int is_index)
{
	astra_buf sealed = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
	astra_buf out = ASTRA_BUF_INIT;
	char *nkey = NULL;
	int rc = astra__store_get(r->store, key, 0, 0, &sealed);
	if (rc == ASTRA_ENOTFOUND) { /* deleted since the listing */
		astra_error_clear();
		return 0;
	}
	if (!rc)
		rc = astra__repo_open_sealed(
		        r, key, sealed.ptr, sealed.size, &plain, key);
	if (rc == ASTRA_ECORRUPT) {
		/* no key of the vault opens it: nothing readable to protect;
		 * it stays as it is (check and repair report it) */
		astra__log_warn("rekey: leaving %s as it is: %s", key,
		        astra_error_last()->message);
		astra_error_clear();
		rc = 0;
		goto done;
	}
	if (!rc && is_index) {
		uint8_t id[32];
		char hex[65];
		if ((rc = astra__random(id, sizeof(id))))
			goto done;
		astra__hex_encode(hex, id, sizeof(id));
		nkey = astra__aprintf("index/%s", hex);
		if (!nkey)
			rc = ASTRA_ENOMEM;
	}
	if (!rc)
		rc = astra__repo_seal(
		        r, nkey ? nkey : key, plain.ptr, plain.size, &out);
	if (!rc)
		rc = astra__repo_put(r, nkey ? nkey : key, out.ptr, out.size,
		        nkey ? ASTRA_PUT_IF_ABSENT : 0, 0);
	/* the copy is durable before the original goes */
	if (!rc && nkey)
		rc = astra__store_del(r->store, key);
	if (rc)
		astra__err_prefix(rc, "rekey: %s", key);
done:
	astra_buf_dispose(&sealed);
	if (plain.ptr)
		astra__wipe(plain.ptr, plain.size);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&out);
	free(nkey);
	return rc;
}

/* The sealed objects rewritten under the new epoch's key (docs/format.md,
 * "Key epochs"). Packs and sessions/ are not. */
static const struct {
	const char *prefix;
	int is_index;
} resealed[] = {
	{ "snapshots/", 0 },
	{ "appbackups/", 0 },
	{ "repairs/", 0 },
	{ "gc/", 0 },
	{ "index/", 1 },
};

int astra__repo_rekey(astra__repo *r, const astra__repo_opts *newo)
{
	uint8_t master[MASTER_LEN];
	uint8_t *masters = NULL;
	size_t n = r->n_old + 1;
	char sid[33], epoch_key[48], keep[80];
	key_list l = { ASTRA_VEC_INIT };
	int rc, switched = 0, slot_written = 0;

	if (r->lock_days)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s is immutable: a rekey would have to rewrite "
		        "and delete objects under retention; change the "
		        "password without rekey",
		        r->store->url);
	if (n > ASTRA_MAX_KEY_EPOCHS)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s already has %zu key epochs, the most a "
		        "reader accepts (%d)",
		        r->store->url, r->n_old + 1, ASTRA_MAX_KEY_EPOCHS);
	/* the new secret is checked before anything is written */
	if (!newo->password || !newo->password_len)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "no new password or key given");
	if ((rc = astra__key_slot_check_kdf(newo)))
		return rc;
	if (!(masters = astra__calloc(n, MASTER_LEN)))
		return ASTRA_ENOMEM;
	if (r->n_old)
		memcpy(masters, r->old_masters, r->n_old * MASTER_LEN);
	memcpy(masters + r->n_old * MASTER_LEN, r->master, MASTER_LEN);
	if ((rc = astra__random(master, sizeof(master))))
		goto done;

	/* 1. the new epoch's K_enc becomes r's; the old ones read what is
	 * not yet rewritten. Then its epoch object. */
	switched = 1;
	if ((rc = astra__repo_set_epochs(r, masters, n)) ||
	        (rc = astra__repo_derive_keys(r, master)) ||
	        (rc = astra__epoch_key(master, epoch_key)))
		goto done;
	memcpy(r->master, master, MASTER_LEN);
	if ((rc = write_epoch_object(r, masters, n, master)) ||
	        (rc = step_done(1)))
		goto done;

	/* 2. the new slot: from here on the new secret opens everything */
	if ((rc = astra__key_slot_write(r, newo, master, (unsigned)n, sid)))
		goto done;
	slot_written = 1;
	snprintf(keep, sizeof(keep), "keys/%s", sid);
	snprintf(r->slot_key, sizeof(r->slot_key), "%s", keep);
	if ((rc = step_done(2)))
		goto done;

	/* 3. the small sealed objects under the new key */
	int first = 1;
	for (size_t p = 0; p < sizeof(resealed) / sizeof(resealed[0]); p++) {
		key_list objs = { ASTRA_VEC_INIT };
		rc = list_prefix(r, resealed[p].prefix, &objs);
		for (size_t i = 0; !rc && i < objs.v.n; i++) {
			rc = reseal(r, objs.v.v[i], resealed[p].is_index);
			if (!rc && first) {
				first = 0;
				rc = step_done(3);
			}
		}
		key_list_free(&objs);
		if (rc)
			goto done;
	}
	astra__repo_index_reset(r); /* the index files have new names */
	if ((rc = step_done(4)))
		goto done;

	/* 4. every other key slot, then the earlier epoch objects */
	if ((rc = list_prefix(r, "keys/", &l)))
		goto done;
	int deleted = 0;
	for (size_t i = 0; !rc && i < l.v.n; i++) {
		if (!strcmp(l.v.v[i], keep))
			continue;
		rc = astra__store_del(r->store, l.v.v[i]);
		if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			rc = 0;
		} else if (rc)
			astra__err_prefix(rc,
			        "rekey: the new key epoch is in place, but the "
			        "old key slot %s could not be deleted (run the "
			        "rekey again with the new secret)",
			        l.v.v[i]);
		else if (!deleted++)
			rc = step_done(5);
	}
	key_list_free(&l);
	if (rc || (rc = list_prefix(r, "epochs/", &l)))
		goto done;
	for (size_t i = 0; !rc && i < l.v.n; i++) {
		if (!strcmp(l.v.v[i], epoch_key))
			continue;
		rc = astra__store_del(r->store, l.v.v[i]);
		if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			rc = 0;
		}
	}
	if (!rc)
		astra__log_info(
		        "vault %s: rekeyed to key epoch %zu", r->store->url, n);
done:
	if (rc && switched && !slot_written) {
		/* no slot opens the new key yet: the handle goes back to the
		 * old one, so that it never writes what nobody can read */
		int prc = astra__repo_set_epochs(r, masters, n - 1);
		if (!prc)
			prc = astra__repo_derive_keys(
			        r, masters + (n - 1) * MASTER_LEN);
		if (!prc)
			memcpy(r->master, masters + (n - 1) * MASTER_LEN,
			        MASTER_LEN);
		else
			astra__log_error("rekey: the handle could not return "
			                 "to the old key; close it");
	}
	key_list_free(&l);
	astra__wipe(master, sizeof(master));
	astra__wipe(masters, n * MASTER_LEN);
	free(masters);
	return rc;
}
