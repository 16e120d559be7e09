/*
 * Writer sessions and garbage collection with a grace period.
 *
 * Protocol (docs/format.md, "Garbage collection"):
 * - Every backup writes sessions/<id> when it starts, refreshes it while it
 *   runs and deletes it at the end.
 * - gc run N computes the live set from all snapshots, copies the live
 *   blobs of mostly-empty packs into new packs, and writes a marker
 *   gc/<id> {"time", "packs"} naming the packs it condemns (dead ones,
 *   repacked ones, and orphans from crashed runs). Writers that load a
 *   marker no longer deduplicate against condemned packs.
 * - A later run sweeps a marker once it is older than the grace period and
 *   no live session started before it: it recomputes the live set, keeps
 *   any condemned pack that still holds the only copy of a live blob,
 *   writes one merged index without the rest, deletes the old index files,
 *   then the packs, then the marker.
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
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"

/* ---- sessions ---- */

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

typedef struct {
	int code, klass;
	char msg[1024];
} saved_error;

static void save_error(saved_error *e)
{
	const astra_error *l = astra_error_last();
	e->code = l->code;
	e->klass = l->klass;
	snprintf(e->msg, sizeof(e->msg), "%s", l->message);
}

static void restore_error(const saved_error *e)
{
	if (e->code)
		astra__err(e->code, e->klass, "%s", e->msg);
	else
		astra_error_clear();
}

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
	saved_error saved;
	save_error(&saved);
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
	restore_error(&saved);
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
	saved_error saved;
	save_error(&saved);
	int rc = astra__store_del(s->r->store, s->key);
	if (rc != 0 && rc != ASTRA_ENOTFOUND)
		astra__log_warn("cannot remove session %s", s->key);
	restore_error(&saved);
	pthread_mutex_destroy(&s->io_mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* ---- reading the vault's small records ---- */

typedef struct {
	astra__repo *r;
	astra__json *items; /* array of {"key", ...record} */
	int64_t dead_before; /* sessions: unreadable and this old is dead */
	int skip_damaged; /* skip objects that do not authenticate or parse */
} collect_ctx;

static int collect_cb(const astra__obj_info *info, void *payload)
{
	collect_ctx *c = payload;
	astra__json *j = NULL;
	int rc = astra__repo_get_json(c->r, info->key, &j);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0; /* removed between the listing and the read */
	}
	if (rc && c->dead_before && info->mtime_ns &&
	        info->mtime_ns / 1000000000LL < c->dead_before) {
		/* a session nobody has rewritten for longer than the session
		 * timeout is dead whatever its content */
		astra__log_warn("%s is unreadable (%s) and was last written "
		                "%lld s ago: treated as dead",
		        info->key, astra_error_last()->message,
		        (long long)(wall_s() - info->mtime_ns / 1000000000LL));
		astra_error_clear();
		j = astra__json_new_object();
		if (!j)
			return ASTRA_ENOMEM;
		astra__json_set_int(
		        j, "heartbeat", info->mtime_ns / 1000000000LL);
		astra__json_set_bool(j, "unreadable", 1);
		rc = 0;
	}
	if ((rc == ASTRA_ECORRUPT || rc == ASTRA_EPARSE) && c->skip_damaged) {
		astra__log_warn("ignoring damaged %s: %s", info->key,
		        astra_error_last()->message);
		astra_error_clear();
		return 0;
	}
	if (rc) {
		/* never treat an unreadable record as absent: what it
		 * protects could be deleted */
		astra__err_prefix(rc,
		        "%s cannot be read, so gc stops and deletes nothing "
		        "(a transient error: run gc again; a damaged object: "
		        "see docs/format.md, \"Repair\")",
		        info->key);
		return rc;
	}
	astra__json_set_str(j, "key", info->key);
	return astra__json_push(c->items, j);
}

/* Every object under prefix, read and decrypted; any read error but
 * "gone" fails the whole collection. */
