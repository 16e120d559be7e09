/*
 * Vault creation and opening: the plaintext config and the params, the
 * handle's life, the change of secret, and verified blob reads (by id,
 * through the index). Key slots are in keys.c, sealed objects in
 * object.c and blob.c (docs/ARCHITECTURE.md gives the order of files).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "crypto/blake3.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/vec.h"
#include "repo/keys.h"
#include "repo/parse.h"

#define DEFAULT_MIN (128u << 10)
#define DEFAULT_AVG (512u << 10)
#define DEFAULT_MAX (8u << 20)
#define DEFAULT_PACK (16u << 20)
#define DEFAULT_LEVEL 3
#define MAX_LOCK_DAYS 36500

/* The params' "blob_id" names the algorithm; absent means the original
 * one. An unknown name is refused rather than guessed. */
static int blob_alg_parse(astra__repo *r, const char *name)
{
	if (!name || !strcmp(name, "hmac-sha256"))
		r->blob_alg = ASTRA_BLOB_ID_HMAC_SHA256;
	else if (!strcmp(name, "blake3-keyed"))
		r->blob_alg = ASTRA_BLOB_ID_BLAKE3_KEYED;
	else
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s: unknown blob id algorithm \"%.40s\" (this "
		        "version knows hmac-sha256 and blake3-keyed)",
		        r->store ? r->store->url : "", name);
	return 0;
}

void astra__repo_index_reset(astra__repo *r)
{
	pthread_rwlock_wrlock(&r->lock);
	astra__index_free(&r->index);
	astra__map_free(&r->index_files);
	size_t pos = 0;
	void *v;
	while (astra__map_next(&r->pack_files, &pos, NULL, &v))
		free(v);
	astra__map_free(&r->pack_files);
	r->index_loaded = 0;
	pthread_rwlock_unlock(&r->lock);
}

static int check_secret(const astra__repo_opts *o, const char *url)
{
	if (!o || !o->password || !o->password_len)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "vault %s: no password or key given", url);
	return 0;
}

static astra__repo *repo_new(void)
{
	astra__repo *r = astra__calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_rwlock_init(&r->lock, NULL);
	pthread_mutex_init(&r->load_mu, NULL);
	return r;
}

static int apply_params(
        astra__repo *r, const astra__json *params, const astra__repo_opts *o)
{
	int rc = blob_alg_parse(r, astra__json_str(params, "blob_id"));
	if (rc)
		return rc;
	const astra__json *ch = astra__json_get(params, "chunker");
	int64_t mn = astra__json_int(ch, "min", 0);
	int64_t av = astra__json_int(ch, "avg", 0);
	int64_t mx = astra__json_int(ch, "max", 0);
	if (mn <= 0 || av <= 0 || mx <= 0 || mx > (64 << 20))
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "vault parameters are invalid (chunker)");
	rc = astra__chunker_init(
	        &r->chunker, r->chunk_key, (size_t)mn, (size_t)av, (size_t)mx);
	if (rc)
		return rc;
	int64_t ps = astra__json_int(params, "pack_size", DEFAULT_PACK);
	if (ps < (1 << 20) || ps > (1LL << 31))
		ps = DEFAULT_PACK;
	r->pack_size = (size_t)ps;
	const astra__json *c = astra__json_get(params, "compression");
	r->level = (int)astra__json_int(c, "level", DEFAULT_LEVEL);
	if (o && o->compression_level)
		r->level = o->compression_level;
	r->threads = o && o->threads ? o->threads : astra__cpu_count();
	const astra__json *im = astra__json_get(params, "immutability");
	if (im) {
		int64_t days = astra__json_int(im, "days", 0);
		const char *mode = astra__json_str(im, "mode");
		if (days < 1 || days > MAX_LOCK_DAYS || !mode ||
		        (strcmp(mode, "compliance") &&
		                strcmp(mode, "governance")))
			return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "vault parameters are invalid (immutability)");
		r->lock_days = (unsigned)days;
		r->lock_mode = !strcmp(mode, "governance")
		                       ? ASTRA_STORE_LOCK_GOVERNANCE
		                       : ASTRA_STORE_LOCK_COMPLIANCE;
	}
	return 0;
}

