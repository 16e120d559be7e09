/*
 * The data mover's backup side: walks a tree, chunks files on the calling
 * thread, and hands chunks to a thread pool that hashes, deduplicates,
 * compresses, encrypts and packs them. One tree blob per directory; a
 * snapshot record last, so a failed or cancelled run records nothing.
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

typedef struct file_job file_job;
typedef struct pdir pdir;

/* at most this many bytes of chunks wait for or are in the workers */
#define INFLIGHT_MAX (16u << 20)
/* and at most this many chunks */
#define QUEUE_MAX 1024

/* A read buffer: files are read into it back to back and chunks are handed
 * to the workers as slices of it, so data is never copied between reading
 * and compressing. It returns to the free list when its last chunk is
 * stored. */
typedef struct seg {
	atomic_int refs;
	struct seg *next; /* on the free list */
	uint8_t *data;
} seg;

typedef struct {
	struct bk *bk;
	file_job *job;
	seg *seg;
	const uint8_t *data; /* inside seg */
	size_t len;
	astra__id id;
} chunk_task;

typedef struct {
	uint64_t off;
	size_t first, count;
} extent;

struct file_job {
	pdir *dir;
	astra__json *node;
	ASTRA_VEC(chunk_task *) tasks;
	ASTRA_VEC(extent) extents;
	int skip; /* the file could not be read: not in the tree */
};

typedef ASTRA_VEC(file_job *) job_vec;

/* A directory's entry: a node built by this run, or the parent
 * snapshot's node when the entry is unchanged (see reuse_node). */
typedef struct {
	astra__json *own;
	const astra__json *same; /* inside pdir.ptree */
} dent;

/* A directory whose entries have all been read and chunked, waiting for
 * its chunks to be stored before its tree blob can be written. Pending
 * directories are finished in the order they were walked (children
 * before parents), so the reader never waits at the end of a directory. */
struct pdir {
	job_vec jobs;
	int remaining; /* chunks not stored yet; guarded by bk->mu */
	ASTRA_VEC(dent) ents; /* this directory's nodes, in name order */
	astra__json *ptree; /* the parent snapshot's tree of it, or NULL */
	int own_ptree;
	astra__map pnodes; /* name -> its node in ptree */
	char *psub; /* its id in the parent snapshot, or NULL */
	astra__json *dst; /* the node that gets "subtree"; NULL: the root */
};

typedef struct bk {
	astra__repo *r;
	astra__writer *w;
	astra__pool *pool;
	astra__op op;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int failed;
	int fail_code;
	char fail_msg[1024];
	astra__json *errors; /* [{"path","error"}] */
	astra__map hardlinks; /* "dev:ino" -> rel path (malloc) */
	/* the segment being read into: [start, fill) is not chunked yet */
	seg *cur;
	size_t start, fill, segcap;
	pthread_mutex_t seg_mu; /* guards free_segs */
	size_t inflight; /* bytes submitted, not stored yet; guarded by mu */
	int inflight_wait;
	pthread_cond_t inflight_cv;
	seg *free_segs;
	uint64_t files, dirs, unchanged, bytes_total, bytes_read;
	uint64_t nodes_reused, trees_reused;
	astra__session *session;
	/* walked directories, in walk order; [pend_head, n) wait to be
	 * finished (indices never move during a run) */
	ASTRA_VEC(pdir *) pend;
	size_t pend_head;
	int dir_unreadable; /* backup_dir could not open the directory */
	astra__id root;
} bk;

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

static int item_error(bk *b, const char *rel, const char *what)
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

static const char *kind_of(mode_t m)
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
			        kind_of(sb->st_mode), strerror(e));
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
		        kind_of(sb->st_mode), (unsigned long long)sb->st_ino,
		        kind_of(now.st_mode), (unsigned long long)now.st_ino);
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
static int open_entry(int dfd, const char *name, const char *abs,
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
		        kind_of(sb->st_mode), kind_of(again.st_mode));
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

static void segs_free(bk *b)
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

static int check(bk *b)
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
				if ((rc = check(b)))
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

