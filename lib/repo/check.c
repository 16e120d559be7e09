/*
 * check: every snapshot's trees and chunks resolve through the index to a
 * pack that exists; with read_data, every pack header and every blob
 * decrypts and verifies. Each damaged object is named together with the
 * snapshots that depend on it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/parse.h"
#include "repo/tree.h"

/* ASTRA_ECORRUPT naming the first of the report's `nd` damaged objects. */
static int damaged_error(const astra__json *rep, size_t nd)
{
	const astra__json *d0 =
	        astra__json_at(astra__json_get(rep, "damaged"), 0);
	return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
	        "%zu damaged object(s); first: %s: %s", nd,
	        astra__json_str(d0, "object"), astra__json_str(d0, "error"));
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int astra__pack_trailer(const uint8_t *p, uint64_t size, const char *key,
        uint64_t *hoff, uint32_t *hlen)
{
	if (size < ASTRA_PACK_MIN_SIZE)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s: %llu bytes is too short for a pack (at least "
		        "%d)",
		        key, (unsigned long long)size, ASTRA_PACK_MIN_SIZE);
	if (memcmp(p, ASTRA_PACK_MAGIC, 8) != 0)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s: does not start with the magic %s", key,
		        ASTRA_PACK_MAGIC);
	uint32_t hl = le32(p + size - 4);
	/* 64-bit: hl + 12 must not wrap */
	if ((uint64_t)hl + 8 + 4 > size)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s: header length %u exceeds the pack's %llu "
		        "bytes",
		        key, hl, (unsigned long long)size);
	if (hl < ASTRA_AEAD_OVERHEAD)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s: header length %u is shorter than a sealed "
		        "header (%d bytes)",
		        key, hl, ASTRA_AEAD_OVERHEAD);
	*hoff = size - 4 - hl;
	*hlen = hl;
	return 0;
}

int astra__pack_header_parse(const uint8_t *h, size_t n, uint64_t hoff,
        const char *key, astra__pack_entry **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	if (n % ASTRA_PACK_HDR_ENTRY)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s: header of %zu bytes is not a whole number "
		        "of %d-byte entries",
		        key, n, ASTRA_PACK_HDR_ENTRY);
	size_t ne = n / ASTRA_PACK_HDR_ENTRY;
	if (!ne)
		return 0;
	astra__pack_entry *v = astra__calloc(ne, sizeof(*v));
	if (!v)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < ne; i++) {
		const uint8_t *p = h + i * ASTRA_PACK_HDR_ENTRY;
		astra__pack_entry *e = &v[i];
		e->type = p[0];
		e->flags = p[1];
		memcpy(e->id.b, p + 2, ASTRA_ID_LEN);
		e->offset = le32(p + 34);
		e->length = le32(p + 38);
		e->raw = le32(p + 42);
		const char *bad = NULL;
		if (e->type != ASTRA_BLOB_DATA && e->type != ASTRA_BLOB_TREE)
			bad = "unknown blob type";
		else if (e->offset < 8)
			bad = "offset inside the magic";
		else if ((uint64_t)e->offset + e->length > hoff)
			bad = "blob extends past the start of the header";
		else if (e->length < ASTRA_AEAD_OVERHEAD)
			bad = "length shorter than a sealed blob";
		else if (!(e->flags & ASTRA_BLOB_F_ZSTD) &&
		         (uint64_t)e->raw + ASTRA_AEAD_OVERHEAD != e->length)
			bad = "raw length does not match the stored length";
		if (bad) {
			int rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "pack %s: header entry %zu (offset %u, length "
			        "%u, raw %u): %s; the blobs end at %llu",
			        key, i, e->offset, e->length, e->raw, bad,
			        (unsigned long long)hoff);
			free(v);
			return rc;
		}
	}
	*out = v;
	*count = ne;
	return 0;
}

