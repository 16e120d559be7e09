/*
 * The data mover's backup side, reading: opening an entry safely, reading
 * files into shared segments and chunking them on the calling thread, the
 * worker that stores a chunk, the parent snapshot's unchanged content, and
 * the pending directories whose tree blobs are written once their chunks
 * are stored (drain). See backup.c for the whole.
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

static void fail(bk *b, int rc)
{
	pthread_mutex_lock(&b->mu);
	if (!atomic_load(&b->failed)) {
		b->fail_code = rc;
		snprintf(b->fail_msg, sizeof(b->fail_msg), "%s",
		        astra_error_last()->message);
		atomic_store(&b->failed, 1);
	}
	pthread_mutex_unlock(&b->mu);
}

int astra__bk_item_error(bk *b, const char *rel, const char *what)
{
	const char *msg = astra_error_last()->message;
	astra__log_warn("skipping %s: %s: %s", rel, what, msg);
	astra__json *e = astra__json_new_object();
	if (!e)
		return ASTRA_ENOMEM;
	astra__json_set_str(e, "path", rel);
	char full[1200];
	snprintf(full, sizeof(full), "%s: %s", what, msg);
	astra__json_set_str(e, "error", full);
	return astra__json_push(b->errors, e);
}

/* Tests: called with an entry's path between its lstat and its open. */
void (*astra__backup_test_swap)(const char *abs) = NULL;

const char *astra__bk_kind_of(mode_t m)
{
	return S_ISREG(m)    ? "regular file"
	       : S_ISDIR(m)  ? "directory"
	       : S_ISLNK(m)  ? "symbolic link"
	       : S_ISFIFO(m) ? "FIFO"
	       : S_ISSOCK(m) ? "socket"
	       : S_ISCHR(m)  ? "character device"
	       : S_ISBLK(m)  ? "block device"
	                     : "special file";
}

/*
 * Opens the entry `name` of the directory dfd (or `abs` when dfd < 0) that
 * was lstat'ed as *sb: without following a symbolic link (O_NOFOLLOW),
 * without blocking on a FIFO (O_NONBLOCK), and only when fstat finds the
 * same object (type, device, inode). Returns the descriptor; -1 when it
 * cannot be opened; -2 when something else is there now. The error is
 * set either way.
 */
static int open_same(int dfd, const char *name, const char *abs,
        const struct stat *sb, int flags)
{
	int fl = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | flags;
	if (astra__backup_test_swap)
		astra__backup_test_swap(abs);
	int fd = dfd >= 0 ? openat(dfd, name, fl) : open(abs, fl);
	if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) {
		fl &= ~O_NOATIME;
		fd = dfd >= 0 ? openat(dfd, name, fl) : open(abs, fl);
	}
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP || e == ENXIO || e == ENOTDIR) {
			astra__err(ASTRA_ECONFLICT, ASTRA_ERROR_REPO,
			        "changed during the backup: a %s when listed, "
			        "now not one (%s)",
			        astra__bk_kind_of(sb->st_mode), strerror(e));
			return -2;
		}
		errno = e;
		astra__err_os("cannot open");
		return -1;
	}
	struct stat now;
	if (fstat(fd, &now) != 0) {
		astra__err_os("cannot fstat");
		close(fd);
		return -1;
	}
	if ((now.st_mode & S_IFMT) != (sb->st_mode & S_IFMT) ||
	        now.st_dev != sb->st_dev || now.st_ino != sb->st_ino) {
		astra__err(ASTRA_ECONFLICT, ASTRA_ERROR_REPO,
		        "changed during the backup: a %s (inode %llx) when "
		        "listed, a %s (inode %llx) when opened",
		        astra__bk_kind_of(sb->st_mode),
		        (unsigned long long)sb->st_ino,
		        astra__bk_kind_of(now.st_mode),
		        (unsigned long long)now.st_ino);
		close(fd);
		return -2;
	}
	/* O_NONBLOCK stays: it does not change reads of regular files or
	 * of directories, and clearing it would cost a system call */
	return fd;
}

/*
 * open_same, and when the entry changed in between, once more with a new
 * lstat (*sb is updated) as long as it is still of the same type; -2 when
 * it changed twice or is no longer of that type.
 */
