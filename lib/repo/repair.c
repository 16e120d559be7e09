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

int astra__pack_read_header(astra__repo *r, const char *hex, uint64_t size,
        astra__idx_entry **out, size_t *n)
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
	if ((rc = astra__store_get(r->store, key, size - 4, 4, &tail)))
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
	if ((rc = astra__store_get(r->store, key, hoff, hl, &sealed)))
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

int astra__data_repair(astra__repo *r, astra__op *op, astra__json **report)
{
	listing l = { ASTRA_MAP_INIT };
	astra__json *damaged = astra__json_new_array();
	astra__json *unreadable = astra__json_new_array();
	astra__json *rep = astra__json_new_object();
	astra__json *ck = NULL;
	astra__writer *w = NULL;
	ASTRA_VEC(astra__idx_entry) add = ASTRA_VEC_INIT;
	char rkey[64] = "";
	uint64_t npacks = 0;
	int rc = (!damaged || !unreadable || !rep) ? ASTRA_ENOMEM : 0;
	*report = NULL;
	if (rc)
		goto done;
	/* what the readable index files know, and which files are damaged */
	astra__repo_index_reset(r);
	if ((rc = astra__repo_load_index_mode(
	             r, ASTRA_INDEX_LOAD_LENIENT, NULL, damaged)))
		goto done;
	if ((rc = astra__store_list(r->store, "data/", list_cb, &l)) < 0)
		goto done;
	rc = 0;
	if (op)
		op->p.items_total = l.packs.n;
	size_t pos = 0;
	const char *hex;
	void *sz;
	while (!rc && astra__map_next(&l.packs, &pos, &hex, &sz)) {
		astra__idx_entry *ents = NULL;
		size_t n = 0;
		astra__id pid;
		npacks++;
		if (astra__id_parse(&pid, hex))
			continue;
		int hr = astra__pack_read_header(
		        r, hex, (uint64_t)(intptr_t)sz - 1, &ents, &n);
		if (hr == ASTRA_ENOTFOUND) {
			astra_error_clear();
			continue;
		}
		if (hr == ASTRA_ENOMEM) {
			rc = hr;
			break;
		}
		if (hr) {
			astra__json *u = astra__json_new_object();
			if (!u) {
				rc = ASTRA_ENOMEM;
				break;
			}
			astra__json_set_str(u, "pack", hex);
			astra__json_set_str(
			        u, "error", astra_error_last()->message);
			astra_error_clear();
			rc = astra__json_push(unreadable, u);
			continue;
		}
		/* a blob is added unless the index already locates it in a
		 * pack that is on the store */
		pthread_rwlock_wrlock(&r->lock);
		int pi = astra__index_pack(&r->index, &pid);
		for (size_t i = 0; i < n && pi >= 0 && !rc; i++) {
			int k = astra__index_find(&r->index, &ents[i].id);
			if (k >= 0 &&
			        r->index.slots[k].pack != ASTRA_PACK_NONE) {
				char ph[ASTRA_ID_HEX];
				astra__id_hex(
				        &r->index.packs[r->index.slots[k].pack]
				                 .id,
				        ph);
				if (astra__map_has(&l.packs, ph))
					continue;
			}
			ents[i].pack = (uint32_t)pi;
			r->index.packs[pi].kind = ents[i].type;
			int put = astra__index_put(&r->index, &ents[i]);
			if (put < 0)
				rc = put;
			else
				rc = astra_vec_push(&add, ents[i]);
		}
		if (pi < 0)
			rc = pi;
		pthread_rwlock_unlock(&r->lock);
		free(ents);
		if (op) {
			op->p.items_done++;
			if (!rc)
				rc = astra__op_report(op, 0);
		}
	}
	if (rc)
		goto done;
	/* the new index file first, then the record that supersedes the
	 * damaged files (gc reads the records before the index) */
	if (add.n) {
		if ((rc = astra__writer_new(&w, r)) ||
		        (rc = astra__writer_write_index(w, add.v, add.n)))
			goto done;
	}
	if (astra__json_size(damaged)) {
		uint8_t raw[16];
		char rhex[33];
		astra__json *m = astra__json_new_object();
		if (!m) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		if ((rc = astra__random(raw, sizeof(raw)))) {
			astra__json_free(m);
			goto done;
		}
		astra__hex_encode(rhex, raw, sizeof(raw));
		snprintf(rkey, sizeof(rkey), "repairs/%s", rhex);
		astra__json_set_int(m, "time", astra__wall_ns() / 1000000000LL);
		astra__json_set(m, "damaged", astra__json_dup(damaged));
		astra__json_set_int(m, "blobs", (int64_t)add.n);
		rc = astra__repo_put_json(r, rkey, m, ASTRA_PUT_IF_ABSENT);
		astra__json_free(m);
		if (rc)
			goto done;
	}
	/* what snapshots still miss, as check sees it with the new file */
	int crc = astra__data_check(r, 0, op, &ck);
	if (crc && crc != ASTRA_ECORRUPT) {
		rc = crc;
		goto done;
	}
	astra_error_clear();
	const astra__json *missing = astra__json_get(ck, "damaged");
	size_t nmissing = astra__json_size(missing);
	size_t nunread = astra__json_size(unreadable);
	astra__json_set_bool(rep, "ok", !nmissing && !nunread);
	astra__json_set_int(rep, "packs", (int64_t)npacks);
	astra__json_set_int(rep, "blobs_indexed", (int64_t)add.n);
	astra__json_set_int(
	        rep, "damaged_index_count", (int64_t)astra__json_size(damaged));
	astra__json_set(rep, "damaged_index_files", damaged);
	damaged = NULL;
	astra__json_set(rep, "unreadable_packs", unreadable);
	unreadable = NULL;
	if (rkey[0])
		astra__json_set_str(rep, "record", rkey);
	astra__json_set(rep, "missing",
	        missing ? astra__json_dup(missing) : astra__json_new_array());
	*report = rep;
	rep = NULL;
	if (nmissing || nunread) {
		const astra__json *m0 = astra__json_at(missing, 0);
		if (nmissing)
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "repair: %zu object(s) still missing or damaged "
			        "(first: %s: %s), %zu pack header(s) unreadable",
			        nmissing, astra__json_str(m0, "object"),
			        astra__json_str(m0, "error"), nunread);
		else
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "repair: %zu pack header(s) cannot be read; "
			        "every snapshot resolves",
			        nunread);
	}
done:
	astra__writer_free(w);
	astra_vec_free(&add);
	astra__map_free(&l.packs);
	astra__json_free(damaged);
	astra__json_free(unreadable);
	astra__json_free(rep);
	astra__json_free(ck);
	return rc;
}

astra_status astra_repair_options_init(
        astra_repair_options *o, unsigned int version)
{
	ASTRA__OPTIONS_DEFAULTS(
	        astra_repair_options, ASTRA_REPAIR_OPTIONS_INIT);
	static const size_t sizes[] = { sizeof(defaults) };
	_Static_assert(ASTRA__NELEM(sizes) == ASTRA_REPAIR_OPTIONS_VERSION,
	        "one size per version");
	return astra__options_init(o, &defaults, sizes, ASTRA__NELEM(sizes),
	        version, "astra_repair_options");
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