/* An immutable vault needs a WORM bucket: refuses, naming what is missing. */
static int check_worm(astra__repo *r, const astra__repo_opts *o)
{
	if (o->immutable_days > MAX_LOCK_DAYS)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "vault %s: immutability of %u days is more than the "
		        "maximum of %d",
		        r->store->url, o->immutable_days, MAX_LOCK_DAYS);
	if (o->lock_mode && o->lock_mode != ASTRA_STORE_LOCK_COMPLIANCE &&
	        o->lock_mode != ASTRA_STORE_LOCK_GOVERNANCE)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "vault %s: unknown lock mode %u", r->store->url,
		        o->lock_mode);
	/* the backend knows what its buckets need besides object lock */
	if (!r->store->ops->worm_check)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s: immutability needs an object store with "
		        "object lock (%s); this store cannot lock objects",
		        r->store->url, astra__store_lock_schemes());
	return r->store->ops->worm_check(r->store, ASTRA_ERROR_REPO);
}

int astra__repo_init(
        astra__repo **out, const char *url, const astra__repo_opts *o)
{
	*out = NULL;
	int rc = check_secret(o, url);
	if (!rc)
		rc = astra__key_slot_check_kdf(o);
	if (rc)
		return rc;
	if (o->immutable_days && !astra__store_url_can_lock(url))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s: immutability needs an object store with "
		        "object lock (%s); this store cannot lock objects",
		        url, astra__store_lock_schemes());
	astra__store_opts so = { 0 };
	so.create = 1;
	astra__repo *r = repo_new();
	ASTRA_CHECK_ALLOC(r);
	uint8_t master[MASTER_LEN], vid[16];
	astra__json *cfg = NULL, *params = NULL, *ch = NULL, *cmp = NULL;
	astra_buf text = ASTRA_BUF_INIT, ptext = ASTRA_BUF_INIT;
	astra_buf sealed = ASTRA_BUF_INIT, sealed64 = ASTRA_BUF_INIT;
	char *aad = NULL;

	if ((rc = astra__store_open(&r->store, url, &so)))
		goto done;
	if (!(r->open_url = astra__strdup(url))) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if (o->immutable_days && (rc = check_worm(r, o)))
		goto done;
	astra__obj_info info;
	if (astra__store_head(r->store, "config", &info) == 0) {
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_REPO,
		        "vault %s already exists", r->store->url);
		goto done;
	}
	astra_error_clear();
	if ((rc = astra__random(master, sizeof(master))) ||
	        (rc = astra__random(vid, sizeof(vid))))
		goto done;
	astra__hex_encode(r->vault_id, vid, sizeof(vid));
	r->format = ASTRA_FORMAT_VERSION;
	if ((rc = astra__repo_derive_keys(r, master)))
		goto done;
	memcpy(r->master, master, MASTER_LEN);

	size_t mn = o->chunk_min ? o->chunk_min : DEFAULT_MIN;
	size_t av = o->chunk_avg ? o->chunk_avg : DEFAULT_AVG;
	size_t mx = o->chunk_max ? o->chunk_max : DEFAULT_MAX;
	params = astra__json_new_object();
	ch = astra__json_new_object();
	cmp = astra__json_new_object();
	if (!params || !ch || !cmp) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	astra__json_set_str(ch, "algorithm", "fastcdc-gear-keyed-v1");
	astra__json_set_int(ch, "min", (int64_t)mn);
	astra__json_set_int(ch, "avg", (int64_t)av);
	astra__json_set_int(ch, "max", (int64_t)mx);
	astra__json_set(params, "chunker", ch);
	ch = NULL;
	astra__json_set_str(cmp, "algorithm", "zstd");
	astra__json_set_int(cmp, "level",
	        o->compression_level ? o->compression_level : DEFAULT_LEVEL);
	astra__json_set(params, "compression", cmp);
	cmp = NULL;
	astra__json_set_int(params, "pack_size",
	        (int64_t)(o->pack_size ? o->pack_size : DEFAULT_PACK));
	astra__json_set_str(
	        params, "blob_id", o->blob_id ? o->blob_id : "blake3-keyed");
	astra__json_set_str(params, "encryption", "aes-256-gcm");
	if (o->immutable_days) {
		astra__json *im = astra__json_new_object();
		if (!im) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		astra__json_set_int(im, "days", o->immutable_days);
		astra__json_set_str(im, "mode",
		        o->lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
		                ? "governance"
		                : "compliance");
		astra__json_set(params, "immutability", im);
	}
	if ((rc = apply_params(r, params, o)))
		goto done;

	aad = astra__aprintf("astra config %s", r->vault_id);
	if (!aad) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if ((rc = astra__json_print_buf(&ptext, params, 0)) ||
	        (rc = astra__repo_seal(
	                 r, aad, ptext.ptr, ptext.size, &sealed)) ||
	        (rc = astra__base64_encode(&sealed64, sealed.ptr, sealed.size)))
		goto done;
	cfg = astra__json_new_object();
	if (!cfg) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	char when[24];
	astra__fmt_utc(when, astra__wall_ns() / 1000000000LL);
	astra__json_set_str(cfg, "magic", "astra-vault");
	astra__json_set_int(cfg, "format", ASTRA_FORMAT_VERSION);
	astra__json_set_str(cfg, "vault_id", r->vault_id);
	astra__json_set_str(cfg, "created", when);
	astra__json_set_str(cfg, "params", sealed64.ptr);
	char sid[33];
	if ((rc = astra__key_slot_write(r, o, master, 0, sid)))
		goto done;
	snprintf(r->slot_key, sizeof(r->slot_key), "keys/%s", sid);
	if ((rc = astra__json_print_buf(&text, cfg, 1)))
		goto done;
	rc = astra__repo_put(
	        r, "config", text.ptr, text.size, ASTRA_PUT_IF_ABSENT, 0);
	r->index_loaded = 1; /* a new vault has an empty index */
