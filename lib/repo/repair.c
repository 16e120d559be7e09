/*
 * Repair: index the blobs of every pack again from the packs' own sealed
 * headers, so that blobs whose only index file is damaged become
 * reachable again (docs/format.md, "Repair"). Nothing is deleted.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra/vault.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/vault_internal.h"

#define HDR_ENTRY 46

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Bytes [off, off+len) of pack `key`: from `mem` (the whole pack, `size`
 * bytes) when given, else from the store. */
static int pack_range(astra__repo *r, const char *key, const uint8_t *mem,
        uint64_t off, uint64_t len, astra_buf *out)
{
	if (!mem)
		return astra__store_get(r->store, key, off, len, out);
	return astra__buf_put(out, mem + off, (size_t)len);
}

static int pack_header(astra__repo *r, const char *hex, uint64_t size,
        const uint8_t *mem, astra__idx_entry **out, size_t *n)
{
	char key[160];
	astra_buf tail = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	astra_buf plain = ASTRA_BUF_INIT;
	astra__idx_entry *ents = NULL;
	int rc = 0;
	*out = NULL;
	*n = 0;
	snprintf(key, sizeof(key), "data/%.2s/%s", hex, hex);
	if (!size) {
		astra__obj_info info;
		memset(&info, 0, sizeof(info));
		if ((rc = astra__store_head(r->store, key, &info)))
			goto done;
		size = info.size;
	}
	if (size < 12 + ASTRA_AEAD_OVERHEAD) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s is damaged: too short for a header (%llu "
		        "bytes)",
		        key, (unsigned long long)size);
		goto done;
	}
	if ((rc = pack_range(r, key, mem, size - 4, 4, &tail)))
		goto done;
	if (tail.size != 4) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s is damaged: short read of its last 4 bytes",
		        key);
		goto done;
	}
	uint64_t hl = get32((uint8_t *)tail.ptr);
	/* 8 bytes of magic before the blobs, 4 of length after the header */
	if (hl < ASTRA_AEAD_OVERHEAD || hl + 12 > size) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s is damaged: header length %llu does not fit "
		        "its %llu bytes",
		        key, (unsigned long long)hl, (unsigned long long)size);
		goto done;
	}
	uint64_t hoff = size - 4 - hl;
	if ((rc = pack_range(r, key, mem, hoff, hl, &sealed)))
		goto done;
	char aad[80];
	snprintf(aad, sizeof(aad), "pack %s", hex);
	char what[200];
	snprintf(what, sizeof(what), "header of pack %s", key);
	if ((rc = astra__repo_open_sealed(
	             r, aad, sealed.ptr, sealed.size, &plain, what)))
		goto done;
	if (plain.size % HDR_ENTRY) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "pack %s is damaged: header of %zu bytes is not a "
		        "whole number of %d-byte entries",
		        key, plain.size, HDR_ENTRY);
		goto done;
	}
	size_t ne = plain.size / HDR_ENTRY;
	ents = astra__calloc(ne + 1, sizeof(*ents));
	if (!ents) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < ne; i++) {
		const uint8_t *p = (uint8_t *)plain.ptr + i * HDR_ENTRY;
		astra__idx_entry *e = &ents[i];
		e->type = p[0];
		e->flags = p[1];
		memcpy(e->id.b, p + 2, 32);
		e->offset = get32(p + 34);
		e->length = get32(p + 38);
		e->raw = get32(p + 42);
		e->pack = ASTRA_PACK_NONE;
		if ((e->type != ASTRA_BLOB_DATA &&
		            e->type != ASTRA_BLOB_TREE) ||
		        e->offset < 8 ||
		        (uint64_t)e->offset + e->length > hoff) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "pack %s is damaged: header entry %zu is out "
			        "of range",
			        key, i);
			goto done;
		}
	}
	*out = ents;
	*n = ne;
	ents = NULL;
done:
	free(ents);
	astra_buf_dispose(&tail);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	return rc;
}

