/*
 * An operation's progress reporting and cancellation, shared by every long
 * call: report() invokes the user's callback and checks the token.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_OP_H
#define ASTRA_CORE_OP_H

#include <pthread.h>

#include "astra/common.h"

typedef struct {
	astra_progress_cb cb;
	void *payload;
	astra_cancel *cancel;
	astra_progress p;
	uint64_t last_report_ns;
	uint64_t last_report_bytes;
	unsigned min_interval_ms; /* rate limit for non-final reports */
} astra__op;

void astra__op_init(astra__op *op, astra_progress_cb cb, void *payload,
        astra_cancel *cancel);
/* 0, or ASTRA_ECANCELLED / the callback's code with the error set. */
int astra__op_check(astra__op *op);
/* Reports op->p (rate limited unless force) and checks cancellation. */
int astra__op_report(astra__op *op, int force);

/*
 * A part of an operation done by a callee with progress of its own (a
 * volume's data mover): the callee reports through astra__op_part_cb with
 * the part as its payload, and only its bytes reach the parent, added to
 * the parent's, so that the caller sees one stream across all parts.
 * `mu` (may be NULL) serialises parts that run in parallel. With
 * count_total the part's bytes_total is added to the parent's as it grows
 * (a backup learns each volume's size from its pre-scan); without, the
 * parent's total is known beforehand (a restore: the recorded sizes) and
 * bytes_done is held at most at it. The parent's bytes only grow.
 */
typedef struct {
	astra__op *parent;
	pthread_mutex_t *mu;
	int count_total;
	uint64_t done, total; /* what this part added to the parent so far */
} astra__op_part;

int astra__op_part_cb(const astra_progress *p, void *payload);

#endif