static int collect_ex(astra__repo *r, const char *prefix, int64_t dead_before,
        int skip_damaged, astra__json **out)
{
	collect_ctx c = { r, astra__json_new_array(), dead_before,
		skip_damaged };
	if (!c.items)
		return ASTRA_ENOMEM;
	int rc = astra__store_list(r->store, prefix, collect_cb, &c);
	if (rc < 0) {
		astra__json_free(c.items);
		return rc;
	}
	*out = c.items;
	return 0;
}

static int collect(astra__repo *r, const char *prefix, astra__json **out)
{
	return collect_ex(r, prefix, 0, 0, out);
}

int astra__repo_load_markers(astra__repo *r, int mode)
{
	astra__json *markers = NULL;
	/* lenient (writers, restores): a damaged marker is skipped, since
	 * gc cannot read it either and so never sweeps what it condemns; a
	 * marker that cannot be read for another reason (the network) stops
	 * a writer, which could otherwise deduplicate against packs that a
	 * later gc deletes */
	int rc = collect_ex(
	        r, "gc/", 0, mode == ASTRA_INDEX_LOAD_LENIENT, &markers);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < astra__json_size(markers) && !rc; i++) {
		const astra__json *packs =
		        astra__json_get(astra__json_at(markers, i), "packs");
		for (size_t k = 0; k < astra__json_size(packs); k++) {
			astra__id id;
			if (astra__id_parse(
			            &id, astra__json_string_value(
			                         astra__json_at(packs, k))))
				continue;
			int pi = astra__index_pack(&r->index, &id);
			if (pi < 0) {
				rc = pi;
				break;
			}
			r->index.packs[pi].condemned = 1;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	astra__json_free(markers);
	return rc;
}

/* ---- live set ---- */

typedef struct {
	astra__index set; /* entries used as a set of ids */
	astra__index trees_seen;
} live_set;

static int set_add(astra__index *s, const astra__id *id)
{
	if (astra__index_find(s, id) >= 0)
		return 0;
	astra__idx_entry e = { 0 };
	e.id = *id;
	int rc = astra__index_put(s, &e);
	return rc < 0 ? rc : 1;
}

static int walk_live(astra__repo *r, live_set *ls, const astra__id *tree,
        astra__op *op, int depth)
{
	if (depth > 4096)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "tree nesting too deep");
	int added = set_add(&ls->trees_seen, tree);
	if (added <= 0)
		return added;
	int rc = set_add(&ls->set, tree);
	if (rc < 0)
		return rc;
	astra__json *t = NULL;
	if ((rc = astra__tree_load(r, tree, &t)))
		return rc;
	const astra__json *nodes = astra__json_get(t, "nodes");
	for (size_t i = 0; i < astra__json_size(nodes) && !rc; i++) {
		const astra__json *n = astra__json_at(nodes, i);
		const char *st = astra__json_str(n, "subtree");
		astra__id id;
		if (st) {
			if (!(rc = astra__id_parse(&id, st)))
				rc = walk_live(r, ls, &id, op, depth + 1);
			continue;
		}
		const astra__json *exs = astra__json_get(n, "extents");
		for (size_t e = 0; e < astra__json_size(exs) && !rc; e++) {
			const astra__json *ch = astra__json_get(
			        astra__json_at(exs, e), "chunks");
			for (size_t k = 0; k < astra__json_size(ch) && !rc;
			        k++) {
				rc = astra__id_parse(&id,
				        astra__json_string_value(astra__json_at(
				                astra__json_at(ch, k), 0)));
				if (!rc) {
					rc = set_add(&ls->set, &id);
					rc = rc < 0 ? rc : 0;
				}
			}
		}
		if (!rc && op)
			rc = astra__op_report(op, 0);
	}
	astra__json_free(t);
	return rc;
}

/* `list` must be taken before the index is loaded: a writer publishes its
 * index files before its snapshot record, so every blob of a listed
 * snapshot is then in the index. */