done:
	astra__wipe(master, sizeof(master));
	astra__json_free(cfg);
	astra__json_free(params);
	astra__json_free(ch);
	astra__json_free(cmp);
	astra_buf_dispose(&text);
	astra_buf_dispose(&ptext);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&sealed64);
	free(aad);
	if (rc) {
		astra__repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int astra__repo_open(
        astra__repo **out, const char *url, const astra__repo_opts *o)
{
	*out = NULL;
	int rc = check_secret(o, url);
	if (rc)
		return rc;
	astra__repo *r = repo_new();
	ASTRA_CHECK_ALLOC(r);
	astra_buf text = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	astra_buf plain = ASTRA_BUF_INIT;
	astra__json *cfg = NULL, *params = NULL;
	uint8_t master[MASTER_LEN];
	char *aad = NULL;

	if ((rc = astra__store_open(&r->store, url, NULL)))
		goto done;
	if (!(r->open_url = astra__strdup(url))) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	rc = astra__store_get(r->store, "config", 0, 0, &text);
	if (rc == ASTRA_ENOTFOUND) {
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "%s is not a vault (no config object); create one "
		        "with 'astractl vault init'",
		        r->store->url);
		goto done;
	}
	if (rc)
		goto done;
	if (astra__json_parse(&cfg, text.ptr, text.size, "config") != 0 ||
	        !astra__json_str(cfg, "magic") ||
	        strcmp(astra__json_str(cfg, "magic"), "astra-vault") != 0) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_REPO,
		        "%s is not a vault: its config object is not an astra "
		        "vault config",
		        r->store->url);
		goto done;
	}
	r->format = (int)astra__json_int(cfg, "format", 0);
	if (r->format < 1 || r->format > ASTRA_FORMAT_VERSION) {
		rc = astra__err(ASTRA_EVERSION, ASTRA_ERROR_REPO,
		        "vault %s has format version %d; this library reads "
		        "versions 1 to %d",
		        r->store->url, r->format, ASTRA_FORMAT_VERSION);
		goto done;
	}
	const char *vid = astra__json_str(cfg, "vault_id");
	if (!vid || strlen(vid) != 32) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "vault %s: config has no valid vault_id",
		        r->store->url);
		goto done;
	}
	memcpy(r->vault_id, vid, 33);

	astra__slot_tally tally;
	memset(&tally, 0, sizeof(tally));
	char found[80];
	rc = astra__key_slot_unlock(r, o, master, found, sizeof(found), &tally);
	if (rc < 0)
		goto done;
	if (rc == 0) {
		rc = astra__key_slot_unlock_failed(r, &tally);
		goto done;
	}
	rc = astra__repo_derive_keys(r, master);
	if (!rc)
		rc = astra__repo_load_epochs(r, master, tally.epoch);
	if (rc)
		goto done;
	memcpy(r->master, master, MASTER_LEN);
	snprintf(r->slot_key, sizeof(r->slot_key), "%s", found);
	const char *p64 = astra__json_str(cfg, "params");
	aad = astra__aprintf("astra config %s", r->vault_id);
	if (!p64 || !aad) {
		rc = p64 ? ASTRA_ENOMEM
		         : astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		                   "vault %s: config has no params",
		                   r->store->url);
		goto done;
	}
	if ((rc = astra__base64_decode(&sealed, p64, strlen(p64))) ||
	        (rc = astra__repo_open_sealed(r, aad, sealed.ptr, sealed.size,
	                 &plain, "config params")) ||
	        (rc = astra__json_parse(
	                 &params, plain.ptr, plain.size, "config params")) ||
	        (rc = apply_params(r, params, o)))
		goto done;
