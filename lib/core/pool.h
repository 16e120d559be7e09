/*
 * A fixed-size thread pool with a bounded task queue. submit() blocks while
 * the queue is full, which gives pipelines back-pressure.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_POOL_H
#define ASTRA_CORE_POOL_H

#include <stddef.h>

typedef struct astra__pool astra__pool;
typedef void (*astra__task_fn)(void *arg);

/* threads == 0: one per online CPU. queue == 0: 4 per thread. */
int astra__pool_new(astra__pool **out, unsigned threads, size_t queue);
int astra__pool_submit(astra__pool *p, astra__task_fn fn, void *arg);
/* Waits until every submitted task has finished. */
void astra__pool_wait(astra__pool *p);
unsigned astra__pool_threads(const astra__pool *p);
/* Waits, stops the workers and frees. NULL is ok. */
void astra__pool_free(astra__pool *p);

/* Number of online CPUs (at least 1). */
unsigned astra__cpu_count(void);

#endif