static int compute_live(astra__repo *r, const astra__json *list, live_set *ls,
        astra__op *op, size_t *nsnap)
{
	int rc = 0;
	*nsnap = astra__json_size(list);
	for (size_t i = 0; i < astra__json_size(list) && !rc; i++) {
		const astra__json *s = astra__json_at(list, i);
		const char *tree = astra__json_str(s, "tree");
		astra__id id;
		if (astra__json_get(s, "error") || !tree ||
		        astra__id_parse(&id, tree)) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "snapshot %s is unreadable; gc stops so that "
			        "it deletes nothing it may need (run check)",
			        astra__json_str(s, "id"));
			break;
		}
		rc = walk_live(r, ls, &id, op, 0);
		if (rc)
			astra__err_prefix(rc,
			        "gc stops: snapshot %s cannot be walked",
			        astra__json_str(s, "id"));
	}
	/* application backups (lib/backup) reference their manifests blob */
	astra__json *apps = NULL;
	if (!rc && !(rc = collect(r, "appbackups/", &apps))) {
		for (size_t i = 0; i < astra__json_size(apps) && !rc; i++) {
			astra__id id;
			const astra__json *a = astra__json_at(apps, i);
			const char *m = astra__json_str(a, "manifests");
			if (!m || astra__id_parse(&id, m) != 0) {
				rc = astra__err(ASTRA_ECORRUPT,
				        ASTRA_ERROR_REPO,
				        "%s has no valid manifests blob id; gc "
				        "stops so that it deletes nothing it "
				        "may need",
				        astra__json_str(a, "key"));
				break;
			}
			rc = set_add(&ls->set, &id) < 0 ? ASTRA_ENOMEM : 0;
		}
		astra__json_free(apps);
	}
	return rc;
}

static void live_free(live_set *ls)
{
	astra__index_free(&ls->set);
	astra__index_free(&ls->trees_seen);
}

/* ---- packs on the store ---- */

typedef struct {
	astra__map packs; /* hex -> mtime seconds + 1 */
	astra__map sizes; /* hex -> size + 1 */
} pack_listing;

static int list_pack_cb(const astra__obj_info *info, void *payload)
{
	pack_listing *pl = payload;
	const char *hex = strrchr(info->key, '/');
	hex = hex ? hex + 1 : info->key;
	if (strlen(hex) != 64)
		return 0;
	int rc = astra__map_set(&pl->packs, hex,
	        (void *)(intptr_t)(info->mtime_ns / 1000000000LL + 1), NULL);
	if (!rc)
		rc = astra__map_set(&pl->sizes, hex,
		        (void *)(intptr_t)(info->size + 1), NULL);
	return rc;
}

/*
 * Whether a pack that no index entry points to (an "orphan", or a pack
 * whose blobs are all indexed elsewhere) may be condemned or deleted: 1
 * when its header is readable and each of its live blobs is indexed in
 * another pack that is not condemned; 0 when it may hold the only copy
 * of a live blob or its header cannot be read (it is kept, and reported
 * in `unreadable`); < 0 on other errors.
 */
static int orphan_is_dead(astra__repo *r, const pack_listing *pl,
        const char *hex, const live_set *ls, astra__json *unreadable)
{
	void *sz = astra__map_get(&pl->sizes, hex);
	astra__idx_entry *ents = NULL;
	size_t n = 0;
	int rc = astra__pack_read_header(
	        r, hex, sz ? (uint64_t)(intptr_t)sz - 1 : 0, &ents, &n);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0; /* gone meanwhile: nothing to condemn */
	}
	if (rc == ASTRA_ENOMEM)
		return rc;
	if (rc) {
		astra__log_warn("keeping pack %s: %s", hex,
		        astra_error_last()->message);
		astra__json *u = astra__json_new_object();
		if (!u)
			return ASTRA_ENOMEM;
		astra__json_set_str(u, "pack", hex);
		astra__json_set_str(u, "error", astra_error_last()->message);
		astra_error_clear();
		return astra__json_push(unreadable, u) ? ASTRA_ENOMEM : 0;
	}
	astra__id self;
	int dead = astra__id_parse(&self, hex) == 0;
	for (size_t i = 0; i < n && dead; i++) {
		if (astra__index_find(&ls->set, &ents[i].id) < 0)
			continue;
		int k = astra__index_find(&r->index, &ents[i].id);
		const astra__idx_entry *e = k >= 0 ? &r->index.slots[k] : NULL;
		if (!e || e->pack == ASTRA_PACK_NONE)
			dead = 0;
		else if (r->index.packs[e->pack].condemned ||
		         !memcmp(r->index.packs[e->pack].id.b, self.b,
		                 ASTRA_ID_LEN))
			dead = 0;
	}
	free(ents);
	return dead;
}

