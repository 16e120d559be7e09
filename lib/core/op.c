/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/op.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"

struct astra_cancel {
	atomic_int requested;
};

astra_status astra_cancel_new(astra_cancel **out)
{
	ASTRA_ASSERT_ARG(out);
	astra_cancel *c = astra__calloc(1, sizeof(*c));
	ASTRA_CHECK_ALLOC(c);
	atomic_init(&c->requested, 0);
	*out = c;
	return 0;
}

void astra_cancel_request(astra_cancel *c)
{
	if (c)
		atomic_store(&c->requested, 1);
}

int astra_cancel_requested(const astra_cancel *c)
{
	return c ? atomic_load(&((astra_cancel *)c)->requested) : 0;
}

void astra_cancel_reset(astra_cancel *c)
{
	if (c)
		atomic_store(&c->requested, 0);
}

void astra_cancel_free(astra_cancel *c)
{
	free(c);
}

void astra__op_init(astra__op *op, astra_progress_cb cb, void *payload,
        astra_cancel *cancel)
{
	memset(op, 0, sizeof(*op));
	op->cb = cb;
	op->payload = payload;
	op->cancel = cancel;
	op->p.version = ASTRA_PROGRESS_VERSION;
	op->min_interval_ms = 100;
}

int astra__op_check(astra__op *op)
{
	if (op && astra_cancel_requested(op->cancel))
		return astra__err(ASTRA_ECANCELLED, ASTRA_ERROR_CALLBACK,
		        "operation cancelled");
	return 0;
}

int astra__op_report(astra__op *op, int force)
{
	if (!op)
		return 0;
	int rc = astra__op_check(op);
	if (rc || !op->cb)
		return rc;
	uint64_t now = astra__mono_ns();
	if (!force && now - op->last_report_ns <
	                      (uint64_t)op->min_interval_ms * 1000000ULL)
		return 0;
	op->last_report_ns = now;
	int r = op->cb(&op->p, op->payload);
	if (r == 0)
		return 0;
	if (r <= ASTRA_EUSER)
		return astra__err(r, ASTRA_ERROR_CALLBACK,
		        "progress callback returned %d", r);
	return astra__err(ASTRA_ECANCELLED, ASTRA_ERROR_CALLBACK,
	        "cancelled by the progress callback");
}

int astra__op_part_cb(const astra_progress *p, void *payload)
{
	astra__op_part *pt = payload;
	astra__op *op = pt->parent;
	if (pt->mu)
		pthread_mutex_lock(pt->mu);
	if (p->bytes_done > pt->done) {
		op->p.bytes_done += p->bytes_done - pt->done;
		pt->done = p->bytes_done;
	}
	if (pt->count_total && p->bytes_total > pt->total) {
		op->p.bytes_total += p->bytes_total - pt->total;
		pt->total = p->bytes_total;
	}
	if (op->p.bytes_done > op->p.bytes_total) {
		if (pt->count_total)
			op->p.bytes_total = op->p.bytes_done;
		else
			op->p.bytes_done = op->p.bytes_total;
	}
	int rc = astra__op_report(op, 0);
	if (pt->mu)
		pthread_mutex_unlock(pt->mu);
	return rc;
}
