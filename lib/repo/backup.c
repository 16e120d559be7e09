/*
 * The data mover's backup side: walks a tree, chunks files on the calling
 * thread, and hands chunks to a thread pool that hashes, deduplicates,
 * compresses, encrypts and packs them. One tree blob per directory; a
 * snapshot record last, so a failed or cancelled run records nothing.
 * The walk is in backup_walk.c, reading and chunking and the pending
 * directories in backup_chunk.c; this file holds the verb.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"
#include "repo/backup_internal.h"

/* Sums sizes first so progress can show a total and an ETA. */
static void scan(const char *abs, uint64_t *bytes, uint64_t *items, int depth)
{
	DIR *d = opendir(abs);
	if (!d || depth > 256) {
		if (d)
			closedir(d);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		(*items)++;
		if (S_ISREG(sb.st_mode)) {
			uint64_t alloc = (uint64_t)sb.st_blocks * 512;
			*bytes += alloc < (uint64_t)sb.st_size
			                  ? alloc
			                  : (uint64_t)sb.st_size;
		} else if (S_ISDIR(sb.st_mode)) {
			char *sub = astra__aprintf("%s/%s", abs, e->d_name);
			if (sub)
				scan(sub, bytes, items, depth + 1);
			free(sub);
		}
	}
	closedir(d);
}

static const astra__json *find_parent(const astra__json *list,
        const char *source, const char *host, const char *want)
{
	const astra__json *best = NULL;
	for (size_t i = 0; i < astra__json_size(list); i++) {
		const astra__json *s = astra__json_at(list, i);
		const char *id = astra__json_str(s, "id");
		if (want) {
			if (id && strncmp(id, want, strlen(want)) == 0)
				return s;
			continue;
		}
		const char *src = astra__json_str(s, "source");
		const char *h = astra__json_str(s, "host");
		if (src && h && !strcmp(src, source) && !strcmp(h, host))
			best = s; /* list is oldest first */
	}
	return best;
}

/* Sets up the state of a run on repository r. Always leaves b ready for
 * bk_dispose (its mutexes and condition variables exist), even when it
 * fails: ASTRA_ENOMEM when the error list cannot be allocated. */
static int bk_init(bk *b, astra__repo *r, const astra__backup_params *p)
{
	b->r = r;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	astra__op_init(&b->op, p->progress_cb, p->payload, p->cancel);
	b->op.p.stage = ASTRA_STAGE_SCANNING;
	b->errors = astra__json_new_array();
	pthread_mutex_init(&b->seg_mu, NULL);
	pthread_cond_init(&b->inflight_cv, NULL);
	/* two maximal chunks, and at least 16 MiB: few tails to move */
	b->segcap = 2 * r->chunker.max;
	if (b->segcap < (16u << 20))
		b->segcap = 16u << 20;
	if (!b->errors)
		return ASTRA_ENOMEM;
	return 0;
}

/* Starts the gc session, the pack writer and the worker pool, in that
 * order. On failure whatever was started stays in b for bk_dispose. */
static int bk_start(bk *b)
{
	astra__repo *r = b->r;
	int rc;
	/* The session starts before the index is read: a gc marker written
	 * after this point cannot be swept while this backup runs, and one
	 * written before it is seen by the writer (see gc.c). */
	if ((rc = astra__data_session_start(r, &b->session)))
		return rc;
	if ((rc = astra__writer_new(&b->w, r)))
		return rc;
	/* one worker more than CPUs, so that one writing a pack does not
	 * leave a CPU idle; on a remote store, more: pack uploads wait */
	unsigned workers = r->threads + 1 +
	                   (r->store->io_depth ? r->store->io_depth / 4 : 0);
	return astra__pool_new(&b->pool, workers, QUEUE_MAX);
}

/* The parent snapshot, unless the caller asked for none: *list gets the
 * snapshot list (the caller frees it, also on failure), *ptree the
 * parent's root tree and *parent_id / *parent_root point into *list.
 * The parent's totals stand in for a scan. A parent that cannot be read
 * is only a warning (every file is read); a named parent that does not
 * exist is an error. */
static int load_parent(bk *b, const astra__backup_params *p, const char *source,
        const char *host, astra__json **list, astra__json **ptree,
        const char **parent_id, const char **parent_root)
{
	astra__repo *r = b->r;
	int rc;
	if (p->flags & ASTRA_BACKUP_F_NO_PARENT)
		return 0;
	if ((rc = astra__snapshot_list(r, list)))
		return rc;
	const astra__json *ps = find_parent(*list, source, host, p->parent);
	if (p->parent && !ps)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "parent snapshot %s not found", p->parent);
	const char *ptid = ps ? astra__json_str(ps, "tree") : NULL;
	astra__id pid;
	if (ptid && astra__id_parse(&pid, ptid) == 0 &&
	        astra__tree_load(r, &pid, ptree) == 0) {
		*parent_id = astra__json_str(ps, "id");
		*parent_root = ptid;
		/* the parent's totals stand in for a scan */
		const astra__json *pst = astra__json_get(ps, "stats");
		b->op.p.bytes_total =
		        (uint64_t)astra__json_int(pst, "bytes", 0);
		b->op.p.items_total =
		        (uint64_t)(astra__json_int(pst, "files", 0) +
		                   astra__json_int(pst, "dirs", 0));
	} else if (ptid)
		astra__log_warn("parent snapshot unreadable, reading "
		                "every file: %s",
		        astra_error_last()->message);
	return 0;
}