typedef struct {
	astra__repo *r;
	astra__op *op;
	astra__map packs_present; /* hex -> size + 1 */
	astra__map bad_blobs; /* blob hex -> reason (malloc) */
	astra__json *damaged; /* [{"object","error","snapshots"}] */
	astra__map damaged_at; /* object -> index + 1 in damaged */
	uint64_t trees, blobs_checked;
	const char *snap;
	/* astra__data_check_some: the blobs the walk needs (hex -> index + 1
	 * in `needed`), with the snapshot that first needed each, read later
	 * pack by pack */
	int collect;
	astra__map need_at;
	ASTRA_VEC(astra__idx_entry) needed;
	ASTRA_VEC(const char *) needed_by;
	char last_pack[ASTRA_ID_HEX]; /* of the last blob that resolved */
} ck;

static int list_pack_cb(const astra__obj_info *info, void *payload)
{
	ck *c = payload;
	const char *hex = strrchr(info->key, '/');
	hex = hex ? hex + 1 : info->key;
	if (strlen(hex) != 64)
		return 0;
	return astra__map_set(&c->packs_present, hex,
	        (void *)(intptr_t)(info->size + 1), NULL);
}

/* Records damage to `object`, affecting the current snapshot. */
static int damage(ck *c, const char *object, const char *error)
{
	void *v = astra__map_get(&c->damaged_at, object);
	astra__json *d;
	if (!v) {
		d = astra__json_new_object();
		if (!d)
			return ASTRA_ENOMEM;
		astra__json_set_str(d, "object", object);
		astra__json_set_str(d, "error", error);
		astra__json_set(d, "snapshots", astra__json_new_array());
		int rc = astra__json_push(c->damaged, d);
		if (rc)
			return rc;
		rc = astra__map_set(&c->damaged_at, object,
		        (void *)(intptr_t)astra__json_size(c->damaged), NULL);
		if (rc)
			return rc;
	} else {
		d = astra__json_at(c->damaged, (size_t)((intptr_t)v - 1));
	}
	if (c->snap) {
		astra__json *s = astra__json_get(d, "snapshots");
		for (size_t i = 0; i < astra__json_size(s); i++)
			if (!strcmp(astra__json_string_value(
			                    astra__json_at(s, i)),
			            c->snap))
				return 0;
		return astra__json_push(s, astra__json_new_string(c->snap));
	}
	return 0;
}

/* 0 when the blob resolves; otherwise records the damage and returns 1. */
static int check_ref(ck *c, const astra__id *id, const char *what)
{
	char hex[ASTRA_ID_HEX], obj[128];
	astra__idx_entry e;
	astra__id_hex(id, hex);
	c->blobs_checked++;
	const char *bad = astra__map_get(&c->bad_blobs, hex);
	if (bad) {
		snprintf(obj, sizeof(obj), "%s %s", what, hex);
		return damage(c, obj, bad) < 0 ? -1 : 1;
	}
	if (astra__repo_lookup(c->r, id, &e) != 0) {
		snprintf(obj, sizeof(obj), "%s %s", what, hex);
		return damage(c, obj, "missing from the index") < 0 ? -1 : 1;
	}
	char phex[ASTRA_ID_HEX];
	astra__id_hex(&c->r->index.packs[e.pack].id, phex);
	if (!astra__map_has(&c->packs_present, phex)) {
		snprintf(obj, sizeof(obj), "pack data/%.2s/%s", phex, phex);
		return damage(c, obj, "missing from the store") < 0 ? -1 : 1;
	}
	void *size = astra__map_get(&c->packs_present, phex);
	if ((uint64_t)e.offset + e.length > (uint64_t)(intptr_t)size - 1) {
		snprintf(obj, sizeof(obj), "pack data/%.2s/%s", phex, phex);
		return damage(c, obj, "truncated") < 0 ? -1 : 1;
	}
	memcpy(c->last_pack, phex, sizeof(phex));
	if (c->collect && !astra__map_has(&c->need_at, hex)) {
		if (astra_vec_push(&c->needed, e) ||
		        astra_vec_push(&c->needed_by, c->snap) ||
		        astra__map_set(&c->need_at, hex,
		                (void *)(intptr_t)c->needed.n, NULL))
			return -1;
	}
	return 0;
}

