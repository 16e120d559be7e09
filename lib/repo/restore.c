/*
 * The data mover's restore side: walks a snapshot tree, creates
 * directories, links and special files on the calling thread, and writes
 * file chunks in parallel (every chunk verified). Metadata is applied after
 * content: files when their last chunk lands, directories last and deepest
 * first. Damage is reported per item; the rest is restored.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

typedef struct rs rs;

typedef struct {
	rs *r;
	char *path;
	char *rel;
	astra__json *node; /* a copy */
	int fd;
	int remaining; /* guarded by rs->mu */
	int failed;
} rfile;

/* Chunks that lie close together in one pack are read with one ranged
 * request (a "run"), then decoded and written one by one: a remote store
 * pays one round trip per run instead of one per chunk. */
#define RUN_MAX_ITEMS 64
#define RUN_MAX_BYTES (4u << 20)
#define RUN_MAX_GAP (64u << 10) /* unneeded bytes read to join two chunks */
/* open files (each with its chunks queued) before the walk waits */
#define MAX_INFLIGHT_FILES 512

typedef struct {
	rfile *f;
	uint64_t off; /* in the file */
	uint32_t len; /* as the tree says */
	astra__idx_entry e; /* where it is */
} run_item;

typedef struct {
	rs *s;
	uint32_t pack;
	uint64_t start, end; /* the range of the pack to read */
	size_t n;
	run_item items[RUN_MAX_ITEMS];
} run_task;

typedef struct {
	char *path;
	astra__json *node;
} pending_meta;

struct rs {
	astra__repo *repo;
	astra__pool *pool;
	astra__op op;
	unsigned flags;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inflight_files;
	astra__json *report;
	ASTRA_VEC(pending_meta) dirs;
	ASTRA_VEC(pending_meta) links; /* hard links, made at the end */
	int is_root;
	uint64_t files, dirs_n, bytes;
	atomic_int fatal;
	int fatal_code;
	char fatal_msg[512];
	run_task *run; /* being filled by the walk */
};

static void report(rs *s, const char *rel, const char *what)
{
	const char *msg = astra_error_last()->message;
	pthread_mutex_lock(&s->mu);
	astra__json *e = astra__json_new_object();
	if (e) {
		char full[1200];
		snprintf(full, sizeof(full), "%s: %s", what, msg);
		astra__json_set_str(e, "path", rel);
		astra__json_set_str(e, "error", full);
		astra__json_push(s->report, e);
	}
	pthread_mutex_unlock(&s->mu);
	astra__log_warn("cannot restore %s: %s: %s", rel, what, msg);
}

static void apply_meta(
        rs *s, const char *path, const astra__json *node, int fd, int is_link)
{
	int64_t mode = astra__json_int(node, "mode", -1);
	int64_t uid = astra__json_int(node, "uid", -1);
	int64_t gid = astra__json_int(node, "gid", -1);
	if (!(s->flags & ASTRA_RESTORE_F_NO_OWNER) && s->is_root && uid >= 0 &&
	        gid >= 0) {
		if (fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
		            : lchown(path, (uid_t)uid, (gid_t)gid))
			astra__log_debug("cannot chown %s", path);
	}
	const astra__json *x = astra__json_get(node, "xattrs");
	if (!(s->flags & ASTRA_RESTORE_F_NO_XATTRS))
		for (size_t i = 0; i < astra__json_size(x); i++) {
			const astra__json *m = astra__json_at(x, i);
			const char *v = astra__json_string_value(m);
			astra_buf val = ASTRA_BUF_INIT;
			if (v && astra__base64_decode(&val, v, strlen(v)) == 0)
				if (lsetxattr(path, astra__json_key(m),
				            val.ptr ? val.ptr : "", val.size,
				            0) != 0)
					astra__log_debug(
					        "cannot set xattr %s on %s",
					        astra__json_key(m), path);
			astra_buf_dispose(&val);
		}
	if (!is_link && mode >= 0) {
		if (fd >= 0 ? fchmod(fd, (mode_t)mode)
		            : chmod(path, (mode_t)mode))
			astra__log_debug("cannot chmod %s", path);
	}
	struct timespec ts[2];
	/* access times are not kept (they would change every tree on every
	 * backup); a restored item's atime is its mtime */
	if (astra__tree_get_time(node, "mtime", &ts[1]) == 0) {
		ts[0] = ts[1];
		if (fd >= 0 ? futimens(fd, ts)
		            : utimensat(
		                      AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
			astra__log_debug("cannot set times on %s", path);
	}
}

static void file_done(rs *s, rfile *f)
{
	if (!f->failed) {
		apply_meta(s, f->path, f->node, f->fd, 0);
	}
	close(f->fd);
	free(f->path);
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
			rc = astra__err_os("cannot write %s", it->f->path);
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
		file_done(s, f);
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
			report(s, it->f->rel, "content");
			if (irc == ASTRA_ENOSPACE || irc == ASTRA_ENOMEM)
				set_fatal(s, irc);
		}
		item_done(s, it, irc != 0);
	}
	astra_buf_dispose(&buf);
	free(t);
}

