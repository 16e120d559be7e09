/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static astra_log_cb handler;
static void *handler_payload;
static atomic_int max_level;

void astra_log_set_handler(astra_log_cb cb, int level, void *payload)
{
	pthread_mutex_lock(&mu);
	handler = cb;
	handler_payload = payload;
	atomic_store(&max_level, cb ? level : ASTRA_LOG_NONE);
	pthread_mutex_unlock(&mu);
}

int astra__log_enabled(int level)
{
	return level > ASTRA_LOG_NONE && level <= atomic_load(&max_level);
}

void astra__log(int level, const char *fmt, ...)
{
	if (!astra__log_enabled(level))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&mu);
	astra_log_cb cb = handler;
	void *payload = handler_payload;
	pthread_mutex_unlock(&mu);
	if (cb)
		cb(level, msg, payload);
}