/* Backs up the tree at abs (sb: its stat) into the writer and sets *root
 * to its tree's id; every worker has finished on return. On success all
 * of its data is flushed. On failure nothing is recorded, what was stored
 * is flushed for the next run (unless the vault is full), and the walk's
 * error is the one reported. */
static int store_tree(bk *b, const char *abs, const struct stat *sb,
        astra__json *ptree, const char *parent_root, astra__id *root)
{
	int rc;
	if (S_ISDIR(sb->st_mode)) {
		rc = astra__bk_backup_dir(b, -1, NULL, NULL, abs, "", ptree, 0,
		        parent_root, NULL, 0);
		if (!rc)
			rc = astra__bk_drain(b, 0);
		*root = b->root;
	} else if (S_ISREG(sb->st_mode) || S_ISBLK(sb->st_mode)) {
		rc = astra__bk_backup_single(b, abs, root);
	} else {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "%s is not a directory, file or block device", abs);
	}
	astra__pool_wait(b->pool);
	if (!rc && atomic_load(&b->failed))
		rc = astra__bk_check(b);
	if (rc) {
		/* keep what was stored for the next run; record nothing */
		astra__saved_err e;
		astra__err_save(&e);
		e.code = rc;
		if (rc != ASTRA_ENOSPACE && astra__writer_flush(b->w) != 0)
			astra__log_warn("could not save partial data: %s",
			        astra_error_last()->message);
		astra__err_restore(&e);
		return rc;
	}
	b->op.p.stage = ASTRA_STAGE_FINISHING;
	return astra__writer_flush(b->w);
}

/* Builds the snapshot record of a finished run in *rec (the caller frees
 * it, also on failure) and leaves the writer's totals in *ws. A tag that
 * is not KEY=VALUE fails it. */
static int build_record(bk *b, const astra__backup_params *p, const char *host,
        const char *source, const char *parent_id, const astra__id *root,
        astra__json **rec, astra__writer_stats *ws)
{
	*rec = astra__json_new_object();
	if (!*rec)
		return ASTRA_ENOMEM;
	char when[24], hex[ASTRA_ID_HEX];
	int64_t now = astra__wall_ns();
	astra__fmt_utc(when, now / 1000000000LL);
	char ns[32];
	snprintf(ns, sizeof(ns), "%lld", (long long)now);
	astra__id_hex(root, hex);
	astra__json_set_str(*rec, "time", when);
	astra__json_set_str(*rec, "time_ns", ns);
	astra__json_set_str(*rec, "host", host);
	astra__json_set_str(*rec, "source", source);
	astra__json_set_str(*rec, "tree", hex);
	astra__json_set_str(*rec, "kind", "data");
	if (parent_id)
		astra__json_set_str(*rec, "parent", parent_id);
	astra__json *tags = astra__json_new_object();
	for (size_t i = 0; tags && i < p->ntags; i++) {
		const char *eq = strchr(p->tags[i], '=');
		if (!eq) {
			int rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "tag \"%s\" is not KEY=VALUE", p->tags[i]);
			astra__json_free(tags);
			return rc;
		}
		char k[256];
		snprintf(k, sizeof(k), "%.*s", (int)(eq - p->tags[i]),
		        p->tags[i]);
		astra__json_set_str(tags, k, eq + 1);
	}
	astra__json_set(*rec, "tags", tags);
	astra__writer_get_stats(b->w, ws);
	astra__json *st = astra__json_new_object();
	if (st) {
		astra__json_set_int(st, "files", (int64_t)b->files);
		astra__json_set_int(st, "dirs", (int64_t)b->dirs);
		astra__json_set_int(st, "bytes", (int64_t)b->bytes_total);
		astra__json_set_int(st, "bytes_read", (int64_t)b->bytes_read);
		astra__json_set_int(
		        st, "bytes_new", (int64_t)ws->bytes_raw_new);
		astra__json_set_int(
		        st, "bytes_stored", (int64_t)ws->bytes_stored);
		astra__json_set_int(
		        st, "errors", (int64_t)astra__json_size(b->errors));
	}
	astra__json_set(*rec, "stats", st);
	return 0;
}

/* Saves the record, locked exactly as long as the data it references,
 * and only if gc has not declared this run's session dead. id gets the
 * snapshot's id. The repository's lock pin is reset either way. */