/* Hands the run being filled to the workers. */
static void flush_run(rs *s)
{
	if (!s->run)
		return;
	astra__pool_submit(s->pool, run_worker, s->run);
	s->run = NULL;
}

/* Adds a chunk to the run being filled, or starts a new run. */
static int add_chunk(
        rs *s, rfile *f, uint64_t off, uint32_t len, const astra__idx_entry *e)
{
	run_task *t = s->run;
	if (t && (t->pack != e->pack || e->offset < t->end ||
	                 e->offset - t->end > RUN_MAX_GAP ||
	                 e->offset + e->length - t->start > RUN_MAX_BYTES ||
	                 t->n == RUN_MAX_ITEMS)) {
		flush_run(s);
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

/* Removes what stands where a non-directory must be created. */
static int clear_path(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return 0;
	if (S_ISDIR(sb.st_mode))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "a directory is in the way at %s", path);
	if (unlink(path) != 0)
		return astra__err_os("cannot replace %s", path);
	return 0;
}

static int restore_file(
        rs *s, const char *path, const char *rel, const astra__json *node)
{
	/* each file stays open until its last chunk lands: bound them */
	pthread_mutex_lock(&s->mu);
	int wait = s->inflight_files >= MAX_INFLIGHT_FILES;
	pthread_mutex_unlock(&s->mu);
	if (wait) {
		flush_run(s);
		pthread_mutex_lock(&s->mu);
		while (s->inflight_files >= MAX_INFLIGHT_FILES / 2)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	int fd = open(path,
	        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && (errno == EISDIR || errno == ETXTBSY)) {
		astra__err_os("cannot create %s", path);
		return -1;
	}
	if (fd < 0) {
		astra__err_os("cannot create %s", path);
		return -1;
	}
	int64_t size = astra__json_int(node, "size", 0);
	if (size < 0 || ftruncate(fd, (off_t)size) != 0) {
		astra__err_os("cannot size %s", path);
		close(fd);
		return -1;
	}
	rfile *f = astra__calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return ASTRA_ENOMEM;
	}
	f->r = s;
	f->fd = fd;
	f->path = astra__strdup(path);
	f->rel = astra__strdup(rel);
	f->node = astra__json_dup(node);
	f->remaining = 1; /* held by this function until all are queued */
	pthread_mutex_lock(&s->mu);
	s->inflight_files++;
	pthread_mutex_unlock(&s->mu);
	if (!f->path || !f->rel || !f->node) {
		f->failed = 1;
		file_done(s, f);
		return ASTRA_ENOMEM;
	}
	s->files++;
	const astra__json *exs = astra__json_get(node, "extents");
	int rc = 0;
	for (size_t i = 0; i < astra__json_size(exs) && !rc; i++) {
		const astra__json *ex = astra__json_at(exs, i);
		int64_t off = astra__json_int(ex, "offset", -1);
		const astra__json *chunks = astra__json_get(ex, "chunks");
		if (off < 0) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "extent without offset");
			break;
		}
		for (size_t k = 0; k < astra__json_size(chunks); k++) {
			const astra__json *pair = astra__json_at(chunks, k);
			double len = astra__json_number_value(
			        astra__json_at(pair, 1));
			astra__id id;
			if (len < 0 || len > UINT32_MAX ||
			        astra__id_parse(&id,
			                astra__json_string_value(
			                        astra__json_at(pair, 0)))) {
				rc = astra__err(ASTRA_ECORRUPT,
				        ASTRA_ERROR_REPO,
				        "bad chunk reference");
				break;
			}
			astra__idx_entry e;
			if (astra__repo_lookup(s->repo, &id, &e) != 0 ||
			        e.pack == ASTRA_PACK_NONE) {
				char hex[ASTRA_ID_HEX];
				astra__id_hex(&id, hex);
				astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
				        "blob %s is missing from the vault "
				        "index",
				        hex);
				report(s, rel, "content");
				pthread_mutex_lock(&s->mu);
				f->failed = 1;
				pthread_mutex_unlock(&s->mu);
				off += (int64_t)len;
				continue;
			}
			if ((rc = add_chunk(
			             s, f, (uint64_t)off, (uint32_t)len, &e)))
				break;
			off += (int64_t)len;
			s->op.p.bytes_done += (uint64_t)len;
			if ((rc = astra__op_report(&s->op, 0)))
				break;
		}
	}
	pthread_mutex_lock(&s->mu);
	if (rc)
		f->failed = 1;
	int last = --f->remaining == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		file_done(s, f);
	return rc == ASTRA_ECANCELLED || rc == ASTRA_ENOMEM ? rc : 0;
}

