/*
 * Vault creation and opening: the plaintext config, key slots, subkeys,
 * sealed objects and verified blob reads.
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
#include "repo/parse.h"

/* New key slots: scrypt N = 2^16, r = 8, p = 2: the work of N = 2^17,
 * p = 1 in two 64 MiB lanes computed in parallel (docs/format.md). */
#define DEFAULT_LOG2N 16
#define DEFAULT_KDF_R 8
#define DEFAULT_KDF_P 2
#define DEFAULT_MIN (128u << 10)
#define DEFAULT_AVG (512u << 10)
#define DEFAULT_MAX (8u << 20)
#define DEFAULT_PACK (16u << 20)
#define DEFAULT_LEVEL 3
#define MASTER_LEN 64
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

static int derive_keys(astra__repo *r, const uint8_t master[MASTER_LEN])
{
	int rc = astra__hkdf_sha256(r->enc_key, 32, master, MASTER_LEN, NULL, 0,
	        "astra vault encryption v1");
	if (!rc)
		rc = astra__hkdf_sha256(r->mac_key, 32, master, MASTER_LEN,
		        NULL, 0, "astra vault blob id v1");
	if (!rc)
		rc = astra__hkdf_sha256(r->chunk_key, 32, master, MASTER_LEN,
		        NULL, 0, "astra vault chunker v1");
	if (!rc)
		rc = astra__mac_new(&r->mac, r->mac_key, 32);
	if (!rc)
		rc = astra__aead_new(&r->aead, r->enc_key);
	return rc;
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

/* ---- key slots ---- */

/* A JSON integer field: -1 when absent or not an integer. */
static int64_t slot_int(const astra__json *slot, const char *field)
{
	const astra__json *v = astra__json_get(slot, field);
	if (astra__json_type_of(v) != ASTRA_JSON_NUMBER)
		return -1;
	double d = astra__json_number_value(v);
	if (!(d >= 0 && d < 1e9) || d != (double)(int64_t)d)
		return -1;
	return (int64_t)d;
}

void astra__key_slot_dispose(astra__key_slot *s)
{
	astra_buf_dispose(&s->salt);
	astra_buf_dispose(&s->wrapped);
	memset(s, 0, sizeof(*s));
}

int astra__key_slot_parse(const char *key, const char *text, size_t n,
        astra__key_slot *out, int *why)
{
	astra__json *slot = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	*why = ASTRA_SLOT_MALFORMED;
	if (n > ASTRA_KEY_SLOT_MAX_BYTES)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key slot %s is malformed: %zu bytes, more than a key "
		        "slot's %d",
		        key, n, ASTRA_KEY_SLOT_MAX_BYTES);
	if (astra__json_parse(&slot, text, n, key) != 0)
		return astra__err_prefix(
		        ASTRA_ECORRUPT, "key slot %s is malformed", key);
	const char *kdf = astra__json_str(slot, "kdf");
	const char *salt64 = astra__json_str(slot, "salt");
	const char *w64 = astra__json_str(slot, "wrapped_key");
	if (astra__json_type_of(slot) != ASTRA_JSON_OBJECT || !kdf || !salt64 ||
	        !w64) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key slot %s is malformed: it needs the strings kdf, "
		        "salt and wrapped_key",
		        key);
		goto done;
	}
	if (astra__base64_decode(&out->salt, salt64, strlen(salt64)) ||
	        out->salt.size == 0 || out->salt.size > 1024) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key slot %s is malformed: salt is not base64 of 1 to "
		        "1024 bytes",
		        key);
		goto done;
	}
	if (astra__base64_decode(&out->wrapped, w64, strlen(w64)) ||
	        out->wrapped.size != MASTER_LEN + ASTRA_AEAD_OVERHEAD) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key slot %s is malformed: wrapped_key is not base64 "
		        "of %d bytes",
		        key, MASTER_LEN + ASTRA_AEAD_OVERHEAD);
		goto done;
	}
	if (strcmp(kdf, "scrypt") == 0) {
		int64_t log2n = slot_int(slot, "log2n");
		int64_t rr = slot_int(slot, "r");
		int64_t p = slot_int(slot, "p");
		char what[96];
		snprintf(what, sizeof(what), "key slot %s", key);
		if ((rc = astra__scrypt_check_slot(what, log2n, rr, p))) {
			*why = ASTRA_SLOT_OUT_OF_RANGE;
			goto done;
		}
		out->kdf = ASTRA_SLOT_KDF_SCRYPT;
		out->log2n = (unsigned)log2n;
		out->r = (unsigned)rr;
		out->p = (unsigned)p;
		out->work = astra__scrypt_work(out->log2n, out->r, out->p);
	} else if (strcmp(kdf, "hkdf-sha256") == 0) {
		out->kdf = ASTRA_SLOT_KDF_HKDF;
	} else {
		*why = ASTRA_SLOT_UNKNOWN_KDF;
		rc = astra__err(ASTRA_EVERSION, ASTRA_ERROR_REPO,
		        "key slot %s uses an unknown kdf \"%.40s\"", key, kdf);
		goto done;
	}
	*why = 0;
	rc = 0;
