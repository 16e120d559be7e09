/*
 * Writing blobs: dedup against the index, compress, seal, append to a pack;
 * full packs are written by the thread that filled them, and their entries
 * become visible in the index and in a new index file.
 *
 * Pack layout: "ASTRAPK1", sealed blobs back to back, the sealed header
 * (entries of 46 bytes: type flags id[32] offset length raw), then the
 * header's sealed length as u32. The header's AAD is "pack " + pack id.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/repo.h"

#define HDR_ENTRY 46
#define INDEX_EVERY_PACKS 8
/* data blobs below this are compressed at level 1 at most */
#define SMALL_BLOB (64u << 10)

/* A buffer a blob is compressed and sealed in; kept by the writer and
 * reused, so that no blob pays for a fresh allocation, its page faults and
 * a wipe. */
typedef struct scratch {
	struct scratch *next;
	uint8_t *p;
	size_t cap;
} scratch;

typedef struct {
	astra_buf data; /* the pack being filled */
	astra__idx_entry *ents; /* its entries (pack unset) */
	size_t n, cap;
} open_pack;

struct astra__writer {
	astra__repo *r;
	pthread_mutex_t mu; /* guards packs, pending, stats */
	open_pack packs[2]; /* [0] data, [1] trees */
	/* entries written to packs but not yet to an index file */
	astra__idx_entry *pending;
	size_t npending, cap_pending;
	unsigned packs_since_index;
	pthread_mutex_t index_mu; /* serialises index file writes */
	astra__writer_stats st;
	int failed;
	/* immutability: the retention of what this writer writes and
	 * references, and what it already kept locked (guarded by mu) */
	int64_t until;
	uint8_t *kept; /* per pack index */
	size_t kept_cap;
	astra__map kept_files;
	scratch *scratch; /* free list, guarded by mu */
	/* buffers of written packs, reused for the next ones (guarded by
	 * mu): malloc would keep freed 16 MiB blocks in per-thread arenas */
	astra_buf spare[4];
	int nspare;
};

static scratch *scratch_get(astra__writer *w, size_t need)
{
	pthread_mutex_lock(&w->mu);
	scratch *s = w->scratch;
	if (s)
		w->scratch = s->next;
	pthread_mutex_unlock(&w->mu);
	if (!s && !(s = astra__calloc(1, sizeof(*s))))
		return NULL;
	if (s->cap < need) {
		astra__wipe(s->p, s->cap);
		free(s->p);
		s->cap = 0;
		if (!(s->p = astra__malloc(need))) {
			free(s);
			return NULL;
		}
		s->cap = need;
	}
	return s;
}

static void scratch_put(astra__writer *w, scratch *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&w->mu);
	s->next = w->scratch;
	w->scratch = s;
	pthread_mutex_unlock(&w->mu);
}

/* Keeps config and the key slots locked as long as this writer's data:
 * without them nothing can be read. */
typedef struct {
	astra__repo *r;
	int64_t until;
} keep_ctx;

static int keep_cb(const astra__obj_info *info, void *payload)
{
	keep_ctx *k = payload;
	return astra__repo_keep(k->r, info->key, k->until);
}

static int keep_base(astra__repo *r, int64_t until)
{
	keep_ctx k = { r, until };
	int rc = astra__repo_keep(r, "config", until);
	if (!rc)
		rc = astra__store_list(r->store, "keys/", keep_cb, &k);
	return rc < 0 ? rc : 0;
}

int astra__writer_new(astra__writer **out, astra__repo *r)
{
	*out = NULL;
	/* picks up index files and gc markers written since the last load */
	int rc = astra__repo_load_index(r);
	if (rc)
		return rc;
	int64_t until = astra__repo_until(r);
	if (until && (rc = keep_base(r, until)))
		return astra__err_prefix(
		        rc, "extending the retention of %s", r->store->url);
	astra__writer *w = astra__calloc(1, sizeof(*w));
	ASTRA_CHECK_ALLOC(w);
	w->r = r;
	w->until = until;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->index_mu, NULL);
	*out = w;
	return 0;
}

int64_t astra__writer_until(const astra__writer *w)
{
	return w->until;
}

/* Immutable vaults: the first time this writer references a blob in pack
 * `pi`, the pack and the index files listing it are kept locked until the
 * writer's retention (docs/format.md, "Immutability"). */
