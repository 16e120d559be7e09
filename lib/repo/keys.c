/*
 * Key slots and subkeys: the master key wrapped under a password (scrypt)
 * or a key file (HKDF) in keys/<id>, and the subkeys derived from it.
 * Calls object.c below it (docs/ARCHITECTURE.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "repo/parse.h"

/* New key slots: scrypt N = 2^16, r = 8, p = 2: the work of N = 2^17,
 * p = 1 in two 64 MiB lanes computed in parallel (docs/format.md). */
#define DEFAULT_LOG2N 16
#define DEFAULT_KDF_R 8
#define DEFAULT_KDF_P 2

int astra__repo_derive_keys(astra__repo *r, const uint8_t master[MASTER_LEN])
{
	/* K_enc from this epoch's master; the blob id and chunker keys from
	 * the first epoch's, so that ids and cut points never change */
	const uint8_t *first = r->n_old ? r->old_masters : master;
	astra__mac_free(r->mac);
	r->mac = NULL;
	astra__aead_free(r->aead);
	r->aead = NULL;
	int rc = astra__hkdf_sha256(r->enc_key, 32, master, MASTER_LEN, NULL, 0,
	        "astra vault encryption v1");
	if (!rc)
		rc = astra__hkdf_sha256(r->mac_key, 32, first, MASTER_LEN, NULL,
		        0, "astra vault blob id v1");
	if (!rc)
		rc = astra__hkdf_sha256(r->chunk_key, 32, first, MASTER_LEN,
		        NULL, 0, "astra vault chunker v1");
	if (!rc)
		rc = astra__mac_new(&r->mac, r->mac_key, 32);
	if (!rc)
		rc = astra__aead_new(&r->aead, r->enc_key);
	return rc;
}

void astra__repo_epochs_free(astra__repo *r)
{
	for (size_t i = 0; i < r->n_old && r->old_aead; i++)
		astra__aead_free(r->old_aead[i]);
	free(r->old_aead);
	if (r->old_masters) {
		astra__wipe(r->old_masters, r->n_old * MASTER_LEN);
		free(r->old_masters);
	}
	r->old_aead = NULL;
	r->old_masters = NULL;
	r->n_old = 0;
}

int astra__repo_set_epochs(astra__repo *r, const uint8_t *masters, size_t n)
{
	astra__repo_epochs_free(r);
	if (!n)
		return 0;
	r->old_masters = astra__calloc(n, MASTER_LEN);
	r->old_aead = astra__calloc(n, sizeof(*r->old_aead));
	if (!r->old_masters || !r->old_aead) {
		free(r->old_masters);
		free(r->old_aead);
		r->old_masters = NULL;
		r->old_aead = NULL;
		return ASTRA_ENOMEM;
	}
	memcpy(r->old_masters, masters, n * MASTER_LEN);
	r->n_old = n;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		uint8_t k[32];
		rc = astra__hkdf_sha256(k, 32, masters + i * MASTER_LEN,
		        MASTER_LEN, NULL, 0, "astra vault encryption v1");
		if (!rc)
			rc = astra__aead_new(&r->old_aead[i], k);
		astra__wipe(k, sizeof(k));
	}
	return rc;
}

int astra__epoch_key(const uint8_t master[MASTER_LEN], char out[48])
{
	uint8_t name[16];
	int rc = astra__hkdf_sha256(name, sizeof(name), master, MASTER_LEN,
	        NULL, 0, "astra vault epoch name v1");
	if (rc)
		return rc;
	memcpy(out, "epochs/", 7);
	astra__hex_encode(out + 7, name, sizeof(name));
	return 0;
}