int astra__pack_read_header(astra__repo *r, const char *hex, uint64_t size,
        astra__idx_entry **out, size_t *n)
{
	return pack_header(r, hex, size, NULL, out, n);
}

int astra__pack_parse_header(astra__repo *r, const char *hex, const void *pack,
        size_t size, astra__idx_entry **out, size_t *n)
{
	return pack_header(r, hex, size, pack, out, n);
}

int astra__pack_note_unreadable(astra__json *unreadable, const char *hex)
{
	astra__json *u = astra__json_new_object();
	if (!u)
		return ASTRA_ENOMEM;
	astra__json_set_str(u, "pack", hex);
	astra__json_set_str(u, "error", astra_error_last()->message);
	astra_error_clear();
	return astra__json_push(unreadable, u);
}

typedef struct {
	astra__map packs; /* hex -> size + 1 */
} listing;

static int list_cb(const astra__obj_info *info, void *payload)
{
	listing *l = payload;
	const char *hex = strrchr(info->key, '/');
	hex = hex ? hex + 1 : info->key;
	if (strlen(hex) != 64)
		return 0;
	return astra__map_set(
	        &l->packs, hex, (void *)(intptr_t)(info->size + 1), NULL);
}

/*
 * One repair run, in the order its side effects happen (docs/format.md,
 * "Repair"):
 *
 *   repair_load_index     the readable index files; notes damaged ones
 *   repair_list_packs     the packs on the store
 *   repair_index_packs    each pack's header; entries the index misses
 *   repair_write_index    one new index file with those entries
 *   repair_write_record   repairs/<id> naming the damaged index files
 *   repair_check          check without data; the report and its verdict
 *
 * Nothing is deleted. Every step returns 0 or an error code with the
 * message set; the run stops at the first error. repair_run_free
 * releases whatever the run holds.
 */
typedef struct {
	astra__repo *r;
	astra__op *op;
	listing l;
	astra__json *damaged; /* index files that do not load */
	astra__json *unreadable; /* [{"pack", "error"}] */
	astra__json *rep;
	astra__json *ck; /* check's report */
	ASTRA_VEC(astra__idx_entry) add; /* entries for the new index file */
	char rkey[64]; /* the repair record written, or "" */
	uint64_t npacks;
	astra__json **report; /* the caller's; set by repair_check only */
} repair_run;

/* Zeroes *g and allocates the report's lists: 0, or ASTRA_ENOMEM with *g
 * still safe to pass to repair_run_free. */
static int repair_run_init(
        repair_run *g, astra__repo *r, astra__op *op, astra__json **report)
{
	memset(g, 0, sizeof(*g));
	g->r = r;
	g->op = op;
	g->report = report;
	g->damaged = astra__json_new_array();
	g->unreadable = astra__json_new_array();
	g->rep = astra__json_new_object();
	return (!g->damaged || !g->unreadable || !g->rep) ? ASTRA_ENOMEM : 0;
}

static void repair_run_free(repair_run *g)
{
	astra_vec_free(&g->add);
	astra__map_free(&g->l.packs);
	astra__json_free(g->damaged);
	astra__json_free(g->unreadable);
	astra__json_free(g->rep);
	astra__json_free(g->ck);
}

/* Resets the in-memory index and loads every index file leniently: what
 * the readable ones know is in r->index, the names of the damaged ones in
 * g->damaged. Reads only. */
static int repair_load_index(repair_run *g)
{
	astra__repo_index_reset(g->r);
	return astra__repo_load_index_mode(
	        g->r, ASTRA_INDEX_LOAD_LENIENT, NULL, g->damaged);
}

/* Lists data/ into g->l (size by pack hex) and sets the progress total to
 * the number of packs. Reads only. */
static int repair_list_packs(repair_run *g)
{
	int rc = astra__store_list(g->r->store, "data/", list_cb, &g->l);
	if (rc < 0)
		return rc;
	if (g->op)
		g->op->p.items_total = g->l.packs.n;
	return 0;
}