static int restore_tree(rs *s, const astra__json *tree, const char *dir,
        const char *rel, int depth);

static int restore_node(rs *s, const astra__json *node, const char *dir,
        const char *rel, int depth)
{
	char *name = astra__tree_get_name(node, "name");
	if (!name)
		return 0;
	int rc = 0;
	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	        !strcmp(name, "..")) {
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unsafe name \"%s\" in snapshot", name);
		report(s, rel, "name");
		free(name);
		return 0;
	}
	char *path = astra__aprintf("%s/%s", dir, name);
	char *crel =
	        *rel ? astra__aprintf("%s/%s", rel, name) : astra__strdup(name);
	free(name);
	if (!path || !crel) {
		free(path);
		free(crel);
		return ASTRA_ENOMEM;
	}
	const char *type = astra__json_str(node, "type");
	if (!type)
		type = "unknown";
	s->op.p.items_done++;
	if (!strcmp(type, "dir")) {
		astra__json *sub = NULL;
		astra__id id;
		const char *st = astra__json_str(node, "subtree");
		struct stat dsb;
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			astra__err_os("cannot create directory %s", path);
			report(s, crel, "mkdir");
		} else if (lstat(path, &dsb) != 0 || !S_ISDIR(dsb.st_mode)) {
			/* never follow a symlink (or anything else) that is in
			 * the way: it could lead outside the target */
			astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
			        "%s exists and is not a directory", path);
			report(s, crel, "mkdir");
		} else if (!st) {
			/* a directory recorded without content */
			s->dirs_n++;
		} else if (astra__id_parse(&id, st) ||
		           astra__tree_load(s->repo, &id, &sub)) {
			report(s, crel, "directory listing");
		} else {
			s->dirs_n++;
			rc = restore_tree(s, sub, path, crel, depth + 1);
		}
		astra__json_free(sub);
		pending_meta m = { path, astra__json_dup(node) };
		if (m.node && astra_vec_push(&s->dirs, m) == 0)
			path = NULL;
		else
			astra__json_free(m.node);
	} else if (!strcmp(type, "file")) {
		const char *hl = astra__json_str(node, "hardlink");
		if (hl) {
			pending_meta m = { path, astra__json_dup(node) };
			if (m.node && astra_vec_push(&s->links, m) == 0)
				path = NULL;
			else
				astra__json_free(m.node);
		} else if (clear_path(path) != 0) {
			report(s, crel, "create");
		} else {
			int r = restore_file(s, path, crel, node);
			if (r < 0 && r != -1)
				rc = r;
			else if (r == -1)
				report(s, crel, "create");
		}
	} else if (!strcmp(type, "symlink")) {
		char *target = astra__tree_get_name(node, "target");
		if (!target || clear_path(path) != 0 ||
		        symlink(target, path) != 0) {
			if (target)
				astra__err_os("cannot create symlink %s", path);
			report(s, crel, "symlink");
		} else {
			apply_meta(s, path, node, -1, 1);
		}
		free(target);
	} else if (!strcmp(type, "fifo") || !strcmp(type, "chardev") ||
	           !strcmp(type, "blockdev")) {
		mode_t m = (mode_t)astra__json_int(node, "mode", 0600);
		dev_t dev = 0;
		const char *rdev = astra__json_str(node, "rdev");
		if (rdev)
			dev = (dev_t)strtoull(rdev, NULL, 16);
		m |= !strcmp(type, "fifo")      ? S_IFIFO
		     : !strcmp(type, "chardev") ? S_IFCHR
		                                : S_IFBLK;
		if (clear_path(path) != 0 || mknod(path, m, dev) != 0) {
			astra__err_os("cannot create %s", path);
			report(s, crel, type);
		} else {
			apply_meta(s, path, node, -1, 0);
		}
	} else if (!strcmp(type, "socket")) {
		/* sockets are not restorable; their listing is kept */
	} else {
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unknown node type \"%s\"", type);
		report(s, crel, "type");
	}
	free(path);
	free(crel);
	if (!rc)
		rc = astra__op_report(&s->op, 0);
	return rc;
}