static int walk(ck *c, const astra__id *tree, int depth)
{
	char hex[ASTRA_ID_HEX];
	astra__id_hex(tree, hex);
	int bad = check_ref(c, tree, "tree");
	if (bad < 0)
		return ASTRA_ENOMEM;
	astra__json *t = NULL;
	int rc = 0;
	if (!bad && astra__tree_load(c->r, tree, &t) != 0) {
		char obj[160];
		int dr;
		if (c->collect) { /* named by its pack, like the blobs */
			char *why = astra__aprintf("tree %s: %s", hex,
			        astra_error_last()->message);
			snprintf(obj, sizeof(obj), "pack data/%.2s/%s",
			        c->last_pack, c->last_pack);
			dr = why ? damage(c, obj, why) : ASTRA_ENOMEM;
			free(why);
		} else {
			snprintf(obj, sizeof(obj), "tree %s", hex);
			dr = damage(c, obj, astra_error_last()->message);
		}
		if (dr < 0)
			return ASTRA_ENOMEM;
		bad = 1;
	}
	c->trees++;
	const astra__json *nodes = astra__json_get(t, "nodes");
	for (size_t i = 0; i < astra__json_size(nodes) && !rc; i++) {
		const astra__json *n = astra__json_at(nodes, i);
		const char *st = astra__json_str(n, "subtree");
		astra__id id;
		if (st) {
			if (astra__id_parse(&id, st) == 0 && depth < 4096)
				rc = walk(c, &id, depth + 1);
			continue;
		}
		const astra__json *exs = astra__json_get(n, "extents");
		for (size_t e = 0; e < astra__json_size(exs); e++) {
			const astra__json *ch = astra__json_get(
			        astra__json_at(exs, e), "chunks");
			for (size_t k = 0; k < astra__json_size(ch); k++) {
				if (astra__id_parse(
				            &id, astra__json_string_value(
				                         astra__json_at(
				                                 astra__json_at(
				                                         ch, k),
				                                 0))))
					continue;
				if (check_ref(c, &id, "chunk") < 0)
					return ASTRA_ENOMEM;
			}
		}
		if (c->op && (rc = astra__op_report(c->op, 0)))
			break;
	}
	astra__json_free(t);
	/* every snapshot walks its whole tree, so each damaged object lists
	 * all the snapshots that need it */
	return rc;
}

/* Reads every pack, verifies its header and each blob the index lists. */
static int read_all(ck *c)
{
	astra__repo *r = c->r;
	size_t np = r->index.npacks;
	int rc = 0;
	uint64_t total = 0;
	size_t pos = 0;
	void *v;
	while (astra__map_next(&c->packs_present, &pos, NULL, &v))
		total += (uint64_t)(intptr_t)v - 1;
	if (c->op) {
		c->op->p.bytes_total = total;
		c->op->p.stage = ASTRA_STAGE_CHECKING;
	}
	for (size_t pi = 0; pi < np && !rc; pi++) {
		char hex[ASTRA_ID_HEX], key[160], obj[160];
		astra__id_hex(&r->index.packs[pi].id, hex);
		if (!astra__map_has(&c->packs_present, hex))
			continue;
		snprintf(key, sizeof(key), "data/%.2s/%s", hex, hex);
		astra_buf pack = ASTRA_BUF_INIT;
		if (astra__store_get(r->store, key, 0, 0, &pack) != 0) {
			snprintf(obj, sizeof(obj), "pack %s", key);
			rc = damage(c, obj, astra_error_last()->message);
			astra_buf_dispose(&pack);
			continue;
		}
		/* header: the trailer, then the sealed entries */
		uint64_t hoff = 0;
		uint32_t hl = 0;
		int hrc = astra__pack_trailer(
		        (const uint8_t *)pack.ptr, pack.size, key, &hoff, &hl);
		if (!hrc) {
			astra_buf h = ASTRA_BUF_INIT;
			char aad[80];
			snprintf(aad, sizeof(aad), "pack %s", hex);
			snprintf(obj, sizeof(obj), "pack %s header", key);
			hrc = astra__repo_open_sealed(
			        r, aad, pack.ptr + hoff, hl, &h, obj);
			astra__pack_entry *ents = NULL;
			size_t nents = 0;
			if (!hrc)
				hrc = astra__pack_header_parse(
				        (const uint8_t *)h.ptr, h.size, hoff,
				        key, &ents, &nents);
			free(ents);
			astra_buf_dispose(&h);
		}
		if (hrc == ASTRA_ENOMEM) {
			rc = hrc;
		} else if (hrc) {
			snprintf(obj, sizeof(obj), "pack %s", key);
			rc = damage(c, obj, astra_error_last()->message);
		}
		for (size_t i = 0; i < r->index.cap && !rc; i++) {
			const astra__idx_entry *e = &r->index.slots[i];
			if (!e->used || e->pack != pi)
				continue;
			char bhex[ASTRA_ID_HEX];
			astra__id_hex(&e->id, bhex);
			astra_buf out = ASTRA_BUF_INIT;
			int bad = (uint64_t)e->offset + e->length > pack.size ||
			          astra__repo_decode_blob(r, e,
			                  (uint8_t *)pack.ptr + e->offset,
			                  &out) != 0;
			astra_buf_dispose(&out);
			if (bad) {
				char *why = astra__aprintf(
				        "does not decrypt or verify (in pack "
				        "%s at offset %u)",
				        key, e->offset);
				if (!why || astra__map_set(&c->bad_blobs, bhex,
				                    why, NULL)) {
					free(why);
					rc = ASTRA_ENOMEM;
				}
			}
		}
		if (c->op) {
			c->op->p.bytes_done += pack.size;
			if (!rc)
				rc = astra__op_report(c->op, 0);
		}
		astra_buf_dispose(&pack);
	}
	return rc;
}