int astra__bk_open_entry(int dfd, const char *name, const char *abs,
        struct stat *sb, int flags, const char *rel)
{
	int fd = open_same(dfd, name, abs, sb, flags);
	if (fd != -2)
		return fd;
	astra__log_warn(
	        "%s: %s; trying once more", rel, astra_error_last()->message);
	struct stat again;
	int st = dfd >= 0 ? fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW)
	                  : lstat(abs, &again);
	if (st != 0) {
		astra__err_os("changed during the backup, then cannot stat");
		return -1;
	}
	if ((again.st_mode & S_IFMT) != (sb->st_mode & S_IFMT)) {
		astra__err(ASTRA_ECONFLICT, ASTRA_ERROR_REPO,
		        "changed during the backup: a %s when listed, now a "
		        "%s; left out",
		        astra__bk_kind_of(sb->st_mode),
		        astra__bk_kind_of(again.st_mode));
		return -2;
	}
	fd = open_same(dfd, name, abs, &again, flags);
	if (fd >= 0)
		*sb = again;
	return fd;
}

static void seg_release(bk *b, seg *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_lock(&b->seg_mu);
	s->next = b->free_segs;
	b->free_segs = s;
	pthread_mutex_unlock(&b->seg_mu);
}

static seg *seg_get(bk *b)
{
	pthread_mutex_lock(&b->seg_mu);
	seg *s = b->free_segs;
	if (s)
		b->free_segs = s->next;
	pthread_mutex_unlock(&b->seg_mu);
	if (!s) {
		s = astra__calloc(1, sizeof(*s));
		if (s && !(s->data = astra__malloc(b->segcap))) {
			free(s);
			s = NULL;
		}
	}
	if (s)
		atomic_store(&s->refs, 1); /* the reader's */
	return s;
}

void astra__bk_segs_free(bk *b)
{
	seg_release(b, b->cur);
	b->cur = NULL;
	for (seg *s = b->free_segs, *n; s; s = n) {
		n = s->next;
		free(s->data);
		free(s);
	}
	b->free_segs = NULL;
}

static void chunk_worker(void *arg)
{
	chunk_task *t = arg;
	bk *b = t->bk;
	if (!atomic_load(&b->failed)) {
		int rc = astra__writer_add(b->w, ASTRA_BLOB_DATA, t->data,
		        t->len, &t->id, 0, NULL);
		if (rc)
			fail(b, rc);
	}
	seg_release(b, t->seg);
	t->seg = NULL;
	t->data = NULL;
	pthread_mutex_lock(&b->mu);
	if (--t->job->dir->remaining == 0)
		pthread_cond_broadcast(&b->cv);
	b->inflight -= t->len;
	if (b->inflight_wait && b->inflight < INFLIGHT_MAX)
		pthread_cond_signal(&b->inflight_cv);
	pthread_mutex_unlock(&b->mu);
}

int astra__bk_check(bk *b)
{
	if (atomic_load(&b->failed)) {
		astra__err(b->fail_code, ASTRA_ERROR_REPO, "%s", b->fail_msg);
		return b->fail_code;
	}
	/* the session refreshes itself; gc removing it ends the backup */
	if (b->session) {
		int rc = astra__data_session_ok(b->session);
		if (rc)
			return rc;
	}
	return astra__op_report(&b->op, 0);
}

/* Hands [b->start, b->start + len) of the current segment to a worker. */
static int submit(bk *b, file_job *job, size_t len)
{
	chunk_task *t = astra__calloc(1, sizeof(*t));
	if (!t)
		return ASTRA_ENOMEM;
	t->seg = b->cur;
	t->data = b->cur->data + b->start;
	t->len = len;
	t->bk = b;
	t->job = job;
	if (astra_vec_push(&job->tasks, t)) {
		free(t);
		return ASTRA_ENOMEM;
	}
	atomic_fetch_add(&b->cur->refs, 1);
	job->extents.v[job->extents.n - 1].count++;
	pthread_mutex_lock(&b->mu);
	job->dir->remaining++;
	/* bytes handed out but not stored yet are bounded (they pin
	 * segments); the task count is not, so small files keep the workers
	 * busy without a wake-up per file */
	while (b->inflight && b->inflight + len > INFLIGHT_MAX) {
		b->inflight_wait = 1;
		pthread_cond_wait(&b->inflight_cv, &b->mu);
		b->inflight_wait = 0;
	}
	b->inflight += len;
	pthread_mutex_unlock(&b->mu);
	return astra__pool_submit(b->pool, chunk_worker, t);
}