/* Under the index's write lock: adds to r->index, and to g->add, each of
 * the n header entries of pack pid unless the index already locates its
 * id in a pack that is on the store. Memory only. */
static int repair_add_entries(
        repair_run *g, const astra__id *pid, astra__idx_entry *ents, size_t n)
{
	astra__repo *r = g->r;
	int rc = 0;
	pthread_rwlock_wrlock(&r->lock);
	int pi = astra__index_pack(&r->index, pid);
	for (size_t i = 0; i < n && pi >= 0 && !rc; i++) {
		int k = astra__index_find(&r->index, &ents[i].id);
		if (k >= 0 && r->index.slots[k].pack != ASTRA_PACK_NONE) {
			char ph[ASTRA_ID_HEX];
			astra__id_hex(
			        &r->index.packs[r->index.slots[k].pack].id, ph);
			if (astra__map_has(&g->l.packs, ph))
				continue;
		}
		ents[i].pack = (uint32_t)pi;
		r->index.packs[pi].kind = ents[i].type;
		int put = astra__index_put(&r->index, &ents[i]);
		if (put < 0)
			rc = put;
		else
			rc = astra_vec_push(&g->add, ents[i]);
	}
	if (pi < 0)
		rc = pi;
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

/* One pack of the listing (size: its size on the store): reads its
 * header and adds the entries the index misses. A pack gone meanwhile or
 * not named by a pack id is skipped; one whose header cannot be read is
 * noted in g->unreadable. Only a pack whose header was read counts in the
 * progress. Memory only. */
static int repair_index_pack(repair_run *g, const char *hex, uint64_t size)
{
	astra__idx_entry *ents = NULL;
	size_t n = 0;
	astra__id pid;
	if (astra__id_parse(&pid, hex))
		return 0;
	int hr = astra__pack_read_header(g->r, hex, size, &ents, &n);
	if (hr == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0;
	}
	if (hr == ASTRA_ENOMEM)
		return hr;
	if (hr)
		return astra__pack_note_unreadable(g->unreadable, hex);
	/* a blob is added unless the index already locates it in a pack that
	 * is on the store */
	int rc = repair_add_entries(g, &pid, ents, n);
	free(ents);
	if (g->op) {
		g->op->p.items_done++;
		if (!rc)
			rc = astra__op_report(g->op, 0);
	}
	return rc;
}

/* Every pack of the listing, counted in g->npacks, through
 * repair_index_pack. */
static int repair_index_packs(repair_run *g)
{
	int rc = 0;
	size_t pos = 0;
	const char *hex;
	void *sz;
	while (!rc && astra__map_next(&g->l.packs, &pos, &hex, &sz)) {
		g->npacks++;
		rc = repair_index_pack(g, hex, (uint64_t)(intptr_t)sz - 1);
	}
	return rc;
}

/* Writes g->add, if any, as one new index file. On failure nothing that
 * names it is written. */
static int repair_write_index(repair_run *g)
{
	if (!g->add.n)
		return 0;
	astra__writer *w = NULL;
	int rc = astra__writer_new(&w, g->r);
	if (!rc)
		rc = astra__writer_write_index(w, g->add.v, g->add.n);
	astra__writer_free(w);
	return rc;
}

/* Pre: the new index file is written (gc reads the records before the
 * index). When index files are damaged, writes repairs/<32 random hex>
 * {"time", "damaged", "blobs"} (if absent) and sets g->rkey to its key. */
static int repair_write_record(repair_run *g)
{
	if (!astra__json_size(g->damaged))
		return 0;
	uint8_t raw[16];
	char rhex[33];
	astra__json *m = astra__json_new_object();
	if (!m)
		return ASTRA_ENOMEM;
	int rc = astra__random(raw, sizeof(raw));
	if (rc) {
		astra__json_free(m);
		return rc;
	}
	astra__hex_encode(rhex, raw, sizeof(raw));
	snprintf(g->rkey, sizeof(g->rkey), "repairs/%s", rhex);
	astra__json_set_int(m, "time", astra__wall_ns() / 1000000000LL);
	astra__json_set(m, "damaged", astra__json_dup(g->damaged));
	astra__json_set_int(m, "blobs", (int64_t)g->add.n);
	rc = astra__repo_put_json(g->r, g->rkey, m, ASTRA_PUT_IF_ABSENT);
	astra__json_free(m);
	return rc;
}

/* Runs check (without reading data) to see what snapshots still miss with
 * the new file, hands the report to *g->report, and returns ASTRA_ECORRUPT
 * (naming the first missing object) when something is missing or a pack
 * header is unreadable. An error of check's own but ASTRA_ECORRUPT is
 * returned with no report. */
static int repair_check(repair_run *g)
{
	int crc = astra__data_check(g->r, 0, g->op, &g->ck);
	if (crc && crc != ASTRA_ECORRUPT)
		return crc;
	astra_error_clear();
	astra__json *rep = g->rep;
	const astra__json *missing = astra__json_get(g->ck, "damaged");
	size_t nmissing = astra__json_size(missing);
	size_t nunread = astra__json_size(g->unreadable);
	astra__json_set_bool(rep, "ok", !nmissing && !nunread);
	astra__json_set_int(rep, "packs", (int64_t)g->npacks);
	astra__json_set_int(rep, "blobs_indexed", (int64_t)g->add.n);
	astra__json_set_int(rep, "damaged_index_count",
	        (int64_t)astra__json_size(g->damaged));
	astra__json_set(rep, "damaged_index_files", g->damaged);
	g->damaged = NULL;
	astra__json_set(rep, "unreadable_packs", g->unreadable);
	g->unreadable = NULL;
	if (g->rkey[0])
		astra__json_set_str(rep, "record", g->rkey);
	astra__json_set(rep, "missing",
	        missing ? astra__json_dup(missing) : astra__json_new_array());
	*g->report = rep;
	g->rep = NULL;
	if (nmissing || nunread) {
		const astra__json *m0 = astra__json_at(missing, 0);
		if (nmissing)
			return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "repair: %zu object(s) still missing or damaged "
			        "(first: %s: %s), %zu pack header(s) unreadable",
			        nmissing, astra__json_str(m0, "object"),
			        astra__json_str(m0, "error"), nunread);
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "repair: %zu pack header(s) cannot be read; every "
		        "snapshot resolves",
		        nunread);
	}
	return 0;
}