static int keep_pack(astra__writer *w, uint32_t pi)
{
	astra__repo *r = w->r;
	if (!w->until || pi == ASTRA_PACK_NONE)
		return 0;
	pthread_mutex_lock(&w->mu);
	int done = 0;
	if (pi >= w->kept_cap) {
		size_t cap = w->kept_cap ? w->kept_cap : 256;
		while (cap <= pi)
			cap *= 2;
		uint8_t *k = astra__realloc(w->kept, cap);
		if (!k) {
			pthread_mutex_unlock(&w->mu);
			return ASTRA_ENOMEM;
		}
		memset(k + w->kept_cap, 0, cap - w->kept_cap);
		w->kept = k;
		w->kept_cap = cap;
	}
	done = w->kept[pi];
	w->kept[pi] = 1;
	pthread_mutex_unlock(&w->mu);
	if (done)
		return 0;
	char hex[ASTRA_ID_HEX];
	char *files = NULL;
	pthread_rwlock_rdlock(&r->lock);
	astra__id id = r->index.packs[pi].id;
	astra__id_hex(&id, hex);
	const char *f = astra__map_get(&r->pack_files, hex);
	if (f)
		files = astra__strdup(f);
	pthread_rwlock_unlock(&r->lock);
	char *key = astra__pack_key(&id);
	int rc = key ? astra__repo_keep(r, key, w->until) : ASTRA_ENOMEM;
	free(key);
	for (char *s = files, *e; !rc && s && *s; s = e ? e + 1 : NULL) {
		e = strchr(s, '\n');
		if (e)
			*e = '\0';
		pthread_mutex_lock(&w->mu);
		int seen = astra__map_has(&w->kept_files, s);
		if (!seen)
			rc = astra__map_set(&w->kept_files, s, NULL, NULL);
		pthread_mutex_unlock(&w->mu);
		if (!rc && !seen) {
			rc = astra__repo_keep(r, s, w->until);
			/* merged into a newer index by a gc meanwhile: that
			 * one is locked at least as long as this backup */
			if (rc == ASTRA_ENOTFOUND) {
				astra_error_clear();
				rc = 0;
			}
		}
		if (!e)
			break;
	}
	free(files);
	if (rc) {
		/* a later reference must try again */
		pthread_mutex_lock(&w->mu);
		w->kept[pi] = 0;
		pthread_mutex_unlock(&w->mu);
	}
	return rc;
}