int astra__data_check(
        astra__repo *r, int read_data, astra__op *op, astra__json **report)
{
	ck c;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.op = op;
	astra__json *list = NULL;
	*report = NULL;
	/* snapshots before the index: see compute_live in gc.c */
	int rc = astra__snapshot_list(r, &list);
	if (rc)
		return rc;
	astra__repo_index_reset(r);
	if ((rc = astra__repo_load_index(r))) {
		astra__json_free(list);
		return rc;
	}
	c.damaged = astra__json_new_array();
	if (!c.damaged) {
		astra__json_free(list);
		return ASTRA_ENOMEM;
	}
	if ((rc = astra__store_list(r->store, "data/", list_pack_cb, &c)) < 0)
		goto done;
	rc = 0;
	if (read_data && (rc = read_all(&c)))
		goto done;
	for (size_t i = 0; i < astra__json_size(list) && !rc; i++) {
		const astra__json *s = astra__json_at(list, i);
		c.snap = astra__json_str(s, "id");
		const char *tree = astra__json_str(s, "tree");
		astra__id id;
		if (astra__json_get(s, "error") || !tree ||
		        astra__id_parse(&id, tree)) {
			char obj[80];
			snprintf(obj, sizeof(obj), "snapshot %s", c.snap);
			const char *err = astra__json_str(s, "error");
			rc = damage(&c, obj, err ? err : "record is damaged");
			continue;
		}
		rc = walk(&c, &id, 0);
	}
	if (rc)
		goto done;
	/* packs on the store that no index knows (crashed writers) */
	uint64_t orphans = 0;
	size_t pos = 0;
	const char *hex;
	while (astra__map_next(&c.packs_present, &pos, &hex, NULL))
		if (!astra__map_has(&r->index.pack_lookup, hex))
			orphans++;
	astra__json *rep = astra__json_new_object();
	if (!rep) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	size_t nd = astra__json_size(c.damaged);
	astra__json_set_bool(rep, "ok", nd == 0);
	astra__json_set_bool(rep, "read_data", read_data);
	astra__json_set_int(rep, "snapshots", (int64_t)astra__json_size(list));
	astra__json_set_int(rep, "trees", (int64_t)c.trees);
	astra__json_set_int(rep, "blob_refs", (int64_t)c.blobs_checked);
	astra__json_set_int(rep, "blobs", (int64_t)r->index.n);
	astra__json_set_int(rep, "packs", (int64_t)r->index.npacks);
	astra__json_set_int(rep, "unindexed_packs", (int64_t)orphans);
	astra__json_set(rep, "damaged", c.damaged);
	c.damaged = NULL;
	*report = rep;
	if (nd)
		rc = damaged_error(rep, nd);
done:
	astra__json_free(list);
	astra__json_free(c.damaged);
	astra__map_free(&c.packs_present);
	size_t p2 = 0;
	void *v;
	while (astra__map_next(&c.bad_blobs, &p2, NULL, &v))
		free(v);
	astra__map_free(&c.bad_blobs);
	astra__map_free(&c.damaged_at);
	return rc;
}