/* Reads [off, off+len) of fd and chunks it. */
static int chunk_range(bk *b, file_job *job, int fd, uint64_t off, uint64_t len,
        const char *rel)
{
	const astra__chunker *c = &b->r->chunker;
	extent ex = { off, job->tasks.n, 0 };
	if (astra_vec_push(&job->extents, ex))
		return ASTRA_ENOMEM;
	uint64_t pos = off, end = off + len;
	int eof = 0;
	/* every range ends in a cut at its end: nothing is pending here */
	b->start = b->fill;
	for (;;) {
		size_t have = b->fill - b->start;
		if (have) {
			/* cut what the data read so far allows: the tail
			 * carried into a new segment stays short */
			size_t cut = astra__chunker_next(
			        c, b->cur->data + b->start, have, eof);
			if (cut) {
				int rc = submit(b, job, cut);
				if (rc)
					return rc;
				b->start += cut;
				if ((rc = astra__bk_check(b)))
					return rc;
				continue;
			}
		}
		if (eof)
			break;
		size_t room = b->cur ? b->segcap - b->fill : 0;
		if (room < c->max && room < end - pos) {
			/* a fresh segment; the unchunked tail moves */
			seg *s = seg_get(b);
			if (!s)
				return ASTRA_ENOMEM;
			if (have)
				memcpy(s->data, b->cur->data + b->start, have);
			seg_release(b, b->cur);
			b->cur = s;
			b->start = 0;
			b->fill = have;
			room = b->segcap - have;
		}
		size_t want = room;
		if (want > end - pos)
			want = (size_t)(end - pos);
		ssize_t r = want ? pread(fd, b->cur->data + b->fill, want,
		                           (off_t)pos)
		                 : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return astra__err_os("cannot read %s", rel);
		b->fill += (size_t)r;
		pos += (uint64_t)r;
		b->bytes_read += (uint64_t)r;
		b->op.p.bytes_done += (uint64_t)r;
		if (r == 0 || pos >= end)
			eof = 1;
	}
	if (pos < end)
		return astra__err(ASTRA_EIO, ASTRA_ERROR_OS,
		        "%s shrank while it was read", rel);
	return 0;
}

int astra__bk_file_size_of(int fd, const struct stat *sb, uint64_t *size)
{
	if (S_ISBLK(sb->st_mode)) {
		uint64_t n = 0;
		if (ioctl(fd, BLKGETSIZE64, &n) != 0)
			return astra__err_os("cannot size the block device");
		*size = n;
		return 0;
	}
	*size = (uint64_t)sb->st_size;
	return 0;
}

/* Chunks a whole file: data extents only, holes stay holes. */
int astra__bk_chunk_file(
        bk *b, file_job *job, int fd, const struct stat *sb, const char *rel)
{
	uint64_t size = 0;
	int rc = astra__bk_file_size_of(fd, sb, &size);
	if (rc)
		return rc;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int sparse =
	        S_ISREG(sb->st_mode) && (uint64_t)sb->st_blocks * 512 < size;
	if (!sparse)
		return size ? chunk_range(b, job, fd, 0, size, rel) : 0;
	off_t at = 0;
	while ((uint64_t)at < size) {
		off_t data = lseek(fd, at, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			return astra__err_os("cannot seek in %s", rel);
		}
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)size;
		if ((rc = chunk_range(b, job, fd, (uint64_t)data,
		             (uint64_t)(hole - data), rel)))
			return rc;
		at = hole;
	}
	return 0;
}

int astra__bk_add_xattrs(astra__json *node, const char *path)
{
	ssize_t n = llistxattr(path, NULL, 0);
	if (n <= 0)
		return 0;
	char *names = astra__malloc((size_t)n);
	if (!names)
		return ASTRA_ENOMEM;
	n = llistxattr(path, names, (size_t)n);
	astra__json *obj = NULL;
	int rc = 0;
	for (ssize_t i = 0; i < n && !rc; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		ssize_t vl = lgetxattr(path, name, NULL, 0);
		if (vl < 0)
			continue;
		char *val = astra__malloc((size_t)vl + 1);
		if (!val) {
			rc = ASTRA_ENOMEM;
			break;
		}
		vl = lgetxattr(path, name, val, (size_t)vl);
		if (vl >= 0) {
			astra_buf b64 = ASTRA_BUF_INIT;
			if (!obj)
				obj = astra__json_new_object();
			rc = obj ? astra__base64_encode(&b64, val, (size_t)vl)
			         : ASTRA_ENOMEM;
			if (!rc)
				rc = astra__json_set_str(obj, name, b64.ptr);
			astra_buf_dispose(&b64);
		}
		free(val);
	}
	free(names);
	if (!rc && obj)
		return astra__json_set(node, "xattrs", obj);
	astra__json_free(obj);
	return rc;
}

