/*
 * astra__op_part: the parts of one operation (volumes) report into one
 * progress stream whose bytes only grow and end at the total.
 */
#include <string.h>

#include "astra_test.h"
#include "core/op.h"

TestSuite(core_op_part);

typedef struct {
	astra_progress v[64];
	size_t n;
} reports;

static int rec(const astra_progress *p, void *payload)
{
	reports *r = payload;
	if (r->n < 64)
		r->v[r->n++] = *p;
	return 0;
}

static astra_progress prog(uint64_t done, uint64_t total)
{
	astra_progress p;
	memset(&p, 0, sizeof(p));
	p.bytes_done = done;
	p.bytes_total = total;
	p.items_done = 99; /* a part's own items never reach the parent */
	return p;
}

Test(core_op_part, backup_parts_add_their_totals_and_bytes)
{
	reports r = { 0 };
	astra__op op;
	astra__op_init(&op, rec, &r, NULL);
	op.min_interval_ms = 0;
	op.p.items_total = 3;
	astra__op_part a = { &op, NULL, 1, 0, 0 }, b = { &op, NULL, 1, 0, 0 };
	astra_progress p;
	p = prog(0, 100); /* a's pre-scan */
	cr_assert_eq(astra__op_part_cb(&p, &a), 0);
	p = prog(60, 100);
	cr_assert_eq(astra__op_part_cb(&p, &a), 0);
	p = prog(100, 100);
	cr_assert_eq(astra__op_part_cb(&p, &a), 0);
	p = prog(0, 50); /* b starts from 0: the parent does not go back */
	cr_assert_eq(astra__op_part_cb(&p, &b), 0);
	p = prog(70, 50); /* b grew while read: the total follows */
	cr_assert_eq(astra__op_part_cb(&p, &b), 0);
	cr_assert_eq(op.p.bytes_done, 170);
	cr_assert_eq(op.p.bytes_total, 170);
	cr_assert_eq(op.p.items_done, 0);
	for (size_t i = 1; i < r.n; i++) {
		cr_assert_geq(r.v[i].bytes_done, r.v[i - 1].bytes_done);
		cr_assert_geq(r.v[i].bytes_total, r.v[i - 1].bytes_total);
		cr_assert_leq(r.v[i].bytes_done, r.v[i].bytes_total);
	}
}

Test(core_op_part, restore_parts_stay_within_the_known_total)
{
	reports r = { 0 };
	astra__op op;
	astra__op_init(&op, rec, &r, NULL);
	op.min_interval_ms = 0;
	op.p.bytes_total = 100; /* the recorded sizes */
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	astra__op_part a = { &op, &mu, 0, 0, 0 }, b = { &op, &mu, 0, 0, 0 };
	astra_progress p = prog(40, 40);
	cr_assert_eq(astra__op_part_cb(&p, &a), 0);
	p = prog(30, 0);
	cr_assert_eq(astra__op_part_cb(&p, &b), 0);
	p = prog(90, 0); /* more than recorded: held at the total */
	cr_assert_eq(astra__op_part_cb(&p, &b), 0);
	cr_assert_eq(op.p.bytes_total, 100);
	cr_assert_eq(op.p.bytes_done, 100);
	/* a cancelled operation stops the part */
	astra_cancel *c = NULL;
	cr_assert_eq(astra_cancel_new(&c), 0);
	op.cancel = c;
	astra_cancel_request(c);
	p = prog(41, 40);
	cr_assert_eq(astra__op_part_cb(&p, &a), ASTRA_ECANCELLED);
	astra_cancel_free(c);
}