static int file_size_of(int fd, const struct stat *sb, uint64_t *size)
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
static int chunk_file(
        bk *b, file_job *job, int fd, const struct stat *sb, const char *rel)
{
	uint64_t size = 0;
	int rc = file_size_of(fd, sb, &size);
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

static int add_xattrs(astra__json *node, const char *path)
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
static int reference_chunks(bk *b, const astra__json *ex)
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
static const astra__json *unchanged_content(
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
	if (reference_chunks(b, ex))
		return NULL;
	return ex ? ex : NULL;
}

static int finish_job(file_job *job)
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

static void free_job(file_job *job)
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
static void wait_dir(bk *b, pdir *pd)
{
	pthread_mutex_lock(&b->mu);
	while (pd->remaining > 0)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

/* Frees a directory whose chunks are all stored (or were never sent). */
static void free_pdir(pdir *pd)
{
	if (!pd)
		return;
	for (size_t i = 0; i < pd->jobs.n; i++)
		free_job(pd->jobs.v[i]);
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
		return check(b);
	for (size_t i = 0; i < pd->jobs.n && !rc; i++)
		rc = finish_job(pd->jobs.v[i]);
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
static int drain(bk *b, size_t keep)
{
	int rc = 0;
	while (!rc && b->pend_head < b->pend.n) {
		pdir *pd = b->pend.v[b->pend_head];
		pthread_mutex_lock(&b->mu);
		int busy = pd->remaining > 0;
		pthread_mutex_unlock(&b->mu);
		if (busy && b->pend.n - b->pend_head <= keep)
			break;
		wait_dir(b, pd);
		b->pend.v[b->pend_head++] = NULL;
		rc = finish_dir(b, pd);
		/* the parent's tree is freed by a worker: off the walk's
		 * thread, which has more to do */
		if (pd->own_ptree && pd->ptree &&
		        astra__pool_submit(
		                b->pool, free_tree_worker, pd->ptree) == 0)
			pd->ptree = NULL;
		free_pdir(pd);
	}
	return rc;
}

/* Drops pending directories from index `from` on, unfinished (after a
 * failure); their chunks that were stored stay for the next run. */
static void discard_from(bk *b, size_t from)
{
	if (from < b->pend_head)
		from = b->pend_head;
	for (size_t i = from; i < b->pend.n; i++) {
		wait_dir(b, b->pend.v[i]);
		free_pdir(b->pend.v[i]);
	}
	if (from < b->pend.n)
		b->pend.n = from;
}

/* at most this many walked directories wait to be finished */
#define MAX_PENDING_DIRS 256

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A parent-snapshot subtree read, decrypted and parsed by a worker ahead
 * of the walk, which meanwhile handles the entries before it. */
typedef struct {
	bk *b;
	astra__id id;
	astra__json *tree; /* the result, taken by the walk */
	int rc;
	int done; /* guarded by bk->mu */
	char msg[512];
} prefetch;

/* subtrees read ahead of the walk, per directory */
#define PREFETCH_AHEAD 8

static void prefetch_worker(void *arg)
{
	prefetch *pf = arg;
	bk *b = pf->b;
	int rc = ASTRA_ECANCELLED;
	if (!atomic_load(&b->failed)) {
		rc = astra__tree_load(b->r, &pf->id, &pf->tree);
		if (rc)
			snprintf(pf->msg, sizeof(pf->msg), "%s",
			        astra_error_last()->message);
	}
	pthread_mutex_lock(&b->mu);
	pf->rc = rc;
	pf->done = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* The parent's subtree of a directory entry, or NULL (none, or it cannot
 * be read: then the directory is read as new). */
static astra__json *prefetched_tree(bk *b, prefetch *pf, const char *rel)
{
	pthread_mutex_lock(&b->mu);
	while (!pf->done)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	astra__json *t = pf->tree;
	pf->tree = NULL;
	if (pf->rc && pf->rc != ASTRA_ECANCELLED)
		astra__log_warn(
		        "parent tree of %s unreadable: %s", rel, pf->msg);
	return t;
}

static void prefetch_free(bk *b, prefetch *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&b->mu);
	while (!pf->done)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	astra__json_free(pf->tree);
	free(pf);
}

/* Starts reading the parent's subtree of names[i] if it is a directory
 * there; *out stays NULL otherwise. */
static int prefetch_start(bk *b, pdir *pd, const char *name, prefetch **out)
{
	*out = NULL;
	const astra__json *pn = astra__map_get(&pd->pnodes, name);
	const char *pst = pn ? astra__json_str(pn, "subtree") : NULL;
	if (!pst)
		return 0;
	prefetch *pf = astra__calloc(1, sizeof(*pf));
	if (!pf)
		return ASTRA_ENOMEM;
	pf->b = b;
	if (astra__id_parse(&pf->id, pst) != 0) {
		free(pf);
		return 0;
	}
	int rc = astra__pool_submit(b->pool, prefetch_worker, pf);
	if (rc) {
		free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

static int backup_entry(bk *b, int dfd, const char *abs, const char *rel,
        const char *name, pdir *pd, prefetch *pf, int depth, struct stat *sbp,
        int stat_errno);

/*
 * The fast path of an unchanged entry: when the parent snapshot's node is
 * exactly what backup_entry would build (astra__tree_same_node: same
 * metadata, and for a file the same inode, size and times, so the same
 * content, as unchanged_content decides), that node is reused as it is,
 * without building, comparing and freeing a new one, and without reading
 * extended attributes (an unchanged ctime means unchanged xattrs: see
 * tree.h). Directories and hard-linked files take the slow path. Returns
 * 1 when the entry was taken, 0 when backup_entry must handle it.
 */
static int reuse_node(bk *b, pdir *pd, int dfd, const char *abs,
        const char *name, const struct stat *sb)
{
	if (!pd->ptree || S_ISDIR(sb->st_mode) || sb->st_nlink != 1)
		return 0;
	const astra__json *pnode = astra__map_get(&pd->pnodes, name);
	if (!pnode)
		return 0;
	char target[PATH_MAX + 1];
	ssize_t tn = 0;
	if (S_ISLNK(sb->st_mode)) {
		tn = dfd >= 0 ? readlinkat(dfd, name, target, PATH_MAX)
		              : readlink(abs, target, PATH_MAX);
		if (tn < 0)
			return 0; /* backup_entry reports it */
	}
	const astra__json *ex = NULL;
	if (!astra__tree_same_node(pnode, name, sb, target, (size_t)tn, &ex))
		return 0;
	if (S_ISREG(sb->st_mode) && reference_chunks(b, ex))
		return 0; /* a chunk is gone: read the file again */
	dent e = { NULL, pnode };
	if (astra_vec_push(&pd->ents, e))
		return ASTRA_ENOMEM;
	if (S_ISREG(sb->st_mode)) {
		b->files++;
		b->bytes_total += (uint64_t)sb->st_size;
		b->unchanged++;
		b->op.p.bytes_done += (uint64_t)sb->st_size;
	}
	b->nodes_reused++;
	b->op.p.items_done++;
	return 1;
}

/* Directories deeper than this are not kept open while their entries are
 * walked (one descriptor per level). */
#define MAX_OPEN_DEPTH 64

/* Walks a directory: its entries are read and chunked now; its tree is
 * written by drain() once its chunks are stored. Takes ownership of
 * ptree when own_ptree is set, even on failure. */
static int backup_dir(bk *b, int pdfd, const char *name, struct stat *dsb,
        const char *abs, const char *rel, astra__json *ptree, int own_ptree,
        const char *psub, astra__json *dst, int depth)
{
	/* a descriptor read with getdents64, not a DIR: fdopendir would
	 * add an fstat and two fcntl calls per directory to ours */
	int d = -1;
	if (!dsb) {
		/* the source itself: given by the caller, may be a link */
		d = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			astra__err_os("cannot open directory %s", rel);
	} else {
		d = open_entry(pdfd, name, abs, dsb, O_DIRECTORY, rel);
		if (d >= 0 && dst)
			(void)astra__tree_set_stat(dst, dsb);
	}
	if (d < 0) {
		if (own_ptree)
			astra__json_free(ptree);
		b->dir_unreadable = 1;
		return astra_error_last()->code;
	}
	size_t mark = b->pend.n;
	pdir *pd = astra__calloc(1, sizeof(*pd));
	ASTRA_VEC(char *) names = ASTRA_VEC_INIT;
	int rc = 0;
	if (pd) {
		pd->ptree = ptree;
		pd->own_ptree = own_ptree;
		pd->dst = dst;
		pd->psub = psub ? astra__strdup(psub) : NULL;
		if (psub && !pd->psub)
			rc = ASTRA_ENOMEM;
	} else {
		if (own_ptree)
			astra__json_free(ptree);
		rc = ASTRA_ENOMEM;
	}
	enum { DENTS = 32768 };
	char *dents = rc ? NULL : astra__malloc(DENTS);
	if (!rc && !dents)
		rc = ASTRA_ENOMEM;
	while (!rc) {
		ssize_t got = getdents64(d, dents, DENTS);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			/* what was listed is kept; the directory is reported */
			astra__err_os("cannot read directory");
			rc = item_error(b, rel, "directory");
			break;
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got && !rc;) {
			const struct dirent64 *e =
			        (const struct dirent64 *)(dents + off);
			off += e->d_reclen;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *n = astra__strdup(e->d_name);
			if (!n || astra_vec_push(&names, n)) {
				free(n);
				rc = ASTRA_ENOMEM;
			}
		}
	}
	free(dents);
	/* kept open for fstatat and readlinkat on its entries, which spares
	 * the kernel looking up the whole path of each */
	int dfd = -1;
	if (depth < MAX_OPEN_DEPTH && !rc)
		dfd = d;
	else {
		close(d);
		d = -1;
	}
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_names);
	/* the parent's nodes by name, and its subtrees read ahead */
	for (astra__json *n = pd && pd->ptree
	                              ? astra__json_first(astra__json_get(
	                                        pd->ptree, "nodes"))
	                              : NULL;
	        n && !rc; n = astra__json_next(n)) {
		const char *plain = astra__json_str(n, "name");
		char *nm = plain ? NULL : astra__tree_get_name(n, "name");
		if (plain || nm)
			rc = astra__map_set(
			        &pd->pnodes, plain ? plain : nm, n, NULL);
		free(nm);
	}
	prefetch **pfs = NULL;
	if (!rc && names.n && pd && pd->ptree) {
		pfs = astra__calloc(names.n, sizeof(*pfs));
		if (!pfs)
			rc = ASTRA_ENOMEM;
	}
	size_t started = 0, ahead = 0; /* subtrees read ahead of i */
	if (!rc)
		rc = check(b);
	for (size_t i = 0; i < names.n && !rc; i++) {
		while (pfs && !rc && started < names.n &&
		        ahead < PREFETCH_AHEAD) {
			rc = prefetch_start(
			        b, pd, names.v[started], &pfs[started]);
			ahead += pfs[started] != NULL;
			started++;
		}
		if (pfs && pfs[i])
			ahead--;
		if (rc)
			break;
		if ((i & 255) == 255 && (rc = check(b)))
			break;
		const char *nm = names.v[i];
		char *cabs = NULL, *crel = NULL;
		struct stat sb;
		int st;
		if (dfd >= 0) {
			st = fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW);
		} else {
			if (!(cabs = astra__aprintf("%s/%s", abs, nm))) {
				rc = ASTRA_ENOMEM;
				break;
			}
			st = lstat(cabs, &sb);
		}
		int serr = st ? errno : 0;
		if (!st && (rc = reuse_node(b, pd, dfd, cabs, nm, &sb))) {
			free(cabs);
			rc = rc > 0 ? 0 : rc;
			continue;
		}
		if (!cabs)
			cabs = astra__aprintf("%s/%s", abs, nm);
		crel = *rel ? astra__aprintf("%s/%s", rel, nm)
		            : astra__strdup(nm);
		if (!cabs || !crel)
			rc = ASTRA_ENOMEM;
		else
			rc = backup_entry(b, dfd, cabs, crel, nm, pd,
			        pfs ? pfs[i] : NULL, depth, &sb, serr);
		free(cabs);
		free(crel);
	}
	if (d >= 0)
		close(d);
	for (size_t i = 0; pfs && i < started; i++)
		prefetch_free(b, pfs[i]);
	free(pfs);
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	astra_vec_free(&names);
	if (!rc && astra_vec_push(&b->pend, pd))
		rc = ASTRA_ENOMEM;
	if (rc) {
		/* this directory and what was walked below it go */
		discard_from(b, mark);
		if (pd) {
			wait_dir(b, pd);
			free_pdir(pd);
		}
		return rc;
	}
	return drain(b, MAX_PENDING_DIRS);
}

/* An entry the fast path (reuse_node) did not take; sbp is its lstat, or
 * stat_errno why it failed. */
static int backup_entry(bk *b, int dfd, const char *abs, const char *rel,
        const char *name, pdir *pd, prefetch *pf, int depth, struct stat *sbp,
        int stat_errno)
{
	const astra__json *ptree = pd->ptree;
	int rc;
	if (stat_errno) {
		if (stat_errno == ENOENT)
			return 0; /* removed meanwhile */
		errno = stat_errno;
		astra__err_os("cannot stat");
		return item_error(b, rel, "stat");
	}
	struct stat sb = *sbp;
	astra__json *node = astra__json_new_object();
	if (!node)
		return ASTRA_ENOMEM;
	if ((rc = astra__tree_set_name(node, "name", name, strlen(name))) ||
	        (rc = astra__tree_set_stat(node, &sb)) ||
	        (rc = add_xattrs(node, abs))) {
		astra__json_free(node);
		return rc;
	}
	const astra__json *pnode =
	        ptree ? astra__map_get(&pd->pnodes, name) : NULL;

	if (S_ISDIR(sb.st_mode)) {
		const char *pst =
		        pnode ? astra__json_str(pnode, "subtree") : NULL;
		astra__json *psub =
		        pf && pst ? prefetched_tree(b, pf, rel) : NULL;
		b->dir_unreadable = 0;
		rc = backup_dir(b, dfd, name, &sb, abs, rel, psub, 1, pst, node,
		        depth + 1);
		if (rc && b->dir_unreadable) {
			/* unreadable directory: keep its metadata only */
			b->dir_unreadable = 0;
			rc = item_error(b, rel, "directory");
		}
	} else if (S_ISLNK(sb.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(abs, target, PATH_MAX);
		if (n < 0) {
			astra__err_os("cannot read link");
			rc = item_error(b, rel, "readlink");
			astra__json_free(node);
			return rc;
		}
		rc = astra__tree_set_name(node, "target", target, (size_t)n);
	} else if (S_ISREG(sb.st_mode)) {
		b->files++;
		b->bytes_total += (uint64_t)sb.st_size;
		char key[64];
		snprintf(key, sizeof(key), "%llx:%llx",
		        (unsigned long long)sb.st_dev,
		        (unsigned long long)sb.st_ino);
		const char *first = sb.st_nlink > 1
		                            ? astra__map_get(&b->hardlinks, key)
		                            : NULL;
		const astra__json *same = unchanged_content(b, pnode, &sb);
		if (first) {
			rc = astra__json_set_str(node, "hardlink", first);
		} else if (same) {
			b->unchanged++;
			b->op.p.bytes_done += (uint64_t)sb.st_size;
			rc = astra__json_set(
			        node, "extents", astra__json_dup(same));
		} else {
			struct stat listed = sb;
			int fd =
			        open_entry(dfd, name, abs, &sb, O_NOATIME, rel);
			if (fd < 0) {
				rc = item_error(b, rel, "open");
				astra__json_free(node);
				b->files--;
				b->bytes_total -= (uint64_t)listed.st_size;
				return rc;
			}
			if (sb.st_ino != listed.st_ino ||
			        sb.st_dev != listed.st_dev) {
				/* opened on the second try: what was read */
				b->bytes_total += (uint64_t)sb.st_size -
				                  (uint64_t)listed.st_size;
				snprintf(key, sizeof(key), "%llx:%llx",
				        (unsigned long long)sb.st_dev,
				        (unsigned long long)sb.st_ino);
				rc = astra__tree_set_stat(node, &sb);
				if (rc) {
					close(fd);
					astra__json_free(node);
					return rc;
				}
			}
			file_job *job = astra__calloc(1, sizeof(*job));
			if (!job || astra_vec_push(&pd->jobs, job)) {
				free(job);
				close(fd);
				astra__json_free(node);
				return ASTRA_ENOMEM;
			}
			job->node = node;
			job->dir = pd;
			rc = chunk_file(b, job, fd, &sb, rel);
			close(fd);
			if (rc == ASTRA_EIO || rc == ASTRA_EAUTH) {
				/* unreadable mid-way: report, leave it out */
				job->skip = 1;
				b->files--;
				b->op.p.items_done++;
				return item_error(b, rel, "read");
			}
		}
		if (!rc && sb.st_nlink > 1 && !first) {
			char *p = astra__strdup(rel);
			rc = p ? astra__map_set(&b->hardlinks, key, p, NULL)
			       : ASTRA_ENOMEM;
		}
	}
	b->op.p.items_done++;
	dent ent = { node, NULL };
	if (!rc && astra_vec_push(&pd->ents, ent))
		rc = ASTRA_ENOMEM;
	if (rc)
		astra__json_free(node);
	return rc;
}

/* A tree with one node for a single file or block device. */
static int backup_single(bk *b, const char *abs, astra__id *root)
{
	struct stat sb;
	if (stat(abs, &sb) != 0)
		return astra__err_os("cannot stat %s", abs);
	const char *base = strrchr(abs, '/');
	base = base && base[1] ? base + 1 : abs;
	astra__json *tree = astra__json_new_object();
	astra__json *nodes = astra__json_new_array();
	astra__json *node = astra__json_new_object();
	file_job *job = astra__calloc(1, sizeof(*job));
	pdir one = { 0 };
	int rc = (!tree || !nodes || !node || !job) ? ASTRA_ENOMEM : 0;
	int fd = -1;
	if (!rc)
		rc = astra__tree_set_name(node, "name", base, strlen(base));
	if (!rc)
		rc = astra__tree_set_stat(node, &sb);
	if (!rc)
		rc = add_xattrs(node, abs);
	uint64_t size = 0;
	if (!rc) {
		/* the source was stat'ed (a link to it is followed): never
		 * block on something swapped in since, nor read another */
		fd = open(abs, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat now;
		if (fd < 0)
			rc = astra__err_os("cannot open %s", abs);
		else if (fstat(fd, &now) != 0)
			rc = astra__err_os("cannot fstat %s", abs);
		else if ((now.st_mode & S_IFMT) != (sb.st_mode & S_IFMT) ||
		         now.st_dev != sb.st_dev || now.st_ino != sb.st_ino)
			rc = astra__err(ASTRA_ECONFLICT, ASTRA_ERROR_REPO,
			        "%s changed between its stat and its open "
			        "(a %s, now a %s)",
			        abs, kind_of(sb.st_mode), kind_of(now.st_mode));
	}
	if (!rc)
		rc = file_size_of(fd, &sb, &size);
	if (!rc && S_ISBLK(sb.st_mode)) {
		/* a block device is restored as an image file */
		astra__json_set_str(node, "type", "file");
		astra__json_set_str(node, "source_type", "blockdev");
		astra__json_set_int(node, "size", (int64_t)size);
	}
	if (!rc) {
		b->files = 1;
		b->bytes_total = size;
		job->node = node;
		job->dir = &one;
		rc = chunk_file(b, job, fd, &sb, base);
	}
	if (fd >= 0)
		close(fd);
	if (job) {
		wait_dir(b, &one);
		if (!rc && atomic_load(&b->failed))
			rc = check(b);
		if (!rc)
			rc = finish_job(job);
		free_job(job);
	}
	if (!rc) {
		rc = astra__json_push(nodes, node);
		node = NULL;
	}
	if (!rc) {
		rc = astra__json_set(tree, "nodes", nodes);
		nodes = NULL;
	}
	if (!rc) {
		astra_buf text = ASTRA_BUF_INIT;
		rc = astra__json_print_buf(&text, tree, 0);
		if (!rc)
			rc = astra__writer_add(b->w, ASTRA_BLOB_TREE, text.ptr,
			        text.size, root, 0, NULL);
		astra_buf_dispose(&text);
	}
	astra__json_free(node);
	astra__json_free(nodes);
	astra__json_free(tree);
	return rc;
}

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
	b.r = r;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	astra__op_init(&b.op, p->progress_cb, p->payload, p->cancel);
	b.op.p.stage = ASTRA_STAGE_SCANNING;
	b.errors = astra__json_new_array();
	pthread_mutex_init(&b.seg_mu, NULL);
	pthread_cond_init(&b.inflight_cv, NULL);
	/* two maximal chunks, and at least 16 MiB: few tails to move */
	b.segcap = 2 * r->chunker.max;
	if (b.segcap < (16u << 20))
		b.segcap = 16u << 20;
	if (!b.errors) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	char host[256] = "unknown";
	gethostname(host, sizeof(host) - 1);
	const char *source = p->source ? p->source : abs;

	/* The session starts before the index is read: a gc marker written
	 * after this point cannot be swept while this backup runs, and one
	 * written before it is seen by the writer (see gc.c). */
	if ((rc = astra__data_session_start(r, &b.session)))
		goto done;
	if ((rc = astra__writer_new(&b.w, r)))
		goto done;
	/* one worker more than CPUs, so that one writing a pack does not
	 * leave a CPU idle; on a remote store, more: pack uploads wait */
	unsigned workers = r->threads + 1 +
	                   (r->store->io_depth ? r->store->io_depth / 4 : 0);
	if ((rc = astra__pool_new(&b.pool, workers, QUEUE_MAX)))
		goto done;

	/* parent */
	const char *parent_id = NULL, *parent_root = NULL;
	if (!(p->flags & ASTRA_BACKUP_F_NO_PARENT)) {
		if ((rc = astra__snapshot_list(r, &list)))
			goto done;
		const astra__json *ps =
		        find_parent(list, source, host, p->parent);
		if (p->parent && !ps) {
			rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
			        "parent snapshot %s not found", p->parent);
			goto done;
		}
		const char *ptid = ps ? astra__json_str(ps, "tree") : NULL;
		astra__id pid;
		if (ptid && astra__id_parse(&pid, ptid) == 0 &&
		        astra__tree_load(r, &pid, &ptree) == 0) {
			parent_id = astra__json_str(ps, "id");
			parent_root = ptid;
			/* the parent's totals stand in for a scan */
			const astra__json *pst = astra__json_get(ps, "stats");
			b.op.p.bytes_total =
			        (uint64_t)astra__json_int(pst, "bytes", 0);
			b.op.p.items_total =
			        (uint64_t)(astra__json_int(pst, "files", 0) +
			                   astra__json_int(pst, "dirs", 0));
		} else if (ptid)
			astra__log_warn("parent snapshot unreadable, reading "
			                "every file: %s",
			        astra_error_last()->message);
	}

	if (!(p->flags & ASTRA_BACKUP_F_NO_SCAN) && !ptree &&
	        S_ISDIR(sb.st_mode)) {
		scan(abs, &b.op.p.bytes_total, &b.op.p.items_total, 0);
	}
	b.op.p.stage = ASTRA_STAGE_BACKING_UP;
	if ((rc = astra__op_report(&b.op, 1)))
		goto done;

	astra__id root;
	if (S_ISDIR(sb.st_mode)) {
		rc = backup_dir(&b, -1, NULL, NULL, abs, "", ptree, 0,
		        parent_root, NULL, 0);
		if (!rc)
			rc = drain(&b, 0);
		root = b.root;
	} else if (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode)) {
		rc = backup_single(&b, abs, &root);
	} else {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "%s is not a directory, file or block device", abs);
	}
	astra__pool_wait(b.pool);
	if (!rc && atomic_load(&b.failed))
		rc = check(&b);
	if (rc) {
		/* keep what was stored for the next run; record nothing */
		int keep = rc;
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		if (keep != ASTRA_ENOSPACE && astra__writer_flush(b.w) != 0)
			astra__log_warn("could not save partial data: %s",
			        astra_error_last()->message);
		astra__err(keep, astra_error_last()->klass, "%s", msg);
		rc = keep;
		goto done;
	}
	b.op.p.stage = ASTRA_STAGE_FINISHING;
	if ((rc = astra__writer_flush(b.w)))
		goto done;

	/* the record, last */
	rec = astra__json_new_object();
	if (!rec) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	char when[24], hex[ASTRA_ID_HEX];
	int64_t now = astra__wall_ns();
	astra__fmt_utc(when, now / 1000000000LL);
	char ns[32];
	snprintf(ns, sizeof(ns), "%lld", (long long)now);
	astra__id_hex(&root, hex);
	astra__json_set_str(rec, "time", when);
	astra__json_set_str(rec, "time_ns", ns);
	astra__json_set_str(rec, "host", host);
	astra__json_set_str(rec, "source", source);
	astra__json_set_str(rec, "tree", hex);
	astra__json_set_str(rec, "kind", "data");
	if (parent_id)
		astra__json_set_str(rec, "parent", parent_id);
	astra__json *tags = astra__json_new_object();
	for (size_t i = 0; tags && i < p->ntags; i++) {
		const char *eq = strchr(p->tags[i], '=');
		if (!eq) {
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "tag \"%s\" is not KEY=VALUE", p->tags[i]);
			astra__json_free(tags);
			goto done;
		}
		char k[256];
		snprintf(k, sizeof(k), "%.*s", (int)(eq - p->tags[i]),
		        p->tags[i]);
		astra__json_set_str(tags, k, eq + 1);
	}
	astra__json_set(rec, "tags", tags);
	astra__writer_stats ws;
	astra__writer_get_stats(b.w, &ws);
	astra__json *st = astra__json_new_object();
	if (st) {
		astra__json_set_int(st, "files", (int64_t)b.files);
		astra__json_set_int(st, "dirs", (int64_t)b.dirs);
		astra__json_set_int(st, "bytes", (int64_t)b.bytes_total);
		astra__json_set_int(st, "bytes_read", (int64_t)b.bytes_read);
		astra__json_set_int(st, "bytes_new", (int64_t)ws.bytes_raw_new);
		astra__json_set_int(
		        st, "bytes_stored", (int64_t)ws.bytes_stored);
		astra__json_set_int(
		        st, "errors", (int64_t)astra__json_size(b.errors));
	}
	astra__json_set(rec, "stats", st);
	char id[33];
	/* the record is locked exactly as long as the data it references */
	r->until_pin = astra__writer_until(b.w);
	/* gc must not have declared this writer dead: it may have deleted
	 * data the record would reference */
	rc = astra__data_session_verify(b.session);
	if (!rc)
		rc = astra__snapshot_save(r, rec, id);
	r->until_pin = 0;
	if (rc)
		goto done;
	if (out) {
		memcpy(out->id, id, 33);
		out->files = b.files;
		out->dirs = b.dirs;
		out->unchanged = b.unchanged;
		out->bytes_total = b.bytes_total;
		out->bytes_read = b.bytes_read;
		out->bytes_new = ws.bytes_raw_new;
		out->bytes_stored = ws.bytes_stored;
		out->errors = astra__json_size(b.errors);
		out->nodes_reused = b.nodes_reused;
		out->trees_reused = b.trees_reused;
	}
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
	if (b.pool) {
		astra__pool_wait(b.pool);
		discard_from(&b, 0);
		astra__pool_free(b.pool);
	}
	astra_vec_free(&b.pend);
	astra__data_session_end(b.session);
	astra__writer_free(b.w);
	size_t pos = 0;
	void *v;
	while (astra__map_next(&b.hardlinks, &pos, NULL, &v))
		free(v);
	astra__map_free(&b.hardlinks);
	astra__json_free(b.errors);
	astra__json_free(list);
	astra__json_free(ptree);
	astra__json_free(rec);
	segs_free(&b);
	pthread_mutex_destroy(&b.seg_mu);
	pthread_cond_destroy(&b.inflight_cv);
	free(abs);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.cv);
	return rc;
}