done:
	astra__wipe(master, sizeof(master));
	astra__json_free(cfg);
	astra__json_free(params);
	astra_buf_dispose(&text);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	free(aad);
	if (rc) {
		astra__repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int astra__repo_change_secret(astra__repo *r, const astra__repo_opts *newo)
{
	char sid[33];
	int rc = check_secret(newo, r->store->url);
	if (!rc)
		rc = astra__key_slot_check_kdf(newo);
	if (rc)
		return rc;
	/* the new slot is durable before the old one goes */
	if ((rc = astra__key_slot_write(
	             r, newo, r->master, (unsigned)r->n_old, sid)))
		return rc;
	char old[sizeof(r->slot_key)];
	snprintf(old, sizeof(old), "%s", r->slot_key);
	snprintf(r->slot_key, sizeof(r->slot_key), "keys/%s", sid);
	if (old[0] && (rc = astra__store_del(r->store, old))) {
		if (rc == ASTRA_EPOLICY)
			return astra__err_prefix(rc,
			        "the new secret is in place, but the old key "
			        "slot stays and still opens the vault until its "
			        "retention ends (immutable vault)");
		return rc;
	}
	return 0;
}

void astra__repo_free(astra__repo *r)
{
	if (!r)
		return;
	astra__store_free(r->store);
	free(r->open_url);
	astra__mac_free(r->mac);
	astra__aead_free(r->aead);
	r->aead = NULL;
	astra__repo_epochs_free(r);
	astra__repo_index_reset(r);
	pthread_rwlock_destroy(&r->lock);
	pthread_mutex_destroy(&r->load_mu);
	astra__wipe(r, sizeof(*r));
	free(r);
}

int astra__repo_read_blob(astra__repo *r, const astra__id *id, astra_buf *out)
{
	astra__idx_entry e;
	char hex[ASTRA_ID_HEX];
	int rc = astra__repo_lookup(r, id, &e);
	if (rc) {
		astra__id_hex(id, hex);
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "blob %s is missing from the vault index", hex);
	}
	pthread_rwlock_rdlock(&r->lock);
	astra__id pack = r->index.packs[e.pack].id;
	pthread_rwlock_unlock(&r->lock);
	char *key = astra__pack_key(&pack);
	if (!key)
		return ASTRA_ENOMEM;
	astra_buf sealed = ASTRA_BUF_INIT;
	rc = astra__store_get(r->store, key, e.offset, e.length, &sealed);
	if (!rc && sealed.size != e.length) {
		astra__id_hex(id, hex);
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "blob %s: short read, %zu of %u bytes at offset %u "
		        "(truncated pack?)",
		        hex, sealed.size, e.length, e.offset);
	}
	if (!rc)
		rc = astra__repo_decode_blob(r, &e, (uint8_t *)sealed.ptr, out);
	if (rc == ASTRA_ECORRUPT)
		astra__err_prefix(rc, "pack %s", key);
	astra_buf_dispose(&sealed);
	free(key);
	return rc;
}