static int cmp_pack_offset(const void *a, const void *b)
{
	const astra__idx_entry *x = a, *y = b;
	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Reads each pack that holds a needed blob once: its header must open and
 * parse, and each needed blob in it must decrypt and verify. Damage is
 * named by the pack. Counts what it read in *packs, *bytes, *blobs. */
static int read_needed(ck *c, uint64_t *packs, uint64_t *bytes, uint64_t *blobs)
{
	astra__repo *r = c->r;
	/* the snapshot that needed each blob goes with it through the sort */
	typedef struct {
		astra__idx_entry e;
		const char *by;
	} need;
	size_t n = c->needed.n;
	need *v = astra__calloc(n + 1, sizeof(*v));
	if (!v)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i].e = c->needed.v[i];
		v[i].by = c->needed_by.v[i];
	}
	qsort(v, n, sizeof(*v), cmp_pack_offset);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].e.pack == v[i - 1].e.pack)
			continue;
		char hex[ASTRA_ID_HEX];
		astra__id_hex(&r->index.packs[v[i].e.pack].id, hex);
		total += (uint64_t)(intptr_t)astra__map_get(
		                 &c->packs_present, hex) -
		         1;
	}
	if (c->op) {
		c->op->p.stage = ASTRA_STAGE_CHECKING;
		c->op->p.bytes_total = total;
		c->op->p.bytes_done = 0;
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t end = i;
		while (end < n && v[end].e.pack == v[i].e.pack)
			end++;
		char hex[ASTRA_ID_HEX], key[160], obj[170];
		astra__id_hex(&r->index.packs[v[i].e.pack].id, hex);
		snprintf(key, sizeof(key), "data/%.2s/%s", hex, hex);
		snprintf(obj, sizeof(obj), "pack %s", key);
		c->snap = v[i].by;
		astra_buf pack = ASTRA_BUF_INIT;
		if (astra__store_get(r->store, key, 0, 0, &pack) != 0) {
			rc = damage(c, obj, astra_error_last()->message);
			astra_buf_dispose(&pack);
			i = end;
			continue;
		}
		(*packs)++;
		*bytes += pack.size;
		uint64_t hoff = 0;
		uint32_t hl = 0;
		int hrc = astra__pack_trailer(
		        (const uint8_t *)pack.ptr, pack.size, key, &hoff, &hl);
		if (!hrc) {
			astra_buf h = ASTRA_BUF_INIT;
			char aad[80], hobj[180];
			snprintf(aad, sizeof(aad), "pack %s", hex);
			snprintf(hobj, sizeof(hobj), "pack %s header", key);
			hrc = astra__repo_open_sealed(
			        r, aad, pack.ptr + hoff, hl, &h, hobj);
			astra__pack_entry *ents = NULL;
			size_t nents = 0;
			if (!hrc)
				hrc = astra__pack_header_parse(
				        (const uint8_t *)h.ptr, h.size, hoff,
				        key, &ents, &nents);
			free(ents);
			astra_buf_dispose(&h);
		}
		if (hrc == ASTRA_ENOMEM)
			rc = hrc;
		else if (hrc)
			rc = damage(c, obj, astra_error_last()->message);
		for (size_t k = i; k < end && !rc; k++) {
			const astra__idx_entry *e = &v[k].e;
			astra_buf out = ASTRA_BUF_INIT;
			int bad = (uint64_t)e->offset + e->length > pack.size ||
			          astra__repo_decode_blob(r, e,
			                  (uint8_t *)pack.ptr + e->offset,
			                  &out) != 0;
			astra_buf_dispose(&out);
			(*blobs)++;
			if (!bad)
				continue;
			char bhex[ASTRA_ID_HEX];
			astra__id_hex(&e->id, bhex);
			char *why = astra__aprintf(
			        "%s blob %s at offset %u "
			        "(%u bytes) does not decrypt "
			        "or verify",
			        e->type == ASTRA_BLOB_TREE ? "tree" : "data",
			        bhex, e->offset, e->length);
			c->snap = v[k].by;
			rc = why ? damage(c, obj, why) : ASTRA_ENOMEM;
			free(why);
		}
		if (c->op) {
			c->op->p.bytes_done += pack.size;
			c->op->p.items_done++;
			if (!rc)
				rc = astra__op_report(c->op, 0);
		}
		astra_buf_dispose(&pack);
		i = end;
	}
	free(v);
	return rc;
}