static int restore_tree(rs *s, const astra__json *tree, const char *dir,
        const char *rel, int depth)
{
	if (depth > 4096)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "snapshot tree is nested too deeply");
	const astra__json *nodes = astra__json_get(tree, "nodes");
	for (size_t i = 0; i < astra__json_size(nodes); i++) {
		int rc = restore_node(
		        s, astra__json_at(nodes, i), dir, rel, depth);
		if (rc)
			return rc;
		if (atomic_load(&s->fatal))
			return astra__err(s->fatal_code, ASTRA_ERROR_REPO, "%s",
			        s->fatal_msg);
	}
	return 0;
}

/* Finds the node at subpath; *tree_out owns the tree holding it. */
static int find_subpath(astra__repo *r, astra__json *root, const char *sub,
        astra__json **tree_out, const astra__json **node_out)
{
	astra__json *cur = root;
	char *copy = astra__strdup(sub);
	if (!copy)
		return ASTRA_ENOMEM;
	char *save = NULL;
	const astra__json *node = NULL;
	int rc = 0;
	for (char *part = strtok_r(copy, "/", &save); part;
	        part = strtok_r(NULL, "/", &save)) {
		if (node) {
			const char *st = astra__json_str(node, "subtree");
			astra__id id;
			astra__json *next = NULL;
			if (!st || astra__id_parse(&id, st) ||
			        astra__tree_load(r, &id, &next)) {
				rc = astra__err(ASTRA_ENOTFOUND,
				        ASTRA_ERROR_REPO,
				        "%s is not a directory in the snapshot",
				        sub);
				break;
			}
			if (cur != root)
				astra__json_free(cur);
			cur = next;
		}
		node = astra__tree_find(cur, part);
		if (!node) {
			rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
			        "path %s is not in the snapshot", sub);
			break;
		}
	}
	free(copy);
	if (!rc && !node)
		rc = astra__err(
		        ASTRA_EINVALID, ASTRA_ERROR_REPO, "empty subpath");
	if (rc) {
		if (cur != root)
			astra__json_free(cur);
		return rc;
	}
	*tree_out = cur == root ? NULL : cur;
	*node_out = node;
	return 0;
}