done:
	astra__json_free(slot);
	return rc;
}

/* The key-encryption key of a parsed slot. */
static int kek_for(
        const astra__repo_opts *o, const astra__key_slot *s, uint8_t kek[32])
{
	if (s->kdf == ASTRA_SLOT_KDF_SCRYPT)
		return astra__scrypt(kek, 32, o->password, o->password_len,
		        s->salt.ptr, s->salt.size, s->log2n, s->r, s->p);
	return astra__hkdf_sha256(kek, 32, o->password, o->password_len,
	        s->salt.ptr, s->salt.size, "astra key file v1");
}

static int write_slot(astra__repo *r, const astra__repo_opts *o,
        const uint8_t master[MASTER_LEN], char slot_id_out[33])
{
	uint8_t salt[32], sid[16], kek[32];
	char sidhex[33];
	astra_buf salt64 = ASTRA_BUF_INIT, wrapped = ASTRA_BUF_INIT;
	astra_buf wrapped64 = ASTRA_BUF_INIT, text = ASTRA_BUF_INIT;
	astra__json *slot = NULL;
	char *key = NULL, *aad = NULL;
	int rc;
	unsigned log2n = o->kdf_log2n ? o->kdf_log2n : DEFAULT_LOG2N;
	unsigned kdf_p = o->kdf_p ? o->kdf_p : DEFAULT_KDF_P;

	if ((rc = astra__random(salt, sizeof(salt))) ||
	        (rc = astra__random(sid, sizeof(sid))))
		return rc;
	astra__hex_encode(sidhex, sid, sizeof(sid));
	slot = astra__json_new_object();
	if (!slot)
		return ASTRA_ENOMEM;
	rc = astra__base64_encode(&salt64, salt, sizeof(salt));
	if (!rc)
		rc = astra__json_set_str(
		        slot, "kdf", o->keyfile ? "hkdf-sha256" : "scrypt");
	if (!rc && !o->keyfile) {
		rc = astra__json_set_int(slot, "log2n", log2n);
		if (!rc)
			rc = astra__json_set_int(slot, "r", DEFAULT_KDF_R);
		if (!rc)
			rc = astra__json_set_int(slot, "p", kdf_p);
	}
	if (!rc)
		rc = astra__json_set_str(slot, "salt", salt64.ptr);
	if (!rc) {
		astra__key_slot ks;
		memset(&ks, 0, sizeof(ks));
		ks.kdf = o->keyfile ? ASTRA_SLOT_KDF_HKDF
		                    : ASTRA_SLOT_KDF_SCRYPT;
		ks.log2n = log2n;
		ks.r = DEFAULT_KDF_R;
		ks.p = kdf_p;
		ks.salt.ptr = (char *)salt;
		ks.salt.size = sizeof(salt);
		rc = kek_for(o, &ks, kek);
	}
	aad = astra__aprintf("astra key slot %s %s", r->vault_id, sidhex);
	if (!rc && !aad)
		rc = ASTRA_ENOMEM;
	if (!rc) {
		rc = astra__buf_grow(
		        &wrapped, MASTER_LEN + ASTRA_AEAD_OVERHEAD);
		if (!rc)
			rc = astra__aead_seal(kek, aad, strlen(aad), master,
			        MASTER_LEN, wrapped.ptr);
		wrapped.size = MASTER_LEN + ASTRA_AEAD_OVERHEAD;
	}
	if (!rc)
		rc = astra__base64_encode(
		        &wrapped64, wrapped.ptr, wrapped.size);
	if (!rc)
		rc = astra__json_set_str(slot, "wrapped_key", wrapped64.ptr);
	if (!rc)
		rc = astra__json_print_buf(&text, slot, 1);
	key = astra__aprintf("keys/%s", sidhex);
	if (!rc && !key)
		rc = ASTRA_ENOMEM;
	if (!rc)
		rc = astra__repo_put(
		        r, key, text.ptr, text.size, ASTRA_PUT_IF_ABSENT, 0);
	if (!rc && slot_id_out)
		memcpy(slot_id_out, sidhex, 33);
	astra__wipe(kek, sizeof(kek));
	astra__json_free(slot);
	astra_buf_dispose(&salt64);
	astra_buf_dispose(&wrapped);
	astra_buf_dispose(&wrapped64);
	astra_buf_dispose(&text);
	free(key);
	free(aad);
	return rc;
}