static int save_record(bk *b, astra__json *rec, char id[33])
{
	astra__repo *r = b->r;
	/* the record is locked exactly as long as the data it references */
	r->until_pin = astra__writer_until(b->w);
	/* gc must not have declared this writer dead: it may have deleted
	 * data the record would reference */
	int rc = astra__data_session_verify(b->session);
	if (!rc)
		rc = astra__snapshot_save(r, rec, id);
	r->until_pin = 0;
	return rc;
}

/* Copies a saved run's totals to out (may be NULL). */
static void fill_out(const bk *b, const char id[33],
        const astra__writer_stats *ws, astra__backup_out *out)
{
	if (!out)
		return;
	memcpy(out->id, id, 33);
	out->files = b->files;
	out->dirs = b->dirs;
	out->unchanged = b->unchanged;
	out->bytes_total = b->bytes_total;
	out->bytes_read = b->bytes_read;
	out->bytes_new = ws->bytes_raw_new;
	out->bytes_stored = ws->bytes_stored;
	out->errors = astra__json_size(b->errors);
	out->nodes_reused = b->nodes_reused;
	out->trees_reused = b->trees_reused;
}

/* Releases everything a run holds, whatever step it stopped at: waits
 * for the workers, drops unfinished directories (their stored chunks
 * stay), ends the session and frees the writer. Leaves the error as it
 * is except what those calls set. */
static void bk_dispose(bk *b)
{
	if (b->pool) {
		astra__pool_wait(b->pool);
		astra__bk_discard_from(b, 0);
		astra__pool_free(b->pool);
	}
	astra_vec_free(&b->pend);
	astra__data_session_end(b->session);
	astra__writer_free(b->w);
	size_t pos = 0;
	void *v;
	while (astra__map_next(&b->hardlinks, &pos, NULL, &v))
		free(v);
	astra__map_free(&b->hardlinks);
	astra__json_free(b->errors);
}

/* The run, in steps: set up, start the session, writer and pool, find the
 * parent snapshot, scan (when there is no parent), store the tree, then
 * build and save the record, last, so a failed run records nothing. */
int astra__data_backup(astra__repo *r, const char *path,
        const astra__backup_params *p, astra__backup_out *out)
{
	bk b;
	memset(&b, 0, sizeof(b));
	uint64_t t0 = astra__mono_ns();
	char *abs = realpath(path, NULL);
	astra__json *list = NULL, *ptree = NULL, *rec = NULL;
	int rc = 0;
	if (!abs)
		return astra__err_os("cannot back up %s", path);
	struct stat sb;
	if (stat(abs, &sb) != 0) {
		rc = astra__err_os("cannot back up %s", abs);
		free(abs);
		return rc;
	}
	if ((rc = bk_init(&b, r, p)))
		goto done;
	char host[256] = "unknown";
	gethostname(host, sizeof(host) - 1);
	const char *source = p->source ? p->source : abs;
	if ((rc = bk_start(&b)))
		goto done;
	const char *parent_id = NULL, *parent_root = NULL;
	if ((rc = load_parent(&b, p, source, host, &list, &ptree, &parent_id,
	             &parent_root)))
		goto done;
	if (!(p->flags & ASTRA_BACKUP_F_NO_SCAN) && !ptree &&
	        S_ISDIR(sb.st_mode)) {
		scan(abs, &b.op.p.bytes_total, &b.op.p.items_total, 0);
	}
	b.op.p.stage = ASTRA_STAGE_BACKING_UP;
	if ((rc = astra__op_report(&b.op, 1)))
		goto done;
	astra__id root;
	if ((rc = store_tree(&b, abs, &sb, ptree, parent_root, &root)))
		goto done;
	astra__writer_stats ws;
	if ((rc = build_record(
	             &b, p, host, source, parent_id, &root, &rec, &ws)))
		goto done;
	char id[33];
	if ((rc = save_record(&b, rec, id)))
		goto done;
	fill_out(&b, id, &ws, out);
	b.op.p.items_done = b.op.p.items_total;
	astra__op_report(&b.op, 1);
	if (astra__json_size(b.errors)) {
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_REPO,
		        "snapshot %s saved, but %zu item(s) could not be read "
		        "(first: %s: %s)",
		        id, astra__json_size(b.errors),
		        astra__json_str(astra__json_at(b.errors, 0), "path"),
		        astra__json_str(astra__json_at(b.errors, 0), "error"));
	}
done:
	if (out)
		out->duration_s = (double)(astra__mono_ns() - t0) / 1e9;
	bk_dispose(&b);
	astra__json_free(list);
	astra__json_free(ptree);
	astra__json_free(rec);
	astra__bk_segs_free(&b);
	pthread_mutex_destroy(&b.seg_mu);
	pthread_cond_destroy(&b.inflight_cv);
	free(abs);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.cv);
	return rc;
}