int astra__data_restore(astra__repo *r, const char *id, const char *target,
        const astra__restore_params *p, astra__restore_out *out)
{
	rs s;
	memset(&s, 0, sizeof(s));
	uint64_t t0 = astra__mono_ns();
	astra__json *rec = NULL, *root = NULL, *subtree = NULL;
	char full[33];
	int rc;
	/* also what other writers added since the index was loaded: the
	 * snapshot may be newer than this handle */
	if ((rc = astra__repo_refresh_index(r)))
		return rc;
	if ((rc = astra__snapshot_load(r, id, &rec, full)))
		return rc;
	astra__id rid;
	if ((rc = astra__id_parse(&rid, astra__json_str(rec, "tree"))) ||
	        (rc = astra__tree_load(r, &rid, &root))) {
		astra__err_prefix(rc, "snapshot %s", full);
		astra__json_free(rec);
		return rc;
	}
	if (mkdir(target, 0700) != 0 && errno != EEXIST) {
		rc = astra__err_os("cannot create target %s", target);
		goto cleanup;
	}
	s.repo = r;
	s.flags = p->flags;
	s.is_root = geteuid() == 0;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	astra__op_init(&s.op, p->progress_cb, p->payload, p->cancel);
	s.op.p.stage = ASTRA_STAGE_RESTORING;
	const astra__json *st = astra__json_get(rec, "stats");
	s.op.p.bytes_total = (uint64_t)astra__json_int(st, "bytes", 0);
	s.report = astra__json_new_array();
	if (!s.report) {
		rc = ASTRA_ENOMEM;
		goto cleanup;
	}
	/* a remote store answers each chunk's ranged read after a round
	 * trip: keep io_depth of them in flight */
	unsigned workers = r->threads + 1 + r->store->io_depth;
	if ((rc = astra__pool_new(&s.pool, workers, (size_t)workers * 2)))
		goto cleanup;

	if (p->subpath && *p->subpath) {
		const astra__json *node = NULL;
		if ((rc = find_subpath(r, root, p->subpath, &subtree, &node)))
			goto cleanup;
		rc = restore_node(&s, node, target, "", 0);
	} else {
		rc = restore_tree(&s, root, target, "", 0);
	}
	flush_run(&s);
	astra__pool_wait(s.pool);
	if (!rc && atomic_load(&s.fatal))
		rc = astra__err(
		        s.fatal_code, ASTRA_ERROR_REPO, "%s", s.fatal_msg);

	/* hard links, then directory metadata deepest first */
	for (size_t i = 0; i < s.links.n; i++) {
		pending_meta *m = &s.links.v[i];
		const char *first = astra__json_str(m->node, "hardlink");
		char *src = astra__aprintf("%s/%s", target, first);
		if (!rc && src && !strstr(first, "..") &&
		        (clear_path(m->path) != 0 || link(src, m->path) != 0)) {
			astra__err_os("cannot link %s to %s", m->path, first);
			report(&s, m->path, "hardlink");
		}
		free(src);
		free(m->path);
		astra__json_free(m->node);
	}
	for (size_t i = s.dirs.n; i-- > 0;) {
		pending_meta *m = &s.dirs.v[i];
		if (!rc)
			apply_meta(&s, m->path, m->node, -1, 0);
		free(m->path);
		astra__json_free(m->node);
	}
	astra_vec_free(&s.links);
	astra_vec_free(&s.dirs);
	if (!rc && astra__json_size(s.report))
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_REPO,
		        "restored snapshot %s except %zu item(s) (first: %s: "
		        "%s)",
		        full, astra__json_size(s.report),
		        astra__json_str(astra__json_at(s.report, 0), "path"),
		        astra__json_str(astra__json_at(s.report, 0), "error"));
	if (rc != ASTRA_EPARTIAL && rc != 0)
		astra__err_prefix(rc, "restore of %s", full);
	else {
		s.op.p.bytes_done = s.bytes;
		astra__op_report(&s.op, 1);
	}
cleanup:
	if (s.pool)
		astra__pool_free(s.pool);
	if (out) {
		out->files = s.files;
		out->dirs = s.dirs_n;
		out->bytes = s.bytes;
		out->errors = astra__json_size(s.report);
		out->duration_s = (double)(astra__mono_ns() - t0) / 1e9;
		out->report = s.report;
		s.report = NULL;
	}
	astra__json_free(s.report);
	astra__json_free(rec);
	astra__json_free(root);
	astra__json_free(subtree);
	if (s.repo) {
		pthread_mutex_destroy(&s.mu);
		pthread_cond_destroy(&s.cv);
	}
	return rc;
}