int astra__writer_reference(astra__writer *w, const astra__id *id)
{
	astra__idx_entry e;
	int rc = astra__repo_lookup(w->r, id, &e);
	if (rc)
		return rc;
	return keep_pack(w, e.pack);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Writes the accumulated index entries as one index file. */
static int write_index_file(astra__writer *w, astra__idx_entry *ents, size_t n)
{
	astra__repo *r = w->r;
	astra_buf body = ASTRA_BUF_INIT, z = ASTRA_BUF_INIT;
	astra_buf sealed = ASTRA_BUF_INIT;
	uint8_t rid[32];
	char hex[65], key[80];
	int rc;
	pthread_rwlock_rdlock(&r->lock);
	rc = astra__index_encode(&body, ents, n, &r->index);
	pthread_rwlock_unlock(&r->lock);
	if (rc)
		goto done;
	size_t bound = astra__zstd_bound(body.size) + 8;
	if ((rc = astra__buf_grow(&z, bound)))
		goto done;
	put32((uint8_t *)z.ptr, (uint32_t)body.size);
	put32((uint8_t *)z.ptr + 4, (uint32_t)((uint64_t)body.size >> 32));
	size_t zl;
	if ((rc = astra__zstd_compress(
	             z.ptr + 8, bound - 8, body.ptr, body.size, 3, &zl)))
		goto done;
	z.size = zl + 8;
	if ((rc = astra__random(rid, sizeof(rid))))
		goto done;
	astra__hex_encode(hex, rid, sizeof(rid));
	snprintf(key, sizeof(key), "index/%s", hex);
	if ((rc = astra__repo_seal(r, key, z.ptr, z.size, &sealed)))
		goto done;
	rc = astra__repo_put(r, key, sealed.ptr, sealed.size, 0, w->until);
	if (!rc && (r->store->caps & ASTRA_STORE_CAP_OBJECT_LOCK)) {
		pthread_rwlock_wrlock(&r->lock);
		rc = astra__repo_note_pack_files(
		        r, (uint8_t *)body.ptr, body.size, key);
		pthread_rwlock_unlock(&r->lock);
	}
	if (!rc) {
		astra__map_set(&r->index_files, key, NULL, NULL);
		pthread_mutex_lock(&w->mu);
		w->st.bytes_stored += sealed.size;
		pthread_mutex_unlock(&w->mu);
	}
done:
	astra_buf_dispose(&body);
	astra_buf_dispose(&z);
	astra_buf_dispose(&sealed);
	return rc;
}

/* Seals the header, writes the pack, publishes its entries. */
static int flush_pack(astra__writer *w, open_pack *p)
{
	astra__repo *r = w->r;
	astra__id pid;
	char hex[ASTRA_ID_HEX];
	astra_buf hdr = ASTRA_BUF_INIT;
	char *key = NULL;
	int rc;
	if (p->n == 0)
		return 0;
	if ((rc = astra__random(pid.b, sizeof(pid.b))))
		goto done;
	if ((rc = astra__buf_grow(&hdr, p->n * HDR_ENTRY)))
		goto done;
	for (size_t i = 0; i < p->n; i++) {
		uint8_t *q = (uint8_t *)hdr.ptr + i * HDR_ENTRY;
		q[0] = p->ents[i].type;
		q[1] = p->ents[i].flags;
		memcpy(q + 2, p->ents[i].id.b, 32);
		put32(q + 34, p->ents[i].offset);
		put32(q + 38, p->ents[i].length);
		put32(q + 42, p->ents[i].raw);
	}
	hdr.size = p->n * HDR_ENTRY;
	astra__id_hex(&pid, hex);
	char aad[80];
	snprintf(aad, sizeof(aad), "pack %s", hex);
	size_t before = p->data.size;
	if ((rc = astra__repo_seal(r, aad, hdr.ptr, hdr.size, &p->data)))
		goto done;
	uint8_t len4[4];
	put32(len4, (uint32_t)(p->data.size - before));
	if ((rc = astra__buf_put(&p->data, len4, 4)))
		goto done;
	key = astra__pack_key(&pid);
	if (!key) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if ((rc = astra__repo_put(
	             r, key, p->data.ptr, p->data.size, 0, w->until)))
		goto done;

	/* publish: the entries now have a location */
	pthread_rwlock_wrlock(&r->lock);
	int pi = astra__index_pack(&r->index, &pid);
	if (pi >= 0) {
		r->index.packs[pi].kind = p->ents[0].type;
		for (size_t i = 0; i < p->n; i++) {
			p->ents[i].pack = (uint32_t)pi;
			int rr = astra__index_put(&r->index, &p->ents[i]);
			if (rr < 0) {
				pi = rr;
				break;
			}
		}
	}
	pthread_rwlock_unlock(&r->lock);
	if (pi < 0) {
		rc = pi;
		goto done;
	}
	astra__idx_entry *batch = NULL;
	size_t nbatch = 0;
	pthread_mutex_lock(&w->mu);
	w->st.bytes_stored += p->data.size;
	w->st.packs++;
	if (w->npending + p->n > w->cap_pending) {
		size_t cap = (w->npending + p->n) * 2;
		astra__idx_entry *np =
		        astra__reallocarray(w->pending, cap, sizeof(*np));
		if (!np) {
			pthread_mutex_unlock(&w->mu);
			rc = ASTRA_ENOMEM;
			goto done;
		}
		w->pending = np;
		w->cap_pending = cap;
	}
	memcpy(w->pending + w->npending, p->ents, p->n * sizeof(*p->ents));
	w->npending += p->n;
	if (++w->packs_since_index >= INDEX_EVERY_PACKS) {
		batch = w->pending;
		nbatch = w->npending;
		w->pending = NULL;
		w->npending = w->cap_pending = 0;
		w->packs_since_index = 0;
	}
	pthread_mutex_unlock(&w->mu);
	if (batch) {
		pthread_mutex_lock(&w->index_mu);
		rc = write_index_file(w, batch, nbatch);
		pthread_mutex_unlock(&w->index_mu);
		free(batch);
	}
done:
	astra_buf_dispose(&hdr);
	free(key);
	return rc;
}

static void pack_reset(open_pack *p)
{
	/* sealed blobs only: nothing to wipe */
	free(p->data.ptr);
	free(p->ents);
	memset(p, 0, sizeof(*p));
}

/* A written pack: its buffer serves the next pack. */
static void pack_recycle(astra__writer *w, open_pack *p)
{
	pthread_mutex_lock(&w->mu);
	if (p->data.ptr &&
	        w->nspare < (int)(sizeof(w->spare) / sizeof(w->spare[0]))) {
		w->spare[w->nspare] = p->data;
		w->spare[w->nspare++].size = 0;
		p->data = (astra_buf)ASTRA_BUF_INIT;
	}
	pthread_mutex_unlock(&w->mu);
	pack_reset(p);
}

/* Claims `id` for this writer: 1 when the blob is already in the vault
 * (or being written by another writer) and need not be written again (its
 * pack is then kept alive for an immutable vault), 0 when the caller must
 * write it (a pending index entry now stops others from writing it too),
 * or an error. */
static int claim_id(astra__writer *w, int type, size_t n, const astra__id *id)
{
	astra__repo *r = w->r;
	int rc;
	pthread_rwlock_wrlock(&r->lock);
	int i = astra__index_find(&r->index, id);
	int dup = i >= 0 &&
	          (r->index.slots[i].pack == ASTRA_PACK_NONE ||
	                  !r->index.packs[r->index.slots[i].pack].condemned);
	if (!dup) {
		astra__idx_entry pend = { 0 };
		pend.id = *id;
		pend.pack = ASTRA_PACK_NONE;
		pend.type = (uint8_t)type;
		pend.raw = (uint32_t)n;
		if (i >= 0) {
			/* only in a condemned pack: keep its location until
			 * the new copy is written */
			pend = r->index.slots[i];
		} else if ((rc = astra__index_put(&r->index, &pend)) < 0) {
			pthread_rwlock_unlock(&r->lock);
			return rc;
		}
	}
	uint32_t dup_pack = dup ? r->index.slots[i].pack : ASTRA_PACK_NONE;
	pthread_rwlock_unlock(&r->lock);
	if (dup) {
		pthread_mutex_lock(&w->mu);
		w->st.blobs_dup++;
		pthread_mutex_unlock(&w->mu);
		rc = keep_pack(w, dup_pack);
		if (rc) {
			w->failed = 1;
			return rc;
		}
		return 1;
	}
	return 0;
}

int astra__writer_add(astra__writer *w, int type, const void *data, size_t n,
        astra__id *id, int have_id, int *is_new)
{
	astra__repo *r = w->r;
	int rc;
	if (is_new)
		*is_new = 0;
	if (n > UINT32_MAX - 64)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "blob of %zu bytes is too large", n);
	if (!have_id && (rc = astra__repo_blob_id(r, data, n, id)))
		return rc;

	/* dedup: claim the id with a pending entry */
	if ((rc = claim_id(w, type, n, id)) != 0)
		return rc < 0 ? rc : 0;

	/* compress unless it does not pay, then seal: the compressed bytes
	 * are written where the ciphertext goes (after the nonce), and
	 * AES-GCM encrypts them in place */
	const uint8_t *payload = data;
	size_t plen = n;
	uint8_t flags = 0;
	size_t bound = astra__zstd_bound(n);
	if (bound < n)
		bound = n;
	scratch *sc = scratch_get(w, bound + ASTRA_AEAD_OVERHEAD);
	if (!sc) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	/* a small file's blob gains little from the vault's level (on the
	 * benchmark's 50,000 small files level 3 stores 1.4 % less than
	 * level 1 and costs 44 % more CPU): level 1 (format.md) */
	int level = r->level;
	if (type == ASTRA_BLOB_DATA && n < SMALL_BLOB && level > 1)
		level = 1;
	if (level > 0 && n >= 64 && astra__compressible(data, n)) {
		uint8_t *z = sc->p + ASTRA_AEAD_NONCE_LEN;
		size_t zl;
		if ((rc = astra__zstd_compress(z, bound, data, n, level, &zl)))
			goto fail;
		if (zl < n) {
			payload = z;
			plen = zl;
			flags = ASTRA_BLOB_F_ZSTD;
		}
	}
	uint8_t aad[ASTRA_ID_LEN + 1];
	memcpy(aad, id->b, ASTRA_ID_LEN);
	aad[ASTRA_ID_LEN] = (uint8_t)type;
	if ((rc = astra__aead_seal_with(
	             r->aead, aad, sizeof(aad), payload, plen, sc->p)))
		goto fail;
	const uint8_t *sealed = sc->p;
	size_t sealed_len = plen + ASTRA_AEAD_OVERHEAD;

	open_pack full = { 0 };
	int have_full = 0;
	pthread_mutex_lock(&w->mu);
	open_pack *p = &w->packs[type == ASTRA_BLOB_TREE ? 1 : 0];
	if (p->data.size == 0) {
		/* once, the whole pack: growing it by doubling copies it
		 * and leaves freed blocks behind in malloc's arenas */
		if (!p->data.ptr && w->nspare)
			p->data = w->spare[--w->nspare];
		rc = astra__buf_grow(&p->data, r->pack_size + sealed_len + 64);
		if (!rc)
			rc = astra__buf_put(&p->data, ASTRA_PACK_MAGIC, 8);
	}
	if (!rc && p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		astra__idx_entry *ne =
		        astra__reallocarray(p->ents, cap, sizeof(*ne));
		if (!ne)
			rc = ASTRA_ENOMEM;
		else {
			p->ents = ne;
			p->cap = cap;
		}
	}
	if (!rc) {
		astra__idx_entry e = { 0 };
		e.id = *id;
		e.type = (uint8_t)type;
		e.flags = flags;
		e.offset = (uint32_t)p->data.size;
		e.length = (uint32_t)sealed_len;
		e.raw = (uint32_t)n;
		rc = astra__buf_put(&p->data, sealed, sealed_len);
		if (!rc) {
			p->ents[p->n++] = e;
			w->st.blobs_new++;
			w->st.bytes_raw_new += n;
		}
	}
	if (!rc && p->data.size >= r->pack_size) {
		full = *p;
		memset(p, 0, sizeof(*p));
		have_full = 1;
	}
	pthread_mutex_unlock(&w->mu);
	scratch_put(w, sc);
	sc = NULL;
	if (rc)
		goto fail;
	if (is_new)
		*is_new = 1;
	if (have_full) {
		rc = flush_pack(w, &full);
		pack_recycle(w, &full);
		if (rc) {
			w->failed = 1;
			return rc;
		}
	}
	return 0;
fail:
	scratch_put(w, sc);
	w->failed = 1;
	return rc;
}