/* Every blob a snapshot or app record references must resolve in the
 * loaded index; otherwise its packs could look unreferenced. */
static int live_all_indexed(astra__repo *r, const live_set *ls)
{
	for (size_t i = 0; i < ls->set.cap; i++) {
		const astra__idx_entry *e = &ls->set.slots[i];
		if (!e->used)
			continue;
		int k = astra__index_find(&r->index, &e->id);
		if (k >= 0 && r->index.slots[k].pack != ASTRA_PACK_NONE)
			continue;
		char hex[ASTRA_ID_HEX];
		astra__id_hex(&e->id, hex);
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "blob %s is referenced but no readable index file "
		        "lists it; gc stops and deletes nothing. Run "
		        "`astractl vault repair` (it indexes the blobs of "
		        "every pack again); if the blob is still missing, "
		        "`astractl vault check` names the snapshots that "
		        "need it",
		        hex);
	}
	return 0;
}

/* ---- gc ---- */

static int add_str(astra__json *arr, const char *s)
{
	return astra__json_push(arr, astra__json_new_string(s));
}

/* Writes one index with every entry whose pack survives, then deletes
 * the index files that existed before; those still under retention
 * (object lock) stay and are added to `locked`. */
static int rewrite_index(astra__repo *r, const uint8_t *drop,
        astra__map *locked, const astra__json *damaged,
        const astra__json *repairs)
{
	/* exactly the files whose entries are in memory: index files that
	 * concurrent writers add meanwhile are left alone */
	astra__json *old = astra__json_new_array();
	if (!old)
		return ASTRA_ENOMEM;
	int rc = 0;
	size_t pos = 0;
	const char *name;
	while (!rc && astra__map_next(&r->index_files, &pos, &name, NULL))
		rc = add_str(old, name);
	/* damaged files a repair superseded: what they listed is in a
	 * repair's index file, merged now */
	for (size_t i = 0; !rc && i < astra__json_size(damaged); i++)
		rc = add_str(old,
		        astra__json_string_value(astra__json_at(damaged, i)));
	ASTRA_VEC(astra__idx_entry) keep = ASTRA_VEC_INIT;
	pthread_rwlock_rdlock(&r->lock);
	for (size_t i = 0; i < r->index.cap && !rc; i++) {
		const astra__idx_entry *e = &r->index.slots[i];
		if (!e->used || e->pack == ASTRA_PACK_NONE || drop[e->pack])
			continue;
		rc = astra_vec_push(&keep, *e);
	}
	pthread_rwlock_unlock(&r->lock);
	astra__writer *w = NULL;
	if (!rc)
		rc = astra__writer_new(&w, r);
	if (!rc && keep.n)
		rc = astra__writer_write_index(w, keep.v, keep.n);
	astra__writer_free(w);
	astra_vec_free(&keep);
	/* the merged index is durable: the old files may go */
	for (size_t i = 0; !rc && i < astra__json_size(old); i++) {
		const char *file =
		        astra__json_string_value(astra__json_at(old, i));
		rc = astra__store_del(r->store, file);
		if (rc == ASTRA_EPOLICY) {
			astra_error_clear();
			rc = astra__map_set(locked, file, NULL, NULL);
		} else if (rc == ASTRA_ENOTFOUND) {
			astra_error_clear();
			rc = 0;
		}
	}
	/* then the repair records whose damaged files are gone */
	for (size_t i = 0; !rc && i < astra__json_size(repairs); i++) {
		const astra__json *rr = astra__json_at(repairs, i);
		const astra__json *dl = astra__json_get(rr, "damaged");
		int still = 0;
		for (size_t k = 0; k < astra__json_size(dl); k++)
			if (astra__map_has(
			            locked, astra__json_string_value(
			                            astra__json_at(dl, k))))
				still = 1;
		if (still)
			continue;
		rc = astra__store_del(r->store, astra__json_str(rr, "key"));
		if (rc == ASTRA_ENOTFOUND || rc == ASTRA_EPOLICY) {
			astra_error_clear();
			rc = 0;
		}
	}
	astra__json_free(old);
	return rc;
}

