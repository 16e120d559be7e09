/*
 * Garbage collection with a grace period, respecting writer sessions.
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
 * The sessions themselves are in gc_session.c.
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
#include "core/options.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"

/* ---- reading the vault's small records ---- */

static int collect(astra__repo *r, const char *prefix, astra__json **out)
{
	return astra__repo_collect(r, prefix, 0, 0, out);
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
		return astra__pack_note_unreadable(unreadable, hex)
		               ? ASTRA_ENOMEM
		               : 0;
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

/*
 * One gc run, in the order its side effects happen (docs/format.md,
 * "Garbage collection"):
 *
 *   gc_read_state          sessions, repair records, snapshots, the index
 *                          (strict), markers: reads only
 *   gc_mark_live           the live set; every live blob must be indexed
 *   gc_list_packs          the packs on the store
 *   gc_pack_usage          live and total bytes of every indexed pack
 *   gc_expire_sessions     deletes dead sessions (first write)
 *   gc_pick_ripe_markers   the markers old enough to sweep
 *   gc_judge_swept_packs   which condemned packs go, which stay
 *   gc_sweep               merged index, old index files, repair records,
 *                          packs, markers (deletes)
 *   gc_condemn_indexed     dead and sparse indexed packs (repacks these)
 *   gc_condemn_orphans     packs no index lists, their headers proving it
 *   gc_write_marker        the new marker naming what was condemned
 *   gc_report              the report
 *
 * Every step returns 0 or an error code with the message set; the run
 * stops at the first error, so a step that fails before gc_expire_sessions
 * leaves the vault as it was. gc_run_free releases whatever the run holds.
 */
typedef struct {
	astra__repo *r;
	const astra__gc_params *p;
	astra__op *op;
	int64_t now; /* wall seconds, fixed at the start of the run */
	/* what was read */
	astra__json *sessions, *repairs, *snaps, *markers;
	astra__map superseded; /* index files that repair records name */
	astra__json *damaged; /* those of them found damaged on load */
	live_set ls;
	size_t nsnap;
	pack_listing pl;
	/* per pack of the index (np of them) */
	size_t np;
	uint64_t *live_bytes, *all_bytes;
	uint8_t *drop; /* swept: the merged index leaves it out */
	/* the sweep */
	int64_t oldest_session; /* start of the oldest live session */
	ASTRA_VEC(const astra__json *) sweep; /* ripe markers (in markers) */
	astra__map locked_files; /* old index files under retention */
	/* the report */
	astra__json *rep;
	astra__json *deleted; /* swept packs judged dead (a dry run's list) */
	astra__json *gone, *locked, *marked, *kept, *unreadable;
	uint64_t freed, repacked;
	astra__json **report; /* the caller's; set by gc_report only */
} gc_run;

/* Zeroes *g and allocates the report's lists: 0, or ASTRA_ENOMEM with *g
 * still safe to pass to gc_run_free. */
static int gc_run_init(gc_run *g, astra__repo *r, const astra__gc_params *p,
        astra__op *op, astra__json **report)
{
	memset(g, 0, sizeof(*g));
	g->r = r;
	g->p = p;
	g->op = op;
	g->report = report;
	g->superseded = (astra__map)ASTRA_MAP_INIT;
	g->locked_files = (astra__map)ASTRA_MAP_INIT;
	g->damaged = astra__json_new_array();
	g->unreadable = astra__json_new_array();
	g->rep = astra__json_new_object();
	g->deleted = astra__json_new_array();
	g->gone = astra__json_new_array();
	g->locked = astra__json_new_array();
	g->marked = astra__json_new_array();
	g->kept = astra__json_new_array();
	g->now = astra__wall_ns() / 1000000000LL;
	if (!g->rep || !g->deleted || !g->marked || !g->kept || !g->gone ||
	        !g->locked || !g->damaged || !g->unreadable)
		return ASTRA_ENOMEM;
	return 0;
}

static void gc_run_free(gc_run *g)
{
	live_free(&g->ls);
	astra__map_free(&g->pl.packs);
	astra__map_free(&g->pl.sizes);
	astra__map_free(&g->superseded);
	astra__json_free(g->repairs);
	astra__json_free(g->damaged);
	astra__json_free(g->unreadable);
	free(g->drop);
	free(g->live_bytes);
	free(g->all_bytes);
	astra_vec_free(&g->sweep);
	astra__json_free(g->markers);
	astra__json_free(g->sessions);
	astra__json_free(g->snaps);
	astra__json_free(g->rep);
	astra__json_free(g->deleted);
	astra__json_free(g->gone);
	astra__json_free(g->locked);
	astra__map_free(&g->locked_files);
	astra__json_free(g->marked);
	astra__json_free(g->kept);
}

/* Reads the repair records into g->repairs and the index files they name
 * into g->superseded. Reads only; on failure the error names the record
 * that cannot be read. */
static int gc_read_repairs(gc_run *g)
{
	int rc = collect(g->r, "repairs/", &g->repairs);
	if (rc)
		return rc;
	for (size_t i = 0; i < astra__json_size(g->repairs) && !rc; i++) {
		const astra__json *dl = astra__json_get(
		        astra__json_at(g->repairs, i), "damaged");
		for (size_t k = 0; k < astra__json_size(dl) && !rc; k++) {
			const char *f =
			        astra__json_string_value(astra__json_at(dl, k));
			if (f)
				rc = astra__map_set(
				        &g->superseded, f, NULL, NULL);
		}
	}
	return rc;
}

/* Lists the snapshot records into g->snaps; a record forgotten between
 * the listing and its read (ASTRA_ENOTFOUND) lists again, up to 5 more
 * times. Reads only. */
static int gc_list_snapshots(gc_run *g)
{
	int rc;
	for (int tries = 0;; tries++) {
		rc = astra__snapshot_list(g->r, &g->snaps);
		if (rc != ASTRA_ENOTFOUND || tries == 5)
			break;
		astra_error_clear();
	}
	return rc;
}

/*
 * Reads, in this order, the sessions, the repair records, the snapshot
 * records, the index (reset and loaded strictly, condemned packs flagged)
 * and the markers. Post: every record gc acts on is in memory and every
 * snapshot listed has its blobs in the loaded index. Writes nothing to
 * the store; on failure the error names the object that cannot be read
 * (the in-memory index may then be partly loaded).
 */
static int gc_read_state(gc_run *g)
{
	/* sessions before snapshots: a writer deletes its session only after
	 * its record is written, so a writer whose session is gone here has
	 * its record in the listing below (read the other way round, a
	 * backup finishing in between was in neither, and its data could be
	 * swept) */
	/* an unreadable session stops gc (its writer may be alive) unless
	 * nobody has rewritten it for longer than the session timeout */
	int rc = astra__repo_collect(g->r, "sessions/",
	        g->now - g->p->session_timeout_seconds, 0, &g->sessions);
	if (rc)
		return rc;
	/* repair records before the index: the damaged index files they
	 * name are covered by index files written before them */
	if ((rc = gc_read_repairs(g)))
		return rc;
	/* snapshots, then a fresh index with condemned packs flagged */
	if ((rc = gc_list_snapshots(g)))
		return rc;
	astra__repo_index_reset(g->r);
	/* strict: a damaged index file stops gc (what it lists could look
	 * unreferenced), unless a repair record supersedes it */
	if ((rc = astra__repo_load_index_mode(g->r, ASTRA_INDEX_LOAD_STRICT,
	             &g->superseded, g->damaged)))
		return rc;
	return collect(g->r, "gc/", &g->markers);
}

/* Fills g->ls with every tree and blob the snapshots and app backups
 * reference, then requires each to resolve in the loaded index. Reads
 * only; on failure the error names the snapshot, record or blob. */
static int gc_mark_live(gc_run *g)
{
	int rc = compute_live(g->r, g->snaps, &g->ls, g->op, &g->nsnap);
	if (rc)
		return rc;
	return live_all_indexed(g->r, &g->ls);
}

/* Lists the packs on the store into g->pl (mtime and size by hex). */
static int gc_list_packs(gc_run *g)
{
	int rc = astra__store_list(g->r->store, "data/", list_pack_cb, &g->pl);
	return rc < 0 ? rc : 0;
}

/* Allocates g->drop (all 0), g->live_bytes and g->all_bytes for the np
 * packs of the index and sums the sealed lengths of each pack's entries,
 * all and live. ASTRA_ENOMEM is the only failure. */
static int gc_pack_usage(gc_run *g)
{
	astra__repo *r = g->r;
	g->np = r->index.npacks;
	g->drop = astra__calloc(g->np + 1, 1);
	g->live_bytes = astra__calloc(g->np + 1, sizeof(uint64_t));
	g->all_bytes = astra__calloc(g->np + 1, sizeof(uint64_t));
	if (!g->drop || !g->live_bytes || !g->all_bytes)
		return ASTRA_ENOMEM;
	for (size_t i = 0; i < r->index.cap; i++) {
		const astra__idx_entry *e = &r->index.slots[i];
		if (!e->used || e->pack == ASTRA_PACK_NONE)
			continue;
		g->all_bytes[e->pack] += e->length;
		if (astra__index_find(&g->ls.set, &e->id) >= 0)
			g->live_bytes[e->pack] += e->length;
	}
	return 0;
}

/* Deletes the sessions whose heartbeat is older than the session timeout
 * (not in a dry run; a failed delete is only logged) and sets
 * g->oldest_session to the earliest start of the others (INT64_MAX when
 * none). Cannot fail: returns 0. */
static int gc_expire_sessions(gc_run *g)
{
	g->oldest_session = INT64_MAX;
	for (size_t i = 0; i < astra__json_size(g->sessions); i++) {
		const astra__json *s = astra__json_at(g->sessions, i);
		int64_t hb = astra__json_int(s, "heartbeat", 0);
		if (g->now - hb > g->p->session_timeout_seconds) {
			/* dead: a crashed writer records nothing */
			if (!g->p->dry_run &&
			        astra__store_del(g->r->store,
			                astra__json_str(s, "key")) != 0)
				astra__log_warn("cannot remove stale %s",
				        astra__json_str(s, "key"));
			continue;
		}
		int64_t st = astra__json_int(s, "start", 0);
		if (st < g->oldest_session)
			g->oldest_session = st;
	}
	return 0;
}

/* Puts into g->sweep each marker at least the grace period old and older
 * than the start of every live session. ASTRA_ENOMEM is ignored, as it
 * always was: a marker left out is swept by a later run. Returns 0. */
static int gc_pick_ripe_markers(gc_run *g)
{
	for (size_t i = 0; i < astra__json_size(g->markers); i++) {
		const astra__json *m = astra__json_at(g->markers, i);
		int64_t t = astra__json_int(m, "time", g->now);
		if (t + g->p->grace_seconds <= g->now && g->oldest_session > t)
			astra_vec_push(&g->sweep, m);
	}
	return 0;
}

/* A swept pack that no index entry points to: 1 when its header proves
 * that none of its live blobs needs it; 0 when it is kept (listed in
 * kept_packs, or in unreadable_packs when its header cannot be read);
 * < 0 on other errors. */
static int gc_swept_orphan_dead(gc_run *g, const char *hex)
{
	int d = orphan_is_dead(g->r, &g->pl, hex, &g->ls, g->unreadable);
	if (!d)
		add_str(g->kept, hex);
	return d;
}

/* The verdict on one pack a ripe marker names: 1 when it is to be
 * deleted (an indexed one also gets g->drop set, so the merged index
 * leaves it out); 0 when it stays (kept, or already gone); < 0 on
 * errors. Writes nothing to the store. */
static int gc_judge_swept_pack(gc_run *g, const char *hex)
{
	void *v = astra__map_get(&g->r->index.pack_lookup, hex ? hex : "");
	if (!v) {
		if (!astra__map_has(&g->pl.packs, hex ? hex : ""))
			return 0; /* already gone */
		/* an orphan: its header must prove that none of its blobs is
		 * live */
		return gc_swept_orphan_dead(g, hex);
	}
	size_t pi = (size_t)((intptr_t)v - 1);
	/* a live blob whose only copy is here keeps the pack */
	if (g->live_bytes[pi]) {
		add_str(g->kept, hex);
		return 0;
	}
	/* no entry points here (an orphan condemned earlier): its header
	 * must prove it */
	if (!g->all_bytes[pi] && astra__map_has(&g->pl.packs, hex)) {
		int d = gc_swept_orphan_dead(g, hex);
		if (d <= 0)
			return d;
	}
	g->drop[pi] = 1;
	return 1;
}

/* Judges every pack the ripe markers name; those to delete go to
 * g->deleted, those kept to g->kept. Writes nothing to the store. */
static int gc_judge_swept_packs(gc_run *g)
{
	int rc = 0;
	for (size_t i = 0; i < g->sweep.n && !rc; i++) {
		const astra__json *packs =
		        astra__json_get(g->sweep.v[i], "packs");
		for (size_t k = 0; k < astra__json_size(packs) && !rc; k++) {
			const char *hex = astra__json_string_value(
			        astra__json_at(packs, k));
			int d = gc_judge_swept_pack(g, hex);
			if (d < 0)
				rc = d;
			else if (d)
				add_str(g->deleted, hex);
		}
	}
	return rc;
}

/* Pre: the merged index without the dropped packs is durable. Deletes
 * each pack in g->deleted unless it is under retention or an index file
 * under retention lists it (then it goes to g->locked); adds what it
 * deleted to g->gone and its size to g->freed. On failure some packs may
 * be deleted: a later run finds the rest under the same marker. */
static int gc_delete_swept_packs(gc_run *g)
{
	astra__repo *r = g->r;
	int rc = 0;
	for (size_t i = 0; i < astra__json_size(g->deleted) && !rc; i++) {
		astra__id id;
		const char *hex =
		        astra__json_string_value(astra__json_at(g->deleted, i));
		if (astra__id_parse(&id, hex))
			continue;
		char *key = astra__pack_key(&id);
		if (!key) {
			rc = ASTRA_ENOMEM;
			break;
		}
		/* never delete what is locked: it is reclaimed by a gc after
		 * its retention ends */
		astra__obj_info info;
		memset(&info, 0, sizeof(info));
		int hr = astra__store_head(r->store, key, &info);
		astra_error_clear();
		if ((hr == 0 && is_locked(&info, g->now)) ||
		        listed_by(r, hex, &g->locked_files)) {
			add_str(g->locked, hex);
			free(key);
			continue;
		}
		rc = astra__store_del(r->store, key);
		if (rc == ASTRA_EPOLICY) {
			astra_error_clear();
			rc = add_str(g->locked, hex);
		} else if (!rc) {
			g->freed += hr == 0 ? info.size : 0;
			rc = add_str(g->gone, hex);
		}
		free(key);
	}
	return rc;
}

/* Deletes the ripe markers, last, once their packs are dealt with; one
 * that a bucket's default retention locks stays (a warning). */
static int gc_delete_swept_markers(gc_run *g)
{
	int rc = 0;
	for (size_t i = 0; i < g->sweep.n && !rc; i++) {
		rc = astra__store_del(
		        g->r->store, astra__json_str(g->sweep.v[i], "key"));
		if (rc == ASTRA_EPOLICY) {
			/* a bucket default retention locked it */
			astra__log_warn("%s", astra_error_last()->message);
			astra_error_clear();
			rc = 0;
		}
	}
	return rc;
}

/* Unless a dry run or nothing is ripe: writes the merged index without
 * the dropped packs and deletes the old index files and the repair
 * records they settle (rewrite_index), then the judged packs, then the
 * ripe markers. Stops at the first error, leaving the rest for a later
 * run (the marker stays, so it sweeps again). */
static int gc_sweep(gc_run *g)
{
	if (g->p->dry_run || !g->sweep.n)
		return 0;
	int rc = rewrite_index(
	        g->r, g->drop, &g->locked_files, g->damaged, g->repairs);
	if (!rc)
		rc = gc_delete_swept_packs(g);
	if (!rc)
		rc = gc_delete_swept_markers(g);
	return rc;
}

/* Whether the sparse pack pr is under retention or a legal hold now, on
 * a store with object lock (a HEAD that fails counts as not locked). */
static int gc_pack_locked(gc_run *g, const astra__pack_ref *pr)
{
	astra__obj_info info;
	memset(&info, 0, sizeof(info));
	char *key = astra__pack_key(&pr->id);
	int hr =
	        key ? astra__store_head(g->r->store, key, &info) : ASTRA_ENOMEM;
	free(key);
	astra_error_clear();
	return hr == 0 && is_locked(&info, g->now);
}

/* Copies the live blobs of pack pi into new packs through *w (created on
 * first use) and flags the pack condemned in memory. On failure some
 * blobs may be in the writer's unflushed packs, which the caller frees. */
static int gc_repack(gc_run *g, astra__writer **w, size_t pi)
{
	astra__repo *r = g->r;
	int rc = 0;
	if (!*w && (rc = astra__writer_new(w, r)))
		return rc;
	r->index.packs[pi].condemned = 1;
	for (size_t i = 0; i < r->index.cap && !rc; i++) {
		astra__idx_entry e = r->index.slots[i];
		if (!e.used || e.pack != pi ||
		        astra__index_find(&g->ls.set, &e.id) < 0)
			continue;
		astra_buf blob = ASTRA_BUF_INIT;
		rc = astra__repo_read_blob(r, &e.id, &blob);
		if (!rc)
			rc = astra__writer_add(*w, e.type, blob.ptr, blob.size,
			        &e.id, 1, NULL);
		g->repacked += blob.size;
		astra_buf_dispose(&blob);
	}
	return rc;
}

/* Adds to g->marked every indexed pack on the store that is not already
 * condemned or dropped and whose live part is 0, or below the repack
 * threshold (then its live blobs are copied out first, not in a dry run;
 * a locked sparse pack is skipped). Post: the copies are flushed (packs
 * and an index file written) before the marker names the pack. */
static int gc_condemn_indexed(gc_run *g)
{
	astra__repo *r = g->r;
	astra__writer *w = NULL;
	int rc = 0;
	for (size_t pi = 0; pi < g->np && !rc; pi++) {
		astra__pack_ref *pr = &r->index.packs[pi];
		char hex[ASTRA_ID_HEX];
		astra__id_hex(&pr->id, hex);
		if (pr->condemned || g->drop[pi] || !g->all_bytes[pi])
			continue;
		if (!astra__map_has(&g->pl.packs, hex))
			continue; /* missing pack: check reports it */
		int dead = g->live_bytes[pi] == 0;
		int sparse = !dead &&
		             g->live_bytes[pi] * 100 <
		                     g->all_bytes[pi] * g->p->repack_threshold;
		if (!dead && !sparse)
			continue;
		/* copying the live part out frees nothing while the pack is
		 * locked */
		if (sparse && (r->store->caps & ASTRA_STORE_CAP_OBJECT_LOCK) &&
		        gc_pack_locked(g, pr))
			continue;
		/* copy the live blobs out, then condemn the pack */
		if (sparse && !g->p->dry_run && (rc = gc_repack(g, &w, pi)))
			break;
		rc = add_str(g->marked, hex);
	}
	if (!rc && w)
		rc = astra__writer_flush(w);
	astra__writer_free(w);
	return rc;
}

static int json_has_str(const astra__json *arr, const char *s)
{
	for (size_t i = 0; i < astra__json_size(arr); i++)
		if (!strcmp(astra__json_string_value(astra__json_at(arr, i)),
		            s))
			return 1;
	return 0;
}

/* Adds to g->marked every pack on the store that no index lists, is
 * older than the grace period, was not judged in this run's sweep, and
 * whose header proves it holds no live blob (a damaged index file may
 * have been its only list); an unreadable header keeps it (listed in
 * g->unreadable). Reads only. */
static int gc_condemn_orphans(gc_run *g)
{
	int rc = 0;
	size_t pos = 0;
	const char *phex;
	while (!rc && astra__map_next(&g->pl.packs, &pos, &phex, NULL)) {
		if (astra__map_has(&g->r->index.pack_lookup, phex))
			continue;
		intptr_t mt = (intptr_t)astra__map_get(&g->pl.packs, phex) - 1;
		if (g->now - mt < g->p->grace_seconds)
			continue; /* maybe a running backup's */
		if (json_has_str(g->deleted, phex) ||
		        json_has_str(g->kept, phex))
			continue;
		int d = orphan_is_dead(
		        g->r, &g->pl, phex, &g->ls, g->unreadable);
		if (d < 0)
			rc = d;
		else if (d)
			rc = add_str(g->marked, phex);
	}
	return rc;
}

/* Unless a dry run or nothing was condemned: writes gc/<32 random hex>
 * {"time", "packs"} (if absent). On failure no marker exists and the
 * packs stay usable; the copies of repacked blobs are merely redundant. */
static int gc_write_marker(gc_run *g)
{
	if (g->p->dry_run || !astra__json_size(g->marked))
		return 0;
	astra__json *m = astra__json_new_object();
	uint8_t raw[16];
	char mhex[33], key[64];
	if (!m)
		return ASTRA_ENOMEM;
	astra__random(raw, sizeof(raw));
	astra__hex_encode(mhex, raw, sizeof(raw));
	snprintf(key, sizeof(key), "gc/%s", mhex);
	astra__json_set_int(m, "time", g->now);
	astra__json_set(m, "packs", astra__json_dup(g->marked));
	int rc = astra__repo_put_json(g->r, key, m, ASTRA_PUT_IF_ABSENT);
	astra__json_free(m);
	return rc;
}

/* Moves the counts and lists into g->rep and hands it to *g->report.
 * Returns 0. */
static int gc_report(gc_run *g)
{
	astra__json *rep = g->rep;
	astra__json_set_int(rep, "snapshots", (int64_t)g->nsnap);
	astra__json_set_int(rep, "live_blobs", (int64_t)g->ls.set.n);
	astra__json_set_bool(rep, "dry_run", g->p->dry_run);
	astra__json_set_int(rep, "grace_seconds", g->p->grace_seconds);
	astra__json_set_int(rep, "bytes_freed", (int64_t)g->freed);
	astra__json_set_int(rep, "bytes_repacked", (int64_t)g->repacked);
	astra__json_set(
	        rep, "deleted_packs", g->p->dry_run ? g->deleted : g->gone);
	if (g->p->dry_run)
		g->deleted = NULL;
	else
		g->gone = NULL;
	astra__json_set(rep, "locked_packs", g->locked);
	g->locked = NULL;
	astra__json_set(rep, "marked_packs", g->marked);
	g->marked = NULL;
	astra__json_set(rep, "kept_packs", g->kept);
	g->kept = NULL;
	astra__json_set(rep, "unreadable_packs", g->unreadable);
	g->unreadable = NULL;
	astra__json_set(rep, "superseded_index_files", g->damaged);
	g->damaged = NULL;
	*g->report = rep;
	g->rep = NULL;
	return 0;
}

/* The steps of a run, in order (see gc_run). */
static int (*const gc_steps[])(gc_run *) = {
	gc_read_state,
	gc_mark_live,
	gc_list_packs,
	gc_pack_usage,
	/* 1. sweep markers that are old enough */
	gc_expire_sessions,
	gc_pick_ripe_markers,
	gc_judge_swept_packs,
	gc_sweep,
	/* 2. mark: dead packs, mostly-dead packs (after repacking), orphans */
	gc_condemn_indexed,
	gc_condemn_orphans,
	gc_write_marker,
	gc_report,
};

int astra__data_gc(astra__repo *r, const astra__gc_params *p, astra__op *op,
        astra__json **report)
{
	gc_run g;
	int rc = gc_run_init(&g, r, p, op, report);
	*report = NULL;
	if (!rc && op)
		op->p.stage = ASTRA_STAGE_COLLECTING_GARBAGE;
	for (size_t i = 0; !rc && i < ASTRA__NELEM(gc_steps); i++)
		rc = gc_steps[i](&g);
	gc_run_free(&g);
	return rc;
}