int astra__data_check_some(astra__repo *r, const char *const *snaps,
        size_t nsnaps, const astra__id *blobs, size_t nblobs, astra__op *op,
        astra__json **report)
{
	ck c;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.op = op;
	c.collect = 1;
	*report = NULL;
	uint64_t packs = 0, bytes = 0, nread = 0;
	astra__json *recs = astra__json_new_array();
	c.damaged = astra__json_new_array();
	int rc = recs && c.damaged ? 0 : ASTRA_ENOMEM;
	/* the records before the index: see compute_live in gc.c */
	for (size_t i = 0; !rc && i < nsnaps; i++) {
		astra__json *s = NULL;
		char id[33];
		if (astra__snapshot_load(r, snaps[i], &s, id) != 0) {
			char obj[120];
			snprintf(obj, sizeof(obj), "snapshot %.64s", snaps[i]);
			c.snap = snaps[i];
			rc = damage(&c, obj, astra_error_last()->message);
			if (!rc)
				rc = astra__json_push(
				        recs, astra__json_new_null());
			continue;
		}
		rc = astra__json_push(recs, s);
	}
	if (!rc) {
		astra__repo_index_reset(r);
		rc = astra__repo_load_index(r);
	}
	if (!rc && (rc = astra__store_list(
	                    r->store, "data/", list_pack_cb, &c)) > 0)
		rc = 0;
	for (size_t i = 0; !rc && i < nsnaps; i++) {
		const astra__json *s = astra__json_at(recs, i);
		if (astra__json_type_of(s) != ASTRA_JSON_OBJECT)
			continue; /* reported above */
		c.snap = snaps[i];
		const char *tree = astra__json_str(s, "tree");
		astra__id id;
		if (!tree || astra__id_parse(&id, tree)) {
			char obj[120];
			snprintf(obj, sizeof(obj), "snapshot %.64s", snaps[i]);
			rc = damage(&c, obj, "record has no valid tree id");
			continue;
		}
		rc = walk(&c, &id, 0);
	}
	c.snap = NULL;
	for (size_t i = 0; !rc && i < nblobs; i++)
		if (check_ref(&c, &blobs[i], "blob") < 0)
			rc = ASTRA_ENOMEM;
	if (!rc)
		rc = read_needed(&c, &packs, &bytes, &nread);
	if (rc)
		goto done;
	astra__json *rep = astra__json_new_object();
	if (!rep) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	size_t nd = astra__json_size(c.damaged);
	astra__json_set_bool(rep, "ok", nd == 0);
	astra__json_set_int(rep, "snapshots", (int64_t)nsnaps);
	astra__json_set_int(rep, "trees", (int64_t)c.trees);
	astra__json_set_int(rep, "blob_refs", (int64_t)c.blobs_checked);
	astra__json_set_int(rep, "blobs", (int64_t)nread);
	astra__json_set_int(rep, "packs", (int64_t)packs);
	astra__json_set_int(rep, "bytes", (int64_t)bytes);
	astra__json_set(rep, "damaged", c.damaged);
	c.damaged = NULL;
	*report = rep;
	if (nd)
		rc = damaged_error(rep, nd);
done:
	astra__json_free(recs);
	astra__json_free(c.damaged);
	astra__map_free(&c.packs_present);
	astra__map_free(&c.bad_blobs);
	astra__map_free(&c.damaged_at);
	astra__map_free(&c.need_at);
	astra_vec_free(&c.needed);
	astra_vec_free(&c.needed_by);
	return rc;
}
