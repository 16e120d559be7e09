/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

typedef struct {
	astra__task_fn fn;
	void *arg;
} task;

struct astra__pool {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, idle;
	task *q;
	size_t cap, head, len;
	size_t running;
	int stop;
	unsigned nthreads;
	pthread_t *threads;
};

unsigned astra__cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static void *worker(void *arg)
{
	astra__pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->len == 0 && !p->stop)
			pthread_cond_wait(&p->not_empty, &p->mu);
		if (p->len == 0 && p->stop)
			break;
		task t = p->q[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		p->running++;
		pthread_cond_signal(&p->not_full);
		pthread_mutex_unlock(&p->mu);
		t.fn(t.arg);
		pthread_mutex_lock(&p->mu);
		p->running--;
		if (p->len == 0 && p->running == 0)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int astra__pool_new(astra__pool **out, unsigned threads, size_t queue)
{
	*out = NULL;
	if (threads == 0)
		threads = astra__cpu_count();
	if (queue == 0)
		queue = (size_t)threads * 4;
	astra__pool *p = astra__calloc(1, sizeof(*p));
	if (!p)
		return ASTRA_ENOMEM;
	p->q = astra__calloc(queue, sizeof(task));
	p->threads = astra__calloc(threads, sizeof(pthread_t));
	if (!p->q || !p->threads) {
		free(p->q);
		free(p->threads);
		free(p);
		return ASTRA_ENOMEM;
	}
	p->cap = queue;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	pthread_cond_init(&p->idle, NULL);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			p->nthreads = i;
			astra__pool_free(p);
			return astra__err(ASTRA_ERROR, ASTRA_ERROR_OS,
			        "cannot start worker thread");
		}
		p->nthreads = i + 1;
	}
	*out = p;
	return 0;
}

int astra__pool_submit(astra__pool *p, astra__task_fn fn, void *arg)
{
	pthread_mutex_lock(&p->mu);
	while (p->len == p->cap)
		pthread_cond_wait(&p->not_full, &p->mu);
	p->q[(p->head + p->len) % p->cap] = (task){ fn, arg };
	p->len++;
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void astra__pool_wait(astra__pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->len || p->running)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

unsigned astra__pool_threads(const astra__pool *p)
{
	return p->nthreads;
}

void astra__pool_free(astra__pool *p)
{
	if (!p)
		return;
	astra__pool_wait(p);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->not_empty);
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->idle);
	free(p->q);
	free(p->threads);
	free(p);
}