/* One key slot found by the listing. */
typedef struct {
	char key[80];
	uint64_t size;
	astra__key_slot ks;
} slot_cand;

typedef struct {
	ASTRA_VEC(slot_cand) v;
} slot_list;

static int list_slot(const astra__obj_info *info, void *payload)
{
	slot_list *l = payload;
	slot_cand c;
	memset(&c, 0, sizeof(c));
	snprintf(c.key, sizeof(c.key), "%.79s", info->key);
	c.size = info->size;
	return astra_vec_push(&l->v, c);
}

/* Cheapest derivation first: a costly (or poisoned) slot cannot delay
 * opening through a cheap one; ties in listing (key) order. */
static int cmp_cand(const void *a, const void *b)
{
	const slot_cand *x = a, *y = b;
	if (x->ks.work != y->ks.work)
		return x->ks.work < y->ks.work ? -1 : 1;
	return strcmp(x->key, y->key);
}

typedef struct {
	size_t slots, tried, malformed, unknown, range, nomem, failed;
	char first[512]; /* the first reason a slot was skipped */
} slot_tally;

static void skip_slot(slot_tally *t, const char *key, size_t *counter)
{
	const char *msg = astra_error_last()->message;
	astra__log_warn("skipping key slot %s: %s", key, msg);
	if (!t->first[0])
		snprintf(t->first, sizeof(t->first), "%s", msg);
	(*counter)++;
}

/*
 * Unwraps the master key with the first slot that opens, cheapest first.
 * Slots that are malformed, out of the reader's bounds or whose
 * derivation runs out of memory are skipped with a warning, never fatal.
 * 1 when found (slot_out names it), 0 when not, < 0 on a store error.
 */
static int unlock(astra__repo *r, const astra__repo_opts *o,
        uint8_t master[MASTER_LEN], char *slot_out, size_t slot_len,
        slot_tally *t)
{
	slot_list l = { ASTRA_VEC_INIT };
	int rc = astra__store_list(r->store, "keys/", list_slot, &l);
	if (rc < 0)
		goto done;
	rc = 0;
	t->slots = l.v.n;
	/* parse all (cheap, nothing derived), then sort by cost */
	size_t keep = 0;
	for (size_t i = 0; i < l.v.n; i++) {
		slot_cand *c = &l.v.v[i];
		astra_buf text = ASTRA_BUF_INIT;
		int why = ASTRA_SLOT_MALFORMED;
		int prc;
		if (c->size > ASTRA_KEY_SLOT_MAX_BYTES) /* refused unread */
			prc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "key slot %s is malformed: %llu bytes, more "
			        "than a key slot's %d",
			        c->key, (unsigned long long)c->size,
			        ASTRA_KEY_SLOT_MAX_BYTES);
		else
			prc = astra__store_get(r->store, c->key, 0, 0, &text);
		if (prc == ASTRA_ENOTFOUND) {
			astra_buf_dispose(&text);
			continue; /* deleted since the listing */
		} else if (prc && prc != ASTRA_ECORRUPT)
			why = 0; /* could not be read */
		if (!prc)
			prc = astra__key_slot_parse(
			        c->key, text.ptr, text.size, &c->ks, &why);
		astra_buf_dispose(&text);
		if (prc == ASTRA_ENOMEM) {
			rc = prc;
			goto done;
		}
		if (prc) {
			skip_slot(t, c->key,
			        why == ASTRA_SLOT_OUT_OF_RANGE  ? &t->range
			        : why == ASTRA_SLOT_UNKNOWN_KDF ? &t->unknown
			        : why == ASTRA_SLOT_MALFORMED   ? &t->malformed
			                                        : &t->failed);
			astra__key_slot_dispose(&c->ks);
			continue;
		}
		if (i != keep) {
			l.v.v[keep] = *c;
			memset(c, 0, sizeof(*c));
		}
		keep++;
	}
	if (keep > 1)
		qsort(l.v.v, keep, sizeof(*l.v.v), cmp_cand);
	for (size_t i = 0; i < keep && rc == 0; i++) {
		slot_cand *c = &l.v.v[i];
		uint8_t kek[32];
		const char *sid = strrchr(c->key, '/');
		sid = sid ? sid + 1 : c->key;
		int krc = kek_for(o, &c->ks, kek);
		if (krc) {
			skip_slot(t, c->key,
			        krc == ASTRA_ENOMEM ? &t->nomem : &t->failed);
			astra__wipe(kek, sizeof(kek));
			continue;
		}
		t->tried++;
		char *aad = astra__aprintf(
		        "astra key slot %s %s", r->vault_id, sid);
		if (!aad)
			rc = ASTRA_ENOMEM;
		else if (astra__aead_open(kek, aad, strlen(aad),
		                 c->ks.wrapped.ptr, c->ks.wrapped.size,
		                 master) == 0) {
			snprintf(slot_out, slot_len, "%s", c->key);
			rc = 1;
		}
		free(aad);
		astra__wipe(kek, sizeof(kek));
	}
