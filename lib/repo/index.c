/*
 * The blob index: an open-addressing table of fixed 52-byte entries (ids
 * are uniformly distributed MACs, so their first bytes are the hash), the
 * table of pack ids, and index files (append-only; merged by gc).
 *
 * Index file body: "ASTRAIX1" u32 npacks, npacks * 32-byte pack ids,
 * u32 nentries, nentries * (id[32] type[1] flags[1] pack[4] offset[4]
 * length[4] raw[4]); little-endian. Stored zstd-compressed and sealed.
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
#include "fmt/json.h"
#include "repo/parse.h"
#include "repo/repo.h"

#define ENTRY_BYTES (32 + 1 + 1 + 4 + 4 + 4 + 4)

static uint64_t h64(const astra__id *id)
{
	uint64_t h;
	memcpy(&h, id->b, 8);
	return h;
}

int astra__index_find(const astra__index *ix, const astra__id *id)
{
	if (!ix->cap)
		return -1;
	size_t mask = ix->cap - 1;
	for (size_t i = h64(id) & mask;; i = (i + 1) & mask) {
		const astra__idx_entry *e = &ix->slots[i];
		if (!e->used)
			return -1;
		if (memcmp(e->id.b, id->b, ASTRA_ID_LEN) == 0)
			return (int)i;
	}
}

static int grow(astra__index *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 1024;
	astra__idx_entry *s = astra__calloc(cap, sizeof(*s));
	if (!s)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < ix->cap; i++) {
		if (!ix->slots[i].used)
			continue;
		size_t j = h64(&ix->slots[i].id) & (cap - 1);
		while (s[j].used)
			j = (j + 1) & (cap - 1);
		s[j] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = s;
	ix->cap = cap;
	return 0;
}

int astra__index_put(astra__index *ix, const astra__idx_entry *e)
{
	int i = astra__index_find(ix, &e->id);
	if (i >= 0) {
		ix->slots[i] = *e;
		ix->slots[i].used = 1;
		return i;
	}
	if ((ix->n + 1) * 10 >= ix->cap * 7) {
		int rc = grow(ix);
		if (rc)
			return rc;
	}
	size_t mask = ix->cap - 1;
	size_t j = h64(&e->id) & mask;
	while (ix->slots[j].used)
		j = (j + 1) & mask;
	ix->slots[j] = *e;
	ix->slots[j].used = 1;
	ix->n++;
	return (int)j;
}

int astra__index_pack(astra__index *ix, const astra__id *pack)
{
	char hex[ASTRA_ID_HEX];
	astra__id_hex(pack, hex);
	void *v = astra__map_get(&ix->pack_lookup, hex);
	if (v)
		return (int)((intptr_t)v - 1);
	if (ix->npacks == ix->packs_cap) {
		size_t cap = ix->packs_cap ? ix->packs_cap * 2 : 64;
		astra__pack_ref *p =
		        astra__reallocarray(ix->packs, cap, sizeof(*p));
		if (!p)
			return ASTRA_ENOMEM;
		ix->packs = p;
		ix->packs_cap = cap;
	}
	memset(&ix->packs[ix->npacks], 0, sizeof(astra__pack_ref));
	ix->packs[ix->npacks].id = *pack;
	int rc = astra__map_set(&ix->pack_lookup, hex,
	        (void *)(intptr_t)(ix->npacks + 1), NULL);
	if (rc)
		return rc;
	return (int)ix->npacks++;
}

void astra__index_free(astra__index *ix)
{
	free(ix->slots);
	free(ix->packs);
	astra__map_free(&ix->pack_lookup);
	memset(ix, 0, sizeof(*ix));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int astra__index_encode(astra_buf *out, const astra__idx_entry *e, size_t n,
        const astra__index *ix)
{
	/* local pack table: only the packs these entries use */
	astra__map local = ASTRA_MAP_INIT;
	uint32_t *map = astra__calloc(ix->npacks + 1, sizeof(uint32_t));
	astra__id *ids = astra__calloc(ix->npacks + 1, sizeof(astra__id));
	uint32_t nlocal = 0;
	int rc = 0;
	if (!map || !ids) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t p = e[i].pack;
		if (p >= ix->npacks) {
			rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_REPO,
			        "internal: index entry without a pack");
			goto done;
		}
		if (!map[p]) {
			ids[nlocal] = ix->packs[p].id;
			map[p] = ++nlocal;
		}
	}
	uint8_t hdr[12];
	memcpy(hdr, ASTRA_INDEX_MAGIC, 8);
	put32(hdr + 8, nlocal);
	if ((rc = astra__buf_put(out, hdr, 12)) ||
	        (rc = astra__buf_put(out, ids, (size_t)nlocal * 32)))
		goto done;
	put32(hdr, (uint32_t)n);
	if ((rc = astra__buf_put(out, hdr, 4)))
		goto done;
	if ((rc = astra__buf_grow(out, n * ENTRY_BYTES)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = (uint8_t *)out->ptr + out->size;
		memcpy(p, e[i].id.b, 32);
		p[32] = e[i].type;
		p[33] = e[i].flags;
		put32(p + 34, map[e[i].pack] - 1);
		put32(p + 38, e[i].offset);
		put32(p + 42, e[i].length);
		put32(p + 46, e[i].raw);
		out->size += ENTRY_BYTES;
	}
	out->ptr[out->size] = '\0';
done:
	free(map);
	free(ids);
	astra__map_free(&local);
	return rc;
}

