/*
 * The data mover's restore side, writing: chunks that lie close together
 * in one pack are grouped into runs, each read with one ranged request by
 * a worker, then decoded, verified and written one by one; a file is
 * closed and its metadata applied when its last chunk lands. See
 * restore.c for the whole.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/map.h"
#include "core/pool.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"

#include "repo/restore_internal.h"

void astra__rs_file_done(rs *s, rfile *f)
{
	if (!f->failed)
		astra__rs_apply_meta(s, f->fd, -1, NULL, f->rel, f->node, 0);
	close(f->fd);
	free(f->rel);
	astra__json_free(f->node);
	free(f);
	pthread_mutex_lock(&s->mu);
	s->inflight_files--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void set_fatal(rs *s, int rc)
{
	pthread_mutex_lock(&s->mu);
	if (!atomic_load(&s->fatal)) {
		s->fatal_code = rc;
		snprintf(s->fatal_msg, sizeof(s->fatal_msg), "%s",
		        astra_error_last()->message);
		atomic_store(&s->fatal, 1);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Decodes (verifying it) and writes one chunk; 0 or an error. */
static int write_item(rs *s, const run_item *it, uint8_t *sealed)
{
	astra_buf data = ASTRA_BUF_INIT;
	int rc = astra__repo_decode_blob(s->repo, &it->e, sealed, &data);
	if (!rc && data.size != it->len)
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "chunk has %zu bytes, the tree says %u", data.size,
		        it->len);
	size_t done = 0;
	while (!rc && done < data.size) {
		ssize_t w = pwrite(it->f->fd, data.ptr + done, data.size - done,
		        (off_t)(it->off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = astra__err_os(
			        "cannot write %s/%s", s->target, it->f->rel);
		else
			done += (size_t)w;
	}
	astra_buf_dispose(&data);
	return rc;
}

/* One chunk of a file is written (or failed); the last closes it. */
static void item_done(rs *s, const run_item *it, int failed)
{
	rfile *f = it->f;
	pthread_mutex_lock(&s->mu);
	if (failed)
		f->failed = 1;
	else
		s->bytes += it->len;
	int last = --f->remaining == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		astra__rs_file_done(s, f);
}

static void run_worker(void *arg)
{
	run_task *t = arg;
	rs *s = t->s;
	astra_buf buf = ASTRA_BUF_INIT;
	int rc = 0;
	if (atomic_load(&s->fatal) || astra_cancel_requested(s->op.cancel)) {
		rc = ASTRA_ECANCELLED;
	} else {
		pthread_rwlock_rdlock(&s->repo->lock);
		astra__id pack = s->repo->index.packs[t->pack].id;
		pthread_rwlock_unlock(&s->repo->lock);
		char *key = astra__pack_key(&pack);
		rc = key ? astra__store_get(s->repo->store, key, t->start,
		                   t->end - t->start, &buf)
		         : ASTRA_ENOMEM;
		if (!rc && buf.size != t->end - t->start)
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "short read: %zu of %llu bytes", buf.size,
			        (unsigned long long)(t->end - t->start));
		if (rc && key)
			astra__err_prefix(rc, "pack %s", key);
		free(key);
	}
	for (size_t i = 0; i < t->n; i++) {
		run_item *it = &t->items[i];
		int irc = rc;
		if (!irc && (atomic_load(&s->fatal) ||
		                    astra_cancel_requested(s->op.cancel)))
			irc = ASTRA_ECANCELLED;
		if (!irc)
			irc = write_item(s, it,
			        (uint8_t *)buf.ptr + (it->e.offset - t->start));
		if (irc && irc != ASTRA_ECANCELLED) {
			astra__rs_report(s, it->f->rel, "content");
			if (irc == ASTRA_ENOSPACE || irc == ASTRA_ENOMEM)
				set_fatal(s, irc);
		}
		item_done(s, it, irc != 0);
	}
	astra_buf_dispose(&buf);
	free(t);
}

/* Hands the run being filled to the workers. */
void astra__rs_flush_run(rs *s)
{
	if (!s->run)
		return;
	astra__pool_submit(s->pool, run_worker, s->run);
	s->run = NULL;
}

/* Adds a chunk to the run being filled, or starts a new run. */
int astra__rs_add_chunk(
        rs *s, rfile *f, uint64_t off, uint32_t len, const astra__idx_entry *e)
{
	run_task *t = s->run;
	if (t && (t->pack != e->pack || e->offset < t->end ||
	                 e->offset - t->end > RUN_MAX_GAP ||
	                 e->offset + e->length - t->start > RUN_MAX_BYTES ||
	                 t->n == RUN_MAX_ITEMS)) {
		astra__rs_flush_run(s);
		t = NULL;
	}
	if (!t) {
		t = astra__calloc(1, sizeof(*t));
		if (!t)
			return ASTRA_ENOMEM;
		t->s = s;
		t->pack = e->pack;
		t->start = e->offset;
		s->run = t;
	}
	run_item *it = &t->items[t->n++];
	it->f = f;
	it->off = off;
	it->len = len;
	it->e = *e;
	t->end = (uint64_t)e->offset + e->length;
	pthread_mutex_lock(&s->mu);
	f->remaining++;
	pthread_mutex_unlock(&s->mu);
	return 0;
}