static int same_time(
        const astra__json *n, const char *f, const struct timespec *ts)
{
	struct timespec t;
	return astra__tree_get_time(n, f, &t) == 0 && t.tv_sec == ts->tv_sec &&
	       t.tv_nsec == ts->tv_nsec;
}

/* Whether every chunk of the parent's extents of a file is still in the
 * vault: 0 when so. */
int astra__bk_reference_chunks(bk *b, const astra__json *ex)
{
	for (const astra__json *e = astra__json_first(ex); e;
	        e = astra__json_next(e)) {
		const astra__json *chunks = astra__json_get(e, "chunks");
		for (const astra__json *c = astra__json_first(chunks); c;
		        c = astra__json_next(c)) {
			astra__id id;
			/* (immutable vaults: also keeps the chunk's pack
			 * locked as long as this backup) */
			if (astra__id_parse(
			            &id, astra__json_string_value(
			                         astra__json_first(c))) ||
			        astra__writer_reference(b->w, &id))
				return -1;
		}
	}
	return 0;
}

/* The parent's content for an unchanged file, or NULL. */
const astra__json *astra__bk_unchanged_content(
        bk *b, const astra__json *pnode, const struct stat *sb)
{
	if (!pnode)
		return NULL;
	const char *type = astra__json_str(pnode, "type");
	char ino[40];
	snprintf(ino, sizeof(ino), "%llx", (unsigned long long)sb->st_ino);
	const char *pino = astra__json_str(pnode, "inode");
	if (!type || strcmp(type, "file") != 0 || !pino ||
	        strcmp(pino, ino) != 0 ||
	        astra__json_int(pnode, "size", -1) != (int64_t)sb->st_size ||
	        !same_time(pnode, "mtime", &sb->st_mtim) ||
	        !same_time(pnode, "ctime", &sb->st_ctim))
		return NULL;
	const astra__json *ex = astra__json_get(pnode, "extents");
	if (astra__bk_reference_chunks(b, ex))
		return NULL;
	return ex ? ex : NULL;
}

int astra__bk_finish_job(file_job *job)
{
	if (job->skip)
		return 0;
	astra__json *exs = astra__json_new_array();
	if (!exs)
		return ASTRA_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < job->extents.n && !rc; i++) {
		extent *e = &job->extents.v[i];
		if (!e->count)
			continue;
		astra__json *ex = astra__json_new_object();
		astra__json *chunks = astra__json_new_array();
		if (!ex || !chunks) {
			astra__json_free(ex);
			astra__json_free(chunks);
			rc = ASTRA_ENOMEM;
			break;
		}
		astra__json_set_int(ex, "offset", (int64_t)e->off);
		for (size_t k = 0; k < e->count; k++) {
			chunk_task *t = job->tasks.v[e->first + k];
			char hex[ASTRA_ID_HEX];
			astra__id_hex(&t->id, hex);
			astra__json *pair = astra__json_new_array();
			if (!pair) {
				rc = ASTRA_ENOMEM;
				break;
			}
			astra__json_push(pair, astra__json_new_string(hex));
			astra__json_push(
			        pair, astra__json_new_number((double)t->len));
			astra__json_push(chunks, pair);
		}
		astra__json_set(ex, "chunks", chunks);
		astra__json_push(exs, ex);
	}
	if (!rc)
		rc = astra__json_set(job->node, "extents", exs);
	else
		astra__json_free(exs);
	return rc;
}

void astra__bk_free_job(file_job *job)
{
	for (size_t i = 0; i < job->tasks.n; i++)
		free(job->tasks.v[i]);
	astra_vec_free(&job->tasks);
	astra_vec_free(&job->extents);
	if (job->skip)
		astra__json_free(job->node);
	free(job);
}