int astra__index_decode(
        astra__index *ix, const uint8_t *p, size_t n, const char *what)
{
	if (n < 16 || memcmp(p, ASTRA_INDEX_MAGIC, 8) != 0)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index %s is damaged: bad header (%zu bytes, no %s "
		        "magic)",
		        what, n, ASTRA_INDEX_MAGIC);
	uint32_t np = get32(p + 8);
	if ((uint64_t)np * 32 + 16 > n)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index %s is damaged: %u packs (%llu bytes) exceed "
		        "its %zu-byte body",
		        what, np, (unsigned long long)np * 32, n);
	uint32_t *map = astra__calloc(np + 1, sizeof(uint32_t));
	if (!map)
		return ASTRA_ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; i < np; i++) {
		astra__id id;
		memcpy(id.b, p + 12 + (size_t)i * 32, 32);
		int k = astra__index_pack(ix, &id);
		if (k < 0) {
			rc = k;
			goto done;
		}
		map[i] = (uint32_t)k;
	}
	size_t off = 12 + (size_t)np * 32;
	uint32_t ne = get32(p + off);
	off += 4;
	if ((uint64_t)ne * ENTRY_BYTES != n - off) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index %s is damaged: %u entries of %d bytes do not "
		        "fit the %zu bytes left of its body",
		        what, ne, ENTRY_BYTES, n - off);
		goto done;
	}
	for (uint32_t i = 0; i < ne; i++, off += ENTRY_BYTES) {
		astra__idx_entry e = { 0 };
		memcpy(e.id.b, p + off, 32);
		e.type = p[off + 32];
		e.flags = p[off + 33];
		uint32_t lp = get32(p + off + 34);
		e.offset = get32(p + off + 38);
		e.length = get32(p + off + 42);
		e.raw = get32(p + off + 46);
		if (lp >= np || (e.type != ASTRA_BLOB_DATA &&
		                        e.type != ASTRA_BLOB_TREE)) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "index %s is damaged: bad entry %u", what, i);
			goto done;
		}
		e.pack = map[lp];
		ix->packs[e.pack].kind = e.type;
		int f = astra__index_find(ix, &e.id);
		if (f >= 0 && !ix->packs[ix->slots[f].pack].condemned)
			continue; /* already known (e.g. duplicates) */
		rc = astra__index_put(ix, &e);
		if (rc < 0)
			goto done;
		rc = 0;
	}
done:
	free(map);
	return rc;
}

int astra__repo_lookup(
        astra__repo *r, const astra__id *id, astra__idx_entry *out)
{
	pthread_rwlock_rdlock(&r->lock);
	int i = astra__index_find(&r->index, id);
	if (i >= 0)
		*out = r->index.slots[i];
	pthread_rwlock_unlock(&r->lock);
	if (i < 0 || out->pack == ASTRA_PACK_NONE)
		return ASTRA_ENOTFOUND;
	return 0;
}

/* With object lock: remembers which index files list each pack, so that a
 * backup can keep them locked along with the pack, and gc keeps packs
 * that a locked index file still lists. */