/* A pack that an index file under retention still lists must stay: a
 * later load of that file would otherwise point at a missing pack. */
static int listed_by(astra__repo *r, const char *hex, const astra__map *files)
{
	if (!files->n)
		return 0;
	const char *f = astra__map_get(&r->pack_files, hex);
	while (f && *f) {
		size_t len = strcspn(f, "\n");
		char name[128];
		if (len < sizeof(name)) {
			memcpy(name, f, len);
			name[len] = '\0';
			if (astra__map_has(files, name))
				return 1;
		}
		f += len;
		if (*f == '\n')
			f++;
	}
	return 0;
}

/* Whether an object is under retention or a legal hold now. */
static int is_locked(const astra__obj_info *info, int64_t now)
{
	return info->legal_hold || info->retain_until > now;
}

int astra__data_gc(astra__repo *r, const astra__gc_params *p, astra__op *op,
        astra__json **report)
{
	live_set ls;
	pack_listing pl;
	memset(&ls, 0, sizeof(ls));
	memset(&pl, 0, sizeof(pl));
	astra__json *markers = NULL, *sessions = NULL, *snaps = NULL;
	astra__json *repairs = NULL;
	astra__json *damaged = astra__json_new_array();
	astra__json *unreadable = astra__json_new_array();
	astra__map superseded = ASTRA_MAP_INIT;
	astra__json *rep = astra__json_new_object();
	astra__json *deleted = astra__json_new_array();
	astra__json *gone = astra__json_new_array();
	astra__json *locked = astra__json_new_array();
	astra__map locked_files = ASTRA_MAP_INIT;
	astra__json *marked = astra__json_new_array();
	astra__json *kept = astra__json_new_array();
	uint8_t *drop = NULL;
	uint64_t freed = 0, repacked = 0;
	int64_t now = astra__wall_ns() / 1000000000LL;
	size_t nsnap = 0;
	int rc = (!rep || !deleted || !marked || !kept || !gone || !locked ||
	                 !damaged || !unreadable)
	                 ? ASTRA_ENOMEM
	                 : 0;
	*report = NULL;
	if (rc)
		goto done;
	if (op)
		op->p.stage = ASTRA_STAGE_COLLECTING_GARBAGE;

	/* sessions before snapshots: a writer deletes its session only after
	 * its record is written, so a writer whose session is gone here has
	 * its record in the listing below (read the other way round, a
	 * backup finishing in between was in neither, and its data could be
	 * swept) */
	/* an unreadable session stops gc (its writer may be alive) unless
	 * nobody has rewritten it for longer than the session timeout */
	if ((rc = collect_ex(r, "sessions/", now - p->session_timeout_seconds,
	             0, &sessions)))
		goto done;
	/* repair records before the index: the damaged index files they
	 * name are covered by index files written before them */
	if ((rc = collect(r, "repairs/", &repairs)))
		goto done;
	for (size_t i = 0; i < astra__json_size(repairs) && !rc; i++) {
		const astra__json *dl =
		        astra__json_get(astra__json_at(repairs, i), "damaged");
		for (size_t k = 0; k < astra__json_size(dl) && !rc; k++) {
			const char *f =
			        astra__json_string_value(astra__json_at(dl, k));
			if (f)
				rc = astra__map_set(&superseded, f, NULL, NULL);
		}
	}
	if (rc)
		goto done;
	/* snapshots, then a fresh index with condemned packs flagged; a
	 * record forgotten between the listing and its read: list again */
	for (int tries = 0;; tries++) {
		rc = astra__snapshot_list(r, &snaps);
		if (rc != ASTRA_ENOTFOUND || tries == 5)
			break;
		astra_error_clear();
	}
	if (rc)
		goto done;
	astra__repo_index_reset(r);
	/* strict: a damaged index file stops gc (what it lists could look
	 * unreferenced), unless a repair record supersedes it */
	if ((rc = astra__repo_load_index_mode(
	             r, ASTRA_INDEX_LOAD_STRICT, &superseded, damaged)))
		goto done;
	if ((rc = collect(r, "gc/", &markers)))
		goto done;
	if ((rc = compute_live(r, snaps, &ls, op, &nsnap)))
		goto done;
	if ((rc = live_all_indexed(r, &ls)))
		goto done;
	if ((rc = astra__store_list(r->store, "data/", list_pack_cb, &pl)) < 0)
		goto done;
	rc = 0;

	size_t np = r->index.npacks;
	drop = astra__calloc(np + 1, 1);
	uint64_t *live_bytes = astra__calloc(np + 1, sizeof(uint64_t));
	uint64_t *all_bytes = astra__calloc(np + 1, sizeof(uint64_t));
	if (!drop || !live_bytes || !all_bytes) {
		free(live_bytes);
		free(all_bytes);
		rc = ASTRA_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < r->index.cap; i++) {
		const astra__idx_entry *e = &r->index.slots[i];
		if (!e->used || e->pack == ASTRA_PACK_NONE)
			continue;
		all_bytes[e->pack] += e->length;
		if (astra__index_find(&ls.set, &e->id) >= 0)
			live_bytes[e->pack] += e->length;
	}

	/* 1. sweep markers that are old enough */
	int64_t oldest_session = INT64_MAX;
	for (size_t i = 0; i < astra__json_size(sessions); i++) {
		const astra__json *s = astra__json_at(sessions, i);
		int64_t hb = astra__json_int(s, "heartbeat", 0);
		if (now - hb > p->session_timeout_seconds) {
			/* dead: a crashed writer records nothing */
			if (!p->dry_run &&
			        astra__store_del(r->store,
			                astra__json_str(s, "key")) != 0)
				astra__log_warn("cannot remove stale %s",
				        astra__json_str(s, "key"));
			continue;
		}
		int64_t st = astra__json_int(s, "start", 0);
		if (st < oldest_session)
			oldest_session = st;
	}
	ASTRA_VEC(const astra__json *) sweep = ASTRA_VEC_INIT;
	for (size_t i = 0; i < astra__json_size(markers); i++) {
		const astra__json *m = astra__json_at(markers, i);
		int64_t t = astra__json_int(m, "time", now);
		if (t + p->grace_seconds <= now && oldest_session > t)
			astra_vec_push(&sweep, m);
	}
	for (size_t i = 0; i < sweep.n && !rc; i++) {
		const astra__json *packs = astra__json_get(sweep.v[i], "packs");
		for (size_t k = 0; k < astra__json_size(packs) && !rc; k++) {
			const char *hex = astra__json_string_value(
			        astra__json_at(packs, k));
			void *v = astra__map_get(
			        &r->index.pack_lookup, hex ? hex : "");
			if (v) {
				size_t pi = (size_t)((intptr_t)v - 1);
				/* a live blob whose only copy is here keeps
				 * the pack */
				if (live_bytes[pi]) {
					add_str(kept, hex);
					continue;
				}
				/* no entry points here (an orphan condemned
				 * earlier): its header must prove it */
				if (!all_bytes[pi] &&
				        astra__map_has(&pl.packs, hex)) {
					int d = orphan_is_dead(
					        r, &pl, hex, &ls, unreadable);
					if (d < 0) {
						rc = d;
						break;
					}
					if (!d) {
						add_str(kept, hex);
						continue;
					}
				}
				drop[pi] = 1;
			} else if (!astra__map_has(&pl.packs, hex ? hex : "")) {
				continue; /* already gone */
			} else {
				/* an orphan: its header must prove that none
				 * of its blobs is live */
				int d = orphan_is_dead(
				        r, &pl, hex, &ls, unreadable);
				if (d < 0) {
					rc = d;
					break;
				}
				if (!d) {
					add_str(kept, hex);
					continue;
				}
			}
			add_str(deleted, hex);
		}
	}
	if (!rc && !p->dry_run && sweep.n) {
		if ((rc = rewrite_index(
		             r, drop, &locked_files, damaged, repairs)))
			goto sweep_done;
		for (size_t i = 0; i < astra__json_size(deleted) && !rc; i++) {
			astra__id id;
			const char *hex = astra__json_string_value(
			        astra__json_at(deleted, i));
			if (astra__id_parse(&id, hex))
				continue;
			char *key = astra__pack_key(&id);
			if (!key) {
				rc = ASTRA_ENOMEM;
				break;
			}
			/* never delete what is locked: it is reclaimed by
			 * a gc after its retention ends */
			astra__obj_info info;
			memset(&info, 0, sizeof(info));
			int hr = astra__store_head(r->store, key, &info);
			astra_error_clear();
			if ((hr == 0 && is_locked(&info, now)) ||
			        listed_by(r, hex, &locked_files)) {
				add_str(locked, hex);
				free(key);
				continue;
			}
			rc = astra__store_del(r->store, key);
			if (rc == ASTRA_EPOLICY) {
				astra_error_clear();
				rc = add_str(locked, hex);
			} else if (!rc) {
				freed += hr == 0 ? info.size : 0;
				rc = add_str(gone, hex);
			}
			free(key);
		}
		for (size_t i = 0; i < sweep.n && !rc; i++) {
			rc = astra__store_del(
			        r->store, astra__json_str(sweep.v[i], "key"));
			if (rc == ASTRA_EPOLICY) {
				/* a bucket default retention locked it */
				astra__log_warn(
				        "%s", astra_error_last()->message);
				astra_error_clear();
				rc = 0;
			}
		}
	}
sweep_done:
	astra_vec_free(&sweep);
	if (rc) {
		free(live_bytes);
		free(all_bytes);
		goto done;
	}

	/* 2. mark: dead packs, mostly-dead packs (after repacking), orphans */
	astra__writer *w = NULL;
	for (size_t pi = 0; pi < np && !rc; pi++) {
		astra__pack_ref *pr = &r->index.packs[pi];
		char hex[ASTRA_ID_HEX];
		astra__id_hex(&pr->id, hex);
		if (pr->condemned || drop[pi] || !all_bytes[pi])
			continue;
		if (!astra__map_has(&pl.packs, hex))
			continue; /* missing pack: check reports it */
		int dead = live_bytes[pi] == 0;
		int sparse =
		        !dead && live_bytes[pi] * 100 <
		                         all_bytes[pi] * p->repack_threshold;
		if (!dead && !sparse)
			continue;
		if (sparse && (r->store->caps & ASTRA_STORE_CAP_OBJECT_LOCK)) {
			/* copying the live part out frees nothing while the
			 * pack is locked */
			astra__obj_info info;
			memset(&info, 0, sizeof(info));
			char *key = astra__pack_key(&pr->id);
			int hr = key ? astra__store_head(r->store, key, &info)
			             : ASTRA_ENOMEM;
			free(key);
			astra_error_clear();
			if (hr == 0 && is_locked(&info, now))
				continue;
		}
		if (sparse && !p->dry_run) {
			/* copy the live blobs out, then condemn the pack */
			if (!w && (rc = astra__writer_new(&w, r)))
				break;
			pr->condemned = 1;
			for (size_t i = 0; i < r->index.cap && !rc; i++) {
				astra__idx_entry e = r->index.slots[i];
				if (!e.used || e.pack != pi ||
				        astra__index_find(&ls.set, &e.id) < 0)
					continue;
				astra_buf blob = ASTRA_BUF_INIT;
				rc = astra__repo_read_blob(r, &e.id, &blob);
				if (!rc)
					rc = astra__writer_add(w, e.type,
					        blob.ptr, blob.size, &e.id, 1,
					        NULL);
				repacked += blob.size;
				astra_buf_dispose(&blob);
			}
		}
		if (!rc)
			rc = add_str(marked, hex);
	}
	if (!rc && w)
		rc = astra__writer_flush(w);
	astra__writer_free(w);
	/* orphans: packs on the store that no index lists */
	size_t pos = 0;
	const char *phex;
	while (!rc && astra__map_next(&pl.packs, &pos, &phex, NULL)) {
		if (astra__map_has(&r->index.pack_lookup, phex))
			continue;
		intptr_t mt = (intptr_t)astra__map_get(&pl.packs, phex) - 1;
		if (now - mt < p->grace_seconds)
			continue; /* maybe a running backup's */
		int listed = 0;
		for (size_t i = 0; i < astra__json_size(deleted); i++)
			if (!strcmp(astra__json_string_value(
			                    astra__json_at(deleted, i)),
			            phex))
				listed = 1;
		for (size_t i = 0; i < astra__json_size(kept); i++)
			if (!strcmp(astra__json_string_value(
			                    astra__json_at(kept, i)),
			            phex))
				listed = 1;
		if (listed)
			continue;
		/* condemned only when its header proves it holds no live
		 * blob (a damaged index file may have been its only list) */
		int d = orphan_is_dead(r, &pl, phex, &ls, unreadable);
		if (d < 0)
			rc = d;
		else if (d)
			rc = add_str(marked, phex);
	}
	free(live_bytes);
	free(all_bytes);
	if (rc)
		goto done;
	if (!p->dry_run && astra__json_size(marked)) {
		astra__json *m = astra__json_new_object();
		uint8_t raw[16];
		char mhex[33], key[64];
		if (!m) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		astra__random(raw, sizeof(raw));
		astra__hex_encode(mhex, raw, sizeof(raw));
		snprintf(key, sizeof(key), "gc/%s", mhex);
		astra__json_set_int(m, "time", now);
		astra__json_set(m, "packs", astra__json_dup(marked));
		rc = astra__repo_put_json(r, key, m, ASTRA_PUT_IF_ABSENT);
		astra__json_free(m);
	}
	if (rc)
		goto done;
	astra__json_set_int(rep, "snapshots", (int64_t)nsnap);
	astra__json_set_int(rep, "live_blobs", (int64_t)ls.set.n);
	astra__json_set_bool(rep, "dry_run", p->dry_run);
	astra__json_set_int(rep, "grace_seconds", p->grace_seconds);
	astra__json_set_int(rep, "bytes_freed", (int64_t)freed);
	astra__json_set_int(rep, "bytes_repacked", (int64_t)repacked);
	astra__json_set(rep, "deleted_packs", p->dry_run ? deleted : gone);
	if (p->dry_run)
		deleted = NULL;
	else
		gone = NULL;
	astra__json_set(rep, "locked_packs", locked);
	locked = NULL;
	astra__json_set(rep, "marked_packs", marked);
	marked = NULL;
	astra__json_set(rep, "kept_packs", kept);
	kept = NULL;
	astra__json_set(rep, "unreadable_packs", unreadable);
	unreadable = NULL;
	astra__json_set(rep, "superseded_index_files", damaged);
	damaged = NULL;
	*report = rep;
	rep = NULL;
done:
	live_free(&ls);
	astra__map_free(&pl.packs);
	astra__map_free(&pl.sizes);
	astra__map_free(&superseded);
	astra__json_free(repairs);
	astra__json_free(damaged);
	astra__json_free(unreadable);
	free(drop);
	astra__json_free(markers);
	astra__json_free(sessions);
	astra__json_free(snaps);
	astra__json_free(rep);
	astra__json_free(deleted);
	astra__json_free(gone);
	astra__json_free(locked);
	astra__map_free(&locked_files);
	astra__json_free(marked);
	astra__json_free(kept);
	return rc;
}