int astra__repo_load_epochs(
        astra__repo *r, const uint8_t master[MASTER_LEN], unsigned hint)
{
	char key[48];
	astra_buf sealed = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
	astra__json *j = NULL;
	uint8_t *masters = NULL;
	const astra__json *arr = NULL;
	size_t n = 0;
	int rc = astra__epoch_key(master, key);
	if (rc)
		return rc;
	/* refused unread when larger than 1000 masters could make it (its
	 * name is visible to whoever can list the store) */
	astra__obj_info info;
	rc = astra__store_head(r->store, key, &info);
	if (!rc && info.size > ASTRA_EPOCH_OBJECT_MAX_BYTES) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key epoch object %s is malformed: %llu bytes, more "
		        "than %d",
		        key, (unsigned long long)info.size,
		        ASTRA_EPOCH_OBJECT_MAX_BYTES);
		goto done;
	}
	if (!rc)
		rc = astra__store_get(r->store, key, 0, 0, &sealed);
	if (rc == ASTRA_ENOTFOUND) {
		if (!hint) {
			astra_error_clear();
			rc = 0; /* the first epoch: nothing before it */
			goto done;
		}
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "vault %s: the key slot that opened it belongs to key "
		        "epoch %u, but its epoch object %s is missing",
		        r->store->url, hint, key);
		goto done;
	}
	if (rc) {
		astra__err_prefix(rc, "key epoch object %s", key);
		goto done;
	}
	/* sealed under this epoch's K_enc only (r->aead: no old keys yet) */
	rc = astra__buf_grow(&plain, sealed.size);
	if (!rc && (sealed.size < ASTRA_AEAD_OVERHEAD ||
	                   astra__aead_open_with(r->aead, key, strlen(key),
	                           sealed.ptr, sealed.size, plain.ptr) != 0))
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key epoch object %s is damaged: authentication failed",
		        key);
	if (!rc) {
		plain.size = sealed.size - ASTRA_AEAD_OVERHEAD;
		rc = astra__json_parse(&j, plain.ptr, plain.size, key);
	}
	arr = rc ? NULL : astra__json_get(j, "masters");
	n = arr ? astra__json_size(arr) : 0;
	if (!rc && (astra__json_type_of(arr) != ASTRA_JSON_ARRAY || n == 0 ||
	                   n > ASTRA_MAX_KEY_EPOCHS ||
	                   astra__json_int(j, "epoch", -1) != (int64_t)n))
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "key epoch object %s is malformed: it needs \"epoch\" "
		        "equal to the number of \"masters\" (1 to %d)",
		        key, ASTRA_MAX_KEY_EPOCHS);
	if (!rc && !(masters = astra__calloc(n, MASTER_LEN)))
		rc = ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		const char *m64 =
		        astra__json_string_value(astra__json_at(arr, i));
		astra_buf m = ASTRA_BUF_INIT;
		if (!m64 || astra__base64_decode(&m, m64, strlen(m64)) ||
		        m.size != MASTER_LEN)
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "key epoch object %s is malformed: masters[%zu] "
			        "is not base64 of %d bytes",
			        key, i, MASTER_LEN);
		else
			memcpy(masters + i * MASTER_LEN, m.ptr, MASTER_LEN);
		if (m.ptr)
			astra__wipe(m.ptr, m.size);
		astra_buf_dispose(&m);
	}
	if (!rc)
		rc = astra__repo_set_epochs(r, masters, n);
	if (!rc) /* the id and chunker keys of the first epoch */
		rc = astra__repo_derive_keys(r, master);
done:
	if (masters) {
		astra__wipe(masters, n * MASTER_LEN);
		free(masters);
	}
	if (plain.ptr)
		astra__wipe(plain.ptr, plain.size);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&sealed);
	astra__json_free(j);
	return rc;
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
	int64_t ep = slot_int(slot, "epoch");
	out->epoch = ep > 0 && ep <= ASTRA_MAX_KEY_EPOCHS ? (unsigned)ep : 0;
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

int astra__key_slot_write(astra__repo *r, const astra__repo_opts *o,
        const uint8_t master[MASTER_LEN], unsigned epoch, char slot_id_out[33])
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
	if (!rc && epoch)
		rc = astra__json_set_int(slot, "epoch", epoch);
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

static void skip_slot(astra__slot_tally *t, const char *key, size_t *counter)
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
int astra__key_slot_unlock(astra__repo *r, const astra__repo_opts *o,
        uint8_t master[MASTER_LEN], char *slot_out, size_t slot_len,
        astra__slot_tally *t)
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
			t->epoch = c->ks.epoch;
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
int astra__key_slot_unlock_failed(
        const astra__repo *r, const astra__slot_tally *t)
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

/* The cost of a new key slot (init, change of secret): at least
 * ASTRA__SCRYPT_MIN_LOG2N, and never more than a reader accepts. */
int astra__key_slot_check_kdf(const astra__repo_opts *o)
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
