/*
 * Writer sessions (docs/format.md, "Writing protocol and crash safety" and
 * "Garbage collection"): every backup writes sessions/<id> when it starts,
 * refreshes it from a heartbeat thread while it runs and deletes it at the
 * end; gc (gc.c) respects live sessions and deletes dead ones.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/data.h"

struct astra__session {
	astra__repo *r;
	char key[80];
	int64_t start; /* fixed when the session starts; never re-read */
	pthread_mutex_t io_mu; /* serialises refreshes; guards the rest */
	int64_t last_hb; /* wall seconds of the last heartbeat written */
	int64_t max_gap; /* longest interval between two heartbeats */
	int lost; /* the object vanished: gc declared the writer dead */
	pthread_mutex_t mu; /* guards stop, for the heartbeat thread */
	pthread_cond_t cv;
	int stop;
	int has_thread;
	pthread_t thread;
};

static int64_t wall_s(void)
{
	return astra__wall_ns() / 1000000000LL;
}

static int write_session(astra__repo *r, const char *key, int64_t start)
{
	astra__json *j = astra__json_new_object();
	if (!j)
		return ASTRA_ENOMEM;
	char host[256] = "unknown";
	gethostname(host, sizeof(host) - 1);
	astra__json_set_int(j, "start", start);
	astra__json_set_int(j, "heartbeat", wall_s());
	astra__json_set_str(j, "host", host);
	astra__json_set_int(j, "pid", getpid());
	int rc = astra__repo_put_json(r, key, j, 0);
	astra__json_free(j);
	return rc;
}

/* One heartbeat: the session must still exist (gc deletes only sessions
 * it declared dead, and the writer then must not write its record), and
 * is rewritten with the start time kept in memory. Keeps the caller's
 * error state. */
static void refresh_locked(astra__session *s)
{
	astra__saved_err saved;
	astra__err_save(&saved);
	if (!s->lost) {
		astra__obj_info info;
		memset(&info, 0, sizeof(info));
		int rc = astra__store_head(s->r->store, s->key, &info);
		if (rc == ASTRA_ENOTFOUND) {
			s->lost = 1;
			astra__log_error(
			        "session %s was removed by gc (it was "
			        "declared dead); this backup will fail",
			        s->key);
		} else if (write_session(s->r, s->key, s->start) == 0) {
			int64_t now = wall_s();
			if (now - s->last_hb > s->max_gap)
				s->max_gap = now - s->last_hb;
			s->last_hb = now;
		} else {
			astra__log_warn("cannot refresh session %s: %s", s->key,
			        astra_error_last()->message);
		}
	}
	astra__err_restore(&saved);
}

void astra__data_session_refresh(astra__session *s)
{
	pthread_mutex_lock(&s->io_mu);
	refresh_locked(s);
	pthread_mutex_unlock(&s->io_mu);
}

static void *heartbeat_main(void *arg)
{
	astra__session *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ASTRA__SESSION_HEARTBEAT_S;
		int w = 0;
		while (!s->stop && w != ETIMEDOUT)
			w = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		astra__data_session_refresh(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int astra__data_session_start(astra__repo *r, astra__session **out)
{
	uint8_t raw[16];
	char hex[33];
	*out = NULL;
	astra__session *s = astra__calloc(1, sizeof(*s));
	if (!s)
		return ASTRA_ENOMEM;
	int rc = astra__random(raw, sizeof(raw));
	if (rc) {
		free(s);
		return rc;
	}
	astra__hex_encode(hex, raw, sizeof(raw));
	snprintf(s->key, sizeof(s->key), "sessions/%s", hex);
	s->r = r;
	s->start = wall_s();
	pthread_mutex_init(&s->io_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = write_session(r, s->key, s->start))) {
		astra__err_prefix(rc, "writing session %s", s->key);
		goto fail;
	}
	s->last_hb = s->start;
	if (pthread_create(&s->thread, NULL, heartbeat_main, s) != 0) {
		rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_REPO,
		        "cannot start the heartbeat thread of session %s",
		        s->key);
		(void)astra__store_del(r->store, s->key);
		goto fail;
	}
	s->has_thread = 1;
	*out = s;
	return 0;
fail:
	pthread_mutex_destroy(&s->io_mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return rc;
}

const char *astra__data_session_key(const astra__session *s)
{
	return s->key;
}

int64_t astra__data_session_start_time(const astra__session *s)
{
	return s->start;
}

int astra__data_session_ok(astra__session *s)
{
	pthread_mutex_lock(&s->io_mu);
	int lost = s->lost;
	pthread_mutex_unlock(&s->io_mu);
	if (lost)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_REPO,
		        "session %s was removed by gc, which declared this "
		        "writer dead: data it references may have been "
		        "deleted, so nothing is recorded; run the backup "
		        "again",
		        s->key);
	return 0;
}

int astra__data_session_verify(astra__session *s)
{
	pthread_mutex_lock(&s->io_mu);
	refresh_locked(s);
	int lost = s->lost;
	int64_t gap = s->max_gap;
	int64_t since = wall_s() - s->last_hb;
	pthread_mutex_unlock(&s->io_mu);
	if (since > gap)
		gap = since;
	if (lost)
		return astra__data_session_ok(s);
	if (gap > ASTRA__SESSION_TIMEOUT_S - ASTRA__SESSION_MARGIN_S)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_REPO,
		        "session %s went %lld s without a heartbeat (gc "
		        "declares a session dead after %d s): data this "
		        "backup references may have been deleted, so nothing "
		        "is recorded; run the backup again",
		        s->key, (long long)gap, ASTRA__SESSION_TIMEOUT_S);
	return 0;
}

void astra__data_session_end(astra__session *s)
{
	if (!s)
		return;
	if (s->has_thread) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	/* best effort; keep the caller's error message */
	astra__saved_err saved;
	astra__err_save(&saved);
	int rc = astra__store_del(s->r->store, s->key);
	if (rc != 0 && rc != ASTRA_ENOTFOUND)
		astra__log_warn("cannot remove session %s", s->key);
	astra__err_restore(&saved);
	pthread_mutex_destroy(&s->io_mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
