/*
 * An operation's progress reporting and cancellation, shared by every long
 * call: report() invokes the user's callback and checks the token.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_OP_H
#define ASTRA_CORE_OP_H

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

#endif