int astra__repo_note_pack_files(
        astra__repo *r, const uint8_t *p, size_t n, const char *file)
{
	if (n < 12)
		return 0;
	uint32_t np = get32(p + 8);
	int rc = 0;
	for (uint32_t i = 0; i < np && !rc && 12 + ((size_t)i + 1) * 32 <= n;
	        i++) {
		astra__id id;
		char hex[ASTRA_ID_HEX];
		memcpy(id.b, p + 12 + (size_t)i * 32, 32);
		astra__id_hex(&id, hex);
		char *old = astra__map_get(&r->pack_files, hex);
		char *v = old ? astra__aprintf("%s\n%s", old, file)
		              : astra__strdup(file);
		if (!v)
			return ASTRA_ENOMEM;
		rc = astra__map_set(&r->pack_files, hex, v, NULL);
		if (rc)
			free(v);
		else
			free(old);
	}
	return rc;
}

/* zstd stores at most a 128 KiB block in 4 bytes (an RLE block: 3 bytes of
 * block header and the byte), so n compressed bytes never hold more than
 * n * 32768 */
#define ZSTD_MAX_RATIO 32768
#define INDEX_MAX_BODY (1ULL << 34)

int astra__index_file_open(astra__repo *r, const char *key,
        const uint8_t *sealed, size_t n, astra_buf *body)
{
	astra_buf z = ASTRA_BUF_INIT;
	char what[160];
	snprintf(what, sizeof(what), "index %s", key);
	int rc = astra__repo_open_sealed(r, key, sealed, n, &z, what);
	if (rc)
		goto done;
	if (z.size < 8) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index %s is damaged: %zu bytes after decryption, "
		        "shorter than its 8-byte body length",
		        key, z.size);
		goto done;
	}
	uint64_t raw = (uint64_t)get32((uint8_t *)z.ptr) |
	               (uint64_t)get32((uint8_t *)z.ptr + 4) << 32;
	uint64_t zn = z.size - 8;
	if (raw > INDEX_MAX_BODY || raw > zn * ZSTD_MAX_RATIO) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index %s is damaged: body length %llu exceeds what "
		        "its %llu compressed bytes can hold (limit %llu)",
		        key, (unsigned long long)raw, (unsigned long long)zn,
		        (unsigned long long)(zn * ZSTD_MAX_RATIO <
		                                             INDEX_MAX_BODY
		                                     ? zn * ZSTD_MAX_RATIO
		                                     : INDEX_MAX_BODY));
		goto done;
	}
	if ((rc = astra__buf_grow(body, (size_t)raw)))
		goto done;
	rc = astra__zstd_decompress(
	        body->ptr + body->size, (size_t)raw, z.ptr + 8, (size_t)zn);
	if (rc) {
		astra__err_prefix(rc, "index %s is damaged", key);
		goto done;
	}
	body->size += (size_t)raw;
	body->ptr[body->size] = '\0';
done:
	astra_buf_dispose(&z);
	return rc;
}

typedef struct {
	astra__repo *r;
	int mode; /* ASTRA_INDEX_LOAD_* */
	const astra__map *superseded; /* strict: damaged files tolerated */
	astra__json *damaged; /* names of damaged files; may be NULL */
	int vanished; /* files listed, then gone before they were read */
} load_ctx;

static int note_damaged(load_ctx *l, const char *key)
{
	if (!l->damaged)
		return 0;
	for (size_t i = 0; i < astra__json_size(l->damaged); i++)
		if (!strcmp(astra__json_string_value(
		                    astra__json_at(l->damaged, i)),
		            key))
			return 0;
	return astra__json_push(l->damaged, astra__json_new_string(key));
}

