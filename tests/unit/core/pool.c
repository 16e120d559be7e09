#include <stdatomic.h>

#include "astra_test.h"
#include "core/pool.h"
#include "core/vec.h"

static atomic_long total;

static void add_task(void *arg)
{
	atomic_fetch_add(&total, (long)(intptr_t)arg);
}

Test(core_pool, runs_every_task_with_a_bounded_queue)
{
	astra__pool *p;
	atomic_store(&total, 0);
	cr_assert_astra_ok(astra__pool_new(&p, 3, 2));
	for (intptr_t i = 1; i <= 1000; i++)
		cr_assert_astra_ok(astra__pool_submit(p, add_task, (void *)i));
	astra__pool_wait(p);
	cr_assert_eq(atomic_load(&total), 500500);
	for (intptr_t i = 1; i <= 10; i++)
		astra__pool_submit(p, add_task, (void *)i);
	astra__pool_free(p); /* waits for pending work */
	cr_assert_eq(atomic_load(&total), 500555);
}

Test(core_vec, push_and_foreach)
{
	ASTRA_VEC(int) v = ASTRA_VEC_INIT;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(astra_vec_push(&v, i * 2), 0);
	int sum = 0, x;
	astra_vec_foreach (&v, i, x)
		sum += x;
	cr_assert_eq(sum, 9900);
	astra_vec_free(&v);
	cr_assert_eq(v.n, 0);
}