done:
	for (size_t i = 0; i < l.v.n; i++)
		astra__key_slot_dispose(&l.v.v[i].ks);
	astra_vec_free(&l.v);
	return rc;
}

/* The error of an open that found no slot to unwrap the master key. */
static int unlock_failed(const astra__repo *r, const slot_tally *t)
{
	size_t skipped =
	        t->malformed + t->unknown + t->range + t->nomem + t->failed;
	if (t->slots == 0)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "vault %s has no key slot (keys/ is empty)",
		        r->store->url);
	if (t->malformed && t->malformed == t->slots)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "vault %s: no usable key: all %zu key slot(s) are "
		        "malformed (first: %s)",
		        r->store->url, t->slots, t->first);
	if (!skipped)
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_REPO,
		        "vault %s: wrong password or key", r->store->url);
	char counts[256];
	snprintf(counts, sizeof(counts),
	        "%zu malformed, %zu with an unknown kdf, %zu with scrypt "
	        "parameters out of range, %zu out of memory, %zu failed",
	        t->malformed, t->unknown, t->range, t->nomem, t->failed);
	if (t->tried)
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_REPO,
		        "vault %s: wrong password or key (%zu key slot(s) "
		        "tried; %zu skipped: %s; first: %s)",
		        r->store->url, t->tried, skipped, counts, t->first);
	return astra__err(t->nomem == skipped     ? ASTRA_ENOMEM
	                  : t->unknown == skipped ? ASTRA_EVERSION
	                                          : ASTRA_ECORRUPT,
	        ASTRA_ERROR_REPO,
	        "vault %s: no usable key: all %zu key slot(s) skipped (%s; "
	        "first: %s)",
	        r->store->url, skipped, counts, t->first);
}

static int check_secret(const astra__repo_opts *o, const char *url)
{
	if (!o || !o->password || !o->password_len)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "vault %s: no password or key given", url);
	return 0;
}

/* The cost of a new key slot (init, change of secret): at least
 * ASTRA__SCRYPT_MIN_LOG2N, and never more than a reader accepts. */
static int check_kdf(const astra__repo_opts *o)
{
	if (o->keyfile)
		return 0;
	unsigned log2n = o->kdf_log2n ? o->kdf_log2n : DEFAULT_LOG2N;
	unsigned p = o->kdf_p ? o->kdf_p : DEFAULT_KDF_P;
	if (log2n < ASTRA__SCRYPT_MIN_LOG2N || log2n > 20)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "astra_vault_options: kdf_log2n %u is out of range (%d "
		        "to 20, 0 = default)",
		        o->kdf_log2n, ASTRA__SCRYPT_MIN_LOG2N);
	if (p > 64)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "astra_vault_options: kdf_p %u is out of range (1 to "
		        "64, 0 = default)",
		        o->kdf_p);
	if (astra__scrypt_check_slot(
	            "astra_vault_options", log2n, DEFAULT_KDF_R, p) != 0)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "astra_vault_options: kdf_log2n %u with kdf_p %u costs "
		        "more than a reader accepts (N * r * p at most 2^%d, "
		        "r = %d)",
		        log2n, p, 63 - __builtin_clzll(ASTRA__SCRYPT_MAX_WORK),
		        DEFAULT_KDF_R);
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
		rc = check_kdf(o);
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
	if ((rc = derive_keys(r, master)))
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
	if ((rc = write_slot(r, o, master, sid)))
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

	slot_tally tally;
	memset(&tally, 0, sizeof(tally));
	char found[80];
	rc = unlock(r, o, master, found, sizeof(found), &tally);
	if (rc < 0)
		goto done;
	if (rc == 0) {
		rc = unlock_failed(r, &tally);
		goto done;
	}
	rc = derive_keys(r, master);
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
		rc = check_kdf(newo);
	if (rc)
		return rc;
	/* the new slot is durable before the old one goes */
	if ((rc = write_slot(r, newo, r->master, sid)))
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