int astra__writer_flush(astra__writer *w)
{
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		pthread_mutex_lock(&w->mu);
		open_pack p = w->packs[k];
		memset(&w->packs[k], 0, sizeof(w->packs[k]));
		pthread_mutex_unlock(&w->mu);
		rc = flush_pack(w, &p);
		pack_recycle(w, &p);
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&w->mu);
	astra__idx_entry *batch = w->pending;
	size_t nbatch = w->npending;
	w->pending = NULL;
	w->npending = w->cap_pending = 0;
	w->packs_since_index = 0;
	pthread_mutex_unlock(&w->mu);
	if (nbatch) {
		pthread_mutex_lock(&w->index_mu);
		rc = write_index_file(w, batch, nbatch);
		pthread_mutex_unlock(&w->index_mu);
	}
	free(batch);
	return rc;
}

int astra__writer_write_index(
        astra__writer *w, astra__idx_entry *ents, size_t n)
{
	pthread_mutex_lock(&w->index_mu);
	int rc = write_index_file(w, ents, n);
	pthread_mutex_unlock(&w->index_mu);
	return rc;
}

void astra__writer_get_stats(astra__writer *w, astra__writer_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	pthread_mutex_unlock(&w->mu);
}

void astra__writer_free(astra__writer *w)
{
	if (!w)
		return;
	pack_reset(&w->packs[0]);
	pack_reset(&w->packs[1]);
	for (int i = 0; i < w->nspare; i++)
		free(w->spare[i].ptr);
	free(w->pending);
	free(w->kept);
	for (scratch *s = w->scratch, *n; s; s = n) {
		n = s->next;
		astra__wipe(s->p, s->cap);
		free(s->p);
		free(s);
	}
	astra__map_free(&w->kept_files);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->index_mu);
	free(w);
}