/* Waits until every chunk of the directory is stored. */
void astra__bk_wait_dir(bk *b, pdir *pd)
{
	pthread_mutex_lock(&b->mu);
	while (pd->remaining > 0)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

/* Frees a directory whose chunks are all stored (or were never sent). */
void astra__bk_free_pdir(pdir *pd)
{
	if (!pd)
		return;
	for (size_t i = 0; i < pd->jobs.n; i++)
		astra__bk_free_job(pd->jobs.v[i]);
	astra_vec_free(&pd->jobs);
	for (size_t i = 0; i < pd->ents.n; i++)
		astra__json_free(pd->ents.v[i].own);
	astra_vec_free(&pd->ents);
	if (pd->own_ptree)
		astra__json_free(pd->ptree);
	astra__map_free(&pd->pnodes);
	free(pd->psub);
	free(pd);
}

/* Writes the tree blob of a directory whose chunks are all stored and
 * gives its id to the node that names it (or to the root). */
static int finish_dir(bk *b, pdir *pd)
{
	int rc = 0;
	if (atomic_load(&b->failed))
		return astra__bk_check(b);
	for (size_t i = 0; i < pd->jobs.n && !rc; i++)
		rc = astra__bk_finish_job(pd->jobs.v[i]);
	if (rc)
		return rc;
	astra__id id;
	b->dirs++;
	/* an unchanged directory has the parent's tree: no need to
	 * serialise, hash and look it up again. Its nodes are the parent's
	 * in the same order: those reused as they were (by identity), and
	 * the ones built anew (directories) equal to them. */
	int same = pd->ptree && pd->psub;
	const astra__json *pn =
	        same ? astra__json_first(astra__json_get(pd->ptree, "nodes"))
	             : NULL;
	for (size_t i = 0; same && i < pd->ents.n; i++) {
		const dent *e = &pd->ents.v[i];
		if (!pn || (e->same ? e->same != pn
		                    : !astra__json_equal(e->own, pn)))
			same = 0;
		pn = astra__json_next(pn);
	}
	/* (astra__writer_reference: an immutable vault also keeps the
	 * tree's pack locked as long as this backup) */
	if (same && !pn && astra__id_parse(&id, pd->psub) == 0 &&
	        astra__writer_reference(b->w, &id) == 0) {
		b->trees_reused++;
	} else {
		astra__json *tree = astra__json_new_object();
		astra__json *nodes = astra__json_new_array();
		rc = !tree || !nodes ? ASTRA_ENOMEM : 0;
		for (size_t i = 0; !rc && i < pd->ents.n; i++) {
			dent *e = &pd->ents.v[i];
			rc = astra__json_push(nodes,
			        e->own ? e->own : astra__json_dup(e->same));
			e->own = NULL; /* now the tree's */
		}
		if (!rc) {
			rc = astra__json_set(tree, "nodes", nodes);
			nodes = NULL;
		}
		astra_buf text = ASTRA_BUF_INIT;
		if (!rc)
			rc = astra__json_print_buf(&text, tree, 0);
		if (!rc)
			rc = astra__writer_add(b->w, ASTRA_BLOB_TREE, text.ptr,
			        text.size, &id, 0, NULL);
		astra_buf_dispose(&text);
		astra__json_free(nodes);
		astra__json_free(tree);
		if (rc)
			return rc;
	}
	if (!pd->dst) {
		b->root = id;
		return 0;
	}
	char hex[ASTRA_ID_HEX];
	astra__id_hex(&id, hex);
	return astra__json_set_str(pd->dst, "subtree", hex);
}

static void free_tree_worker(void *arg)
{
	astra__json_free(arg);
}

/* Finishes pending directories, oldest first: every one whose chunks are
 * stored, and waits for more while over `keep` remain. */
int astra__bk_drain(bk *b, size_t keep)
{
	int rc = 0;
	while (!rc && b->pend_head < b->pend.n) {
		pdir *pd = b->pend.v[b->pend_head];
		pthread_mutex_lock(&b->mu);
		int busy = pd->remaining > 0;
		pthread_mutex_unlock(&b->mu);
		if (busy && b->pend.n - b->pend_head <= keep)
			break;
		astra__bk_wait_dir(b, pd);
		b->pend.v[b->pend_head++] = NULL;
		rc = finish_dir(b, pd);
		/* the parent's tree is freed by a worker: off the walk's
		 * thread, which has more to do */
		if (pd->own_ptree && pd->ptree &&
		        astra__pool_submit(
		                b->pool, free_tree_worker, pd->ptree) == 0)
			pd->ptree = NULL;
		astra__bk_free_pdir(pd);
	}
	return rc;
}

/* Drops pending directories from index `from` on, unfinished (after a
 * failure); their chunks that were stored stay for the next run. */
void astra__bk_discard_from(bk *b, size_t from)
{
	if (from < b->pend_head)
		from = b->pend_head;
	for (size_t i = from; i < b->pend.n; i++) {
		astra__bk_wait_dir(b, b->pend.v[i]);
		astra__bk_free_pdir(b->pend.v[i]);
	}
	if (from < b->pend.n)
		b->pend.n = from;
}