/* The steps of a run, in order (see repair_run). */
static int (*const repair_steps[])(repair_run *) = {
	repair_load_index,
	repair_list_packs,
	repair_index_packs,
	/* the new index file first, then the record that supersedes the
	 * damaged files (gc reads the records before the index) */
	repair_write_index,
	repair_write_record,
	/* what snapshots still miss, as check sees it with the new file */
	repair_check,
};

int astra__data_repair(astra__repo *r, astra__op *op, astra__json **report)
{
	repair_run g;
	int rc = repair_run_init(&g, r, op, report);
	*report = NULL;
	for (size_t i = 0; !rc && i < ASTRA__NELEM(repair_steps); i++)
		rc = repair_steps[i](&g);
	repair_run_free(&g);
	return rc;
}

astra_status astra_repair_options_init(
        astra_repair_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_repair_options, REPAIR, o, version, sizeof(defaults));
}

astra_status astra_vault_repair(
        astra_vault *v, const astra_repair_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(v);
	int rc;
	if (o &&
	        (rc = astra__check_version(o->version,
	                 ASTRA_REPAIR_OPTIONS_VERSION, "astra_repair_options")))
		return rc;
	astra__op op;
	astra__op_init(&op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o ? o->cancel : NULL);
	op.p.stage = ASTRA_STAGE_CHECKING;
	astra__json *rep = NULL;
	rc = astra__data_repair(v->r, &op, &rep);
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