static int load_one(const astra__obj_info *info, void *payload)
{
	load_ctx *l = payload;
	astra__repo *r = l->r;
	if (astra__map_has(&r->index_files, info->key))
		return 0;
	astra_buf sealed = ASTRA_BUF_INIT;
	astra_buf plain = ASTRA_BUF_INIT;
	int rc = astra__store_get(r->store, info->key, 0, 0, &sealed);
	if (!rc)
		rc = astra__index_file_open(r, info->key,
		        (const uint8_t *)sealed.ptr, sealed.size, &plain);
	if (!rc) {
		pthread_rwlock_wrlock(&r->lock);
		rc = astra__index_decode(
		        &r->index, (uint8_t *)plain.ptr, plain.size, info->key);
		pthread_rwlock_unlock(&r->lock);
	}
	if (!rc && (r->store->caps & ASTRA_STORE_CAP_OBJECT_LOCK)) {
		pthread_rwlock_wrlock(&r->lock);
		rc = astra__repo_note_pack_files(
		        r, (uint8_t *)plain.ptr, plain.size, info->key);
		pthread_rwlock_unlock(&r->lock);
	}
	if (!rc)
		rc = astra__map_set(&r->index_files, info->key, NULL, NULL);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	if (rc == ASTRA_ENOTFOUND) {
		/* deleted between the listing and the read: a gc merged it
		 * into a file written before the deletion; the caller lists
		 * again to find that one */
		astra_error_clear();
		l->vanished++;
		return 0;
	}
	if (rc != ASTRA_ECORRUPT)
		return rc;
	if (l->mode == ASTRA_INDEX_LOAD_STRICT &&
	        !(l->superseded && astra__map_has(l->superseded, info->key)))
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "index file %s cannot be used (%s); nothing was "
		        "deleted: run `astractl vault repair` to index the "
		        "blobs of its packs again, then run gc again",
		        info->key, astra_error_last()->message);
	/* lenient, or superseded by a repair: the file's blobs are found
	 * elsewhere (a repair index) or reported missing by check */
	if (l->mode == ASTRA_INDEX_LOAD_STRICT)
		astra__log_info(
		        "%s: damaged, superseded by a repair", info->key);
	else
		astra__log_warn("skipping %s (run `astractl vault repair`)",
		        astra_error_last()->message);
	astra_error_clear();
	return note_damaged(l, info->key);
}

static int load_index(astra__repo *r, int mode, const astra__map *superseded,
        astra__json *damaged)
{
	load_ctx l = { r, mode, superseded, damaged, 0 };
	/* condemned packs first, so that live copies elsewhere win */
	int rc = astra__repo_load_markers(r, mode);
	if (rc)
		return astra__err_prefix(
		        rc, "loading gc markers of %s", r->store->url);
	for (int pass = 0;; pass++) {
		l.vanished = 0;
		rc = astra__store_list(r->store, "index/", load_one, &l);
		if (rc < 0)
			return astra__err_prefix(
			        rc, "loading the index of %s", r->store->url);
		if (!l.vanished)
			break;
		if (pass == 8)
			return astra__err(ASTRA_ERROR, ASTRA_ERROR_REPO,
			        "loading the index of %s: index files keep "
			        "vanishing while they are read (several gc runs "
			        "at once?); try again",
			        r->store->url);
	}
	r->index_loaded = 1;
	return 0;
}

int astra__repo_load_index_mode(astra__repo *r, int mode,
        const astra__map *superseded, astra__json *damaged)
{
	pthread_mutex_lock(&r->load_mu);
	int rc = load_index(r, mode, superseded, damaged);
	pthread_mutex_unlock(&r->load_mu);
	return rc;
}

/* Index files already loaded are skipped: loading again reads only what
 * other writers added since. Damaged files are skipped with a warning. */
int astra__repo_load_index(astra__repo *r)
{
	return astra__repo_load_index_mode(
	        r, ASTRA_INDEX_LOAD_LENIENT, NULL, NULL);
}

int astra__repo_refresh_index(astra__repo *r)
{
	return astra__repo_load_index(r);
}

int astra__repo_load_markers(astra__repo *r, int mode)
{
	astra__json *markers = NULL;
	/* lenient (writers, restores): a damaged marker is skipped, since
	 * gc cannot read it either and so never sweeps what it condemns; a
	 * marker that cannot be read for another reason (the network) stops
	 * a writer, which could otherwise deduplicate against packs that a
	 * later gc deletes */
	int rc = astra__repo_collect(
	        r, "gc/", 0, mode == ASTRA_INDEX_LOAD_LENIENT, &markers);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < astra__json_size(markers) && !rc; i++) {
		const astra__json *packs =
		        astra__json_get(astra__json_at(markers, i), "packs");
		for (size_t k = 0; k < astra__json_size(packs); k++) {
			astra__id id;
			if (astra__id_parse(
			            &id, astra__json_string_value(
			                         astra__json_at(packs, k))))
				continue;
			int pi = astra__index_pack(&r->index, &id);
			if (pi < 0) {
				rc = pi;
				break;
			}
			r->index.packs[pi].condemned = 1;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	astra__json_free(markers);
	return rc;
}
