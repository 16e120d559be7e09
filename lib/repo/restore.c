/*
 * The data mover's restore side: walks a snapshot tree, creates
 * directories, links and special files on the calling thread, and writes
 * file chunks in parallel (every chunk verified). Metadata is applied after
 * content: files when their last chunk lands, directories last and deepest
 * first. Damage is reported per item; the rest is restored.
 *
 * Nothing below the target is reached through a path string. The target
 * is opened once; every item is created relative to the descriptor of its
 * parent directory (held while the walk is inside it) with *at() calls
 * that never follow a symlink, and files are created with O_EXCL. The
 * passes after the walk (hard links, directory metadata) re-open
 * directories beneath the target without following any symlink: openat2
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one openat(O_NOFOLLOW) per
 * component where the kernel has no openat2. A hard link's source must be
 * a regular file this restore created (same inode), reached the same way.
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

typedef struct rs rs;

typedef struct {
	rs *r;
	char *rel; /* below the target, for messages and the report */
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
	char *rel; /* below the target */
	astra__json *node;
} pending_meta;

/* A regular file this restore created: a hard link may only lead there. */
typedef struct {
	dev_t dev;
	ino_t ino;
} made_file;

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
	int rootfd; /* the target, opened once */
	const char *target; /* for messages only */
	/* where the restored items are in the snapshot: "" or "a/b/" (the
	 * parent of a subpath), for hard link sources */
	char *snap_prefix;
	int no_openat2;
	astra__map made; /* snapshot path -> made_file *, walk thread only */
	uint64_t files, dirs_n, bytes;
	atomic_int fatal;
	int fatal_code;
	char fatal_msg[512];
	run_task *run; /* being filled by the walk */
};

static void report_text(rs *s, const char *rel, const char *text)
{
	pthread_mutex_lock(&s->mu);
	astra__json *e = astra__json_new_object();
	if (e) {
		astra__json_set_str(e, "path", *rel ? rel : ".");
		astra__json_set_str(e, "error", text);
		astra__json_push(s->report, e);
	}
	pthread_mutex_unlock(&s->mu);
	astra__log_warn("cannot restore %s: %s", *rel ? rel : ".", text);
}

/* Reports the item with the last error's message. */
static void report(rs *s, const char *rel, const char *what)
{
	char full[1200];
	snprintf(full, sizeof(full), "%s: %s", what,
	        astra_error_last()->message);
	report_text(s, rel, full);
}

static char *child_rel(const char *rel, const char *name)
{
	return *rel ? astra__aprintf("%s/%s", rel, name) : astra__strdup(name);
}

/* A printable copy of n bytes: control bytes, NUL, DEL, '\\' and (with
 * slash) '/' as \xNN, so that a refused name shows as what it is. */
static char *escaped(const char *p, size_t n, int slash)
{
	char *out = astra__malloc(n * 4 + 1);
	if (!out)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '\\' || (slash && c == '/')) {
			snprintf(out + k, 5, "\\x%02x", c);
			k += 4;
		} else {
			out[k++] = (char)c;
		}
	}
	out[k] = '\0';
	return out;
}

/* The node's name as it is in the snapshot, escaped for the report. */
static char *shown_name(const astra__json *node)
{
	const char *s = astra__json_str(node, "name");
	if (s)
		return escaped(s, strlen(s), 1);
	const char *b = astra__json_str(node, "name_b64");
	astra_buf raw = ASTRA_BUF_INIT;
	char *out;
	if (!b)
		out = astra__strdup("(no name)");
	else if (astra__base64_decode(&raw, b, strlen(b)) != 0)
		out = astra__aprintf("(name_b64 \"%.64s\")", b);
	else
		out = escaped(raw.ptr ? raw.ptr : "", raw.size, 1);
	astra_buf_dispose(&raw);
	return out;
}

static int overwrite(const rs *s)
{
	return (s->flags & ASTRA_DATA_RESTORE_F_OVERWRITE) != 0;
}

/*
 * Metadata of one item: through its descriptor fd when fd >= 0, else of
 * `name` in dirfd without following it (symlinks, special files). The
 * owner first (chown clears setuid bits and capabilities), then extended
 * attributes, the mode and the times. setuid, setgid and sticky bits and
 * the security.capability attribute are kept only when the owner was
 * restored: otherwise the snapshot's writer would choose what runs with
 * the restoring user's identity.
 */
static void apply_meta(rs *s, int fd, int dirfd, const char *name,
        const char *rel, const astra__json *node, int is_link)
{
	int64_t mode = astra__json_int(node, "mode", -1);
	int64_t uid = astra__json_int(node, "uid", -1);
	int64_t gid = astra__json_int(node, "gid", -1);
	int owned = 0;
	if (!(s->flags & ASTRA_DATA_RESTORE_F_NO_OWNER) && s->is_root &&
	        uid >= 0 && gid >= 0 && uid < UINT32_MAX && gid < UINT32_MAX) {
		int r = fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
		                : fchownat(dirfd, name, (uid_t)uid, (gid_t)gid,
		                          AT_SYMLINK_NOFOLLOW);
		if (r == 0)
			owned = 1;
		else
			astra__log_debug("cannot chown %s/%s: %s", s->target,
			        rel, strerror(errno));
	}
	const astra__json *x = astra__json_get(node, "xattrs");
	if (!(s->flags & ASTRA_DATA_RESTORE_F_NO_XATTRS) && fd < 0 &&
	        astra__json_size(x))
		astra__log_debug("extended attributes of %s/%s not restored "
		                 "(a symlink or special file)",
		        s->target, rel);
	for (size_t i = 0;
	        fd >= 0 && !(s->flags & ASTRA_DATA_RESTORE_F_NO_XATTRS) &&
	        i < astra__json_size(x);
	        i++) {
		const astra__json *m = astra__json_at(x, i);
		const char *key = astra__json_key(m);
		const char *v = astra__json_string_value(m);
		if (!key || !v)
			continue;
		if (!owned && !strcmp(key, "security.capability")) {
			astra__log_debug("%s/%s: security.capability not "
			                 "restored without its owner",
			        s->target, rel);
			continue;
		}
		astra_buf val = ASTRA_BUF_INIT;
		if (astra__base64_decode(&val, v, strlen(v)) == 0 &&
		        fsetxattr(fd, key, val.ptr ? val.ptr : "", val.size,
		                0) != 0)
			astra__log_debug("cannot set xattr %s on %s/%s", key,
			        s->target, rel);
		astra_buf_dispose(&val);
	}
	if (!is_link && mode >= 0) {
		mode_t m = (mode_t)mode & 07777;
		if (!owned)
			m &= 0777;
		int r = fd >= 0 ? fchmod(fd, m)
		                : fchmodat(dirfd, name, m, AT_SYMLINK_NOFOLLOW);
		if (r != 0)
			astra__log_debug("cannot chmod %s/%s", s->target, rel);
	}
	struct timespec ts[2];
	/* access times are not kept (they would change every tree on every
	 * backup); a restored item's atime is its mtime */
	if (astra__tree_get_time(node, "mtime", &ts[1]) == 0) {
		ts[0] = ts[1];
		if (fd >= 0 ? futimens(fd, ts)
		            : utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW))
			astra__log_debug(
			        "cannot set times on %s/%s", s->target, rel);
	}
}

static void file_done(rs *s, rfile *f)
{
	if (!f->failed)
		apply_meta(s, f->fd, -1, NULL, f->rel, f->node, 0);
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

/*
 * Something is where item `name` (in dirfd) must be created. Without
 * overwrite that is refused; with it, a non-directory is unlinked (never
 * followed: a symlink or a hard link to a file elsewhere is removed, not
 * written through). A directory in the way stays and is refused.
 */
static int clear_at(rs *s, int dirfd, const char *name, const char *rel)
{
	if (!overwrite(s))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "%s/%s already exists (restore with overwrite to "
		        "replace it)",
		        s->target, rel);
	struct stat sb;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0
		                       : astra__err_os("cannot inspect %s/%s",
		                                 s->target, rel);
	if (S_ISDIR(sb.st_mode))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "a directory is in the way at %s/%s", s->target, rel);
	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		return astra__err_os("cannot replace %s/%s", s->target, rel);
	return 0;
}

/* Creates regular file `name` in dirfd, exclusively; 0 and *fd_out, or an
 * error (message set). */
static int create_file_at(
        rs *s, int dirfd, const char *name, const char *rel, int *fd_out)
{
	for (int again = 0;; again = 1) {
		int fd = openat(dirfd, name,
		        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		        0600);
		if (fd >= 0) {
			*fd_out = fd;
			return 0;
		}
		if (errno != EEXIST || again)
			return astra__err_os(
			        "cannot create %s/%s", s->target, rel);
		int rc = clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

/* Creates (or, when it really is one, reuses) directory `name` in dirfd
 * and opens it without following anything; 0 and *fd_out or an error. */
static int open_dir_at(
        rs *s, int dirfd, const char *name, const char *rel, int *fd_out)
{
	int created = mkdirat(dirfd, name, 0700) == 0;
	if (!created && errno != EEXIST)
		return astra__err_os(
		        "cannot create directory %s/%s", s->target, rel);
	int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, name, fl);
	if (fd < 0 && !created && (errno == ENOTDIR || errno == ELOOP)) {
		/* a symlink or another non-directory is in the way: never
		 * followed, replaced only when overwriting */
		if (!overwrite(s))
			return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
			        "%s/%s exists and is not a directory (restore "
			        "with overwrite to replace it)",
			        s->target, rel);
		if (unlinkat(dirfd, name, 0) != 0 ||
		        mkdirat(dirfd, name, 0700) != 0)
			return astra__err_os(
			        "cannot replace %s/%s with a directory",
			        s->target, rel);
		fd = openat(dirfd, name, fl);
	}
	if (fd < 0)
		return astra__err_os(
		        "cannot open directory %s/%s", s->target, rel);
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		close(fd);
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "%s/%s is not a directory", s->target, rel);
	}
	*fd_out = fd;
	return 0;
}

/*
 * Opens directory `rel` (names joined by '/', "" for the target itself)
 * beneath the target without following any symlink; -1 with the message
 * set.
 */
static int open_beneath(rs *s, const char *rel)
{
	const int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if (!*rel) {
		int fd = fcntl(s->rootfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			astra__err_os("cannot open %s", s->target);
		return fd;
	}
#if defined(HAVE_OPENAT2_H) && defined(SYS_openat2)
	if (!s->no_openat2) {
		struct open_how how;
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)fl;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		              RESOLVE_NO_MAGICLINKS;
		int fd = (int)syscall(
		        SYS_openat2, s->rootfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		/* ENOSYS: an old kernel; EPERM: a seccomp filter that does
		 * not know the call. EAGAIN: a concurrent rename, try the
		 * other way. Anything else is this path's answer. */
		if (errno == ENOSYS || errno == EPERM)
			s->no_openat2 = 1;
		else if (errno != EAGAIN)
			return astra__err_os(
			        "cannot open %s/%s without following symlinks",
			        s->target, rel);
	}
#endif
	char *copy = astra__strdup(rel);
	if (!copy) {
		astra__err(ASTRA_ENOMEM, ASTRA_ERROR_OS, "out of memory");
		return -1;
	}
	int cur = s->rootfd;
	char *save = NULL;
	for (char *part = strtok_r(copy, "/", &save); part;
	        part = strtok_r(NULL, "/", &save)) {
		int next = openat(cur, part, fl);
		int err = errno;
		if (cur != s->rootfd)
			close(cur);
		if (next < 0) {
			errno = err;
			astra__err_os("cannot open %s/%s without following "
			              "symlinks",
			        s->target, rel);
			free(copy);
			return -1;
		}
		cur = next;
	}
	free(copy);
	return cur == s->rootfd ? fcntl(cur, F_DUPFD_CLOEXEC, 0) : cur;
}

/* Remembers the regular file just created at rel (open as fd) as a
 * possible hard link source. */
static int note_made(rs *s, int fd, const char *rel)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		return 0; /* then no link can lead to it: reported there */
	made_file *m = astra__malloc(sizeof(*m));
	char *key = astra__aprintf("%s%s", s->snap_prefix, rel);
	void *old = NULL;
	int rc = m && key ? 0 : ASTRA_ENOMEM;
	if (!rc) {
		m->dev = sb.st_dev;
		m->ino = sb.st_ino;
		rc = astra__map_set(&s->made, key, m, &old);
	}
	if (rc)
		free(m);
	free(old);
	free(key);
	return rc;
}

static int restore_file(rs *s, int dirfd, const char *name, const char *rel,
        const astra__json *node)
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
	int fd = -1;
	if (create_file_at(s, dirfd, name, rel, &fd) != 0)
		return -1;
	int64_t size = astra__json_int(node, "size", 0);
	if (size < 0 || ftruncate(fd, (off_t)size) != 0) {
		astra__err_os("cannot size %s/%s", s->target, rel);
		close(fd);
		return -1;
	}
	if (astra__json_int(node, "nlink", 1) > 1 && note_made(s, fd, rel)) {
		close(fd);
		return ASTRA_ENOMEM;
	}
	rfile *f = astra__calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return ASTRA_ENOMEM;
	}
	f->r = s;
	f->fd = fd;
	f->rel = astra__strdup(rel);
	f->node = astra__json_dup(node);
	f->remaining = 1; /* held by this function until all are queued */
	pthread_mutex_lock(&s->mu);
	s->inflight_files++;
	pthread_mutex_unlock(&s->mu);
	if (!f->rel || !f->node) {
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

static int symlink_at(
        rs *s, const char *target, int dirfd, const char *name, const char *rel)
{
	for (int again = 0;; again = 1) {
		if (symlinkat(target, dirfd, name) == 0)
			return 0;
		if (errno != EEXIST || again)
			return astra__err_os(
			        "cannot create symlink %s/%s", s->target, rel);
		int rc = clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

static int mknod_at(rs *s, int dirfd, const char *name, const char *rel,
        mode_t type, dev_t dev)
{
	for (int again = 0;; again = 1) {
		/* the permissions come with the rest of the metadata */
		if (mknodat(dirfd, name, type | 0600, dev) == 0)
			return 0;
		if (errno != EEXIST || again)
			return astra__err_os(
			        "cannot create %s/%s", s->target, rel);
		int rc = clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

static int restore_tree(
        rs *s, const astra__json *tree, int dirfd, const char *rel, int depth);

/* Restores one node into the directory open as dirfd (at rel). */
static int restore_node(
        rs *s, const astra__json *node, int dirfd, const char *rel, int depth)
{
	char *name = astra__tree_get_name(node, "name");
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	        !strcmp(name, "..")) {
		/* refused and reported: a name must be one path component */
		char why[600];
		snprintf(why, sizeof(why), "%s",
		        name ? "it is not a single path component"
		             : astra_error_last()->message);
		char *shown = shown_name(node);
		char *where = shown ? child_rel(rel, shown) : NULL;
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unsafe name \"%s\" in snapshot refused: %s",
		        shown ? shown : "?", why);
		report(s, where ? where : rel, "name");
		free(where);
		free(shown);
		free(name);
		s->op.p.items_done++;
		return 0;
	}
	char *crel = child_rel(rel, name);
	if (!crel) {
		free(name);
		return ASTRA_ENOMEM;
	}
	int rc = 0;
	const char *type = astra__json_str(node, "type");
	if (!type)
		type = "unknown";
	s->op.p.items_done++;
	if (!strcmp(type, "dir")) {
		astra__json *sub = NULL;
		astra__id id;
		const char *st = astra__json_str(node, "subtree");
		int cfd = -1;
		if (open_dir_at(s, dirfd, name, crel, &cfd) != 0) {
			report(s, crel, "mkdir");
		} else {
			if (!st) {
				/* a directory recorded without content */
				s->dirs_n++;
			} else if (astra__id_parse(&id, st) ||
			           astra__tree_load(s->repo, &id, &sub)) {
				report(s, crel, "directory listing");
			} else {
				s->dirs_n++;
				rc = restore_tree(s, sub, cfd, crel, depth + 1);
			}
			close(cfd);
			astra__json_free(sub);
			pending_meta m = { crel, astra__json_dup(node) };
			if (m.node && astra_vec_push(&s->dirs, m) == 0)
				crel = NULL;
			else
				astra__json_free(m.node);
		}
	} else if (!strcmp(type, "file")) {
		const char *hl = astra__json_str(node, "hardlink");
		if (hl) {
			pending_meta m = { crel, astra__json_dup(node) };
			if (m.node && astra_vec_push(&s->links, m) == 0)
				crel = NULL;
			else
				astra__json_free(m.node);
		} else {
			int r = restore_file(s, dirfd, name, crel, node);
			if (r < 0 && r != -1)
				rc = r;
			else if (r == -1)
				report(s, crel, "create");
		}
	} else if (!strcmp(type, "symlink")) {
		char *target = astra__tree_get_name(node, "target");
		if (!target || symlink_at(s, target, dirfd, name, crel) != 0)
			report(s, crel, "symlink");
		else
			apply_meta(s, -1, dirfd, name, crel, node, 1);
		free(target);
	} else if (!strcmp(type, "fifo") || !strcmp(type, "chardev") ||
	           !strcmp(type, "blockdev")) {
		int fifo = !strcmp(type, "fifo");
		dev_t dev = 0;
		const char *rdev = astra__json_str(node, "rdev");
		if (rdev)
			dev = (dev_t)strtoull(rdev, NULL, 16);
		mode_t t = fifo                       ? S_IFIFO
		           : !strcmp(type, "chardev") ? S_IFCHR
		                                      : S_IFBLK;
		if (!fifo && !(s->flags & ASTRA_DATA_RESTORE_F_DEVICES))
			report_text(
			        s, crel, "skipped: device node, use --devices");
		else if (mknod_at(s, dirfd, name, crel, t, dev) != 0)
			report(s, crel, type);
		else
			apply_meta(s, -1, dirfd, name, crel, node, 0);
	} else if (!strcmp(type, "socket")) {
		/* sockets are not restorable; their listing is kept */
	} else {
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unknown node type \"%s\"", type);
		report(s, crel, "type");
	}
	free(name);
	free(crel);
	if (!rc)
		rc = astra__op_report(&s->op, 0);
	return rc;
}

static int restore_tree(
        rs *s, const astra__json *tree, int dirfd, const char *rel, int depth)
{
	if (depth > 4096)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "snapshot tree is nested too deeply");
	const astra__json *nodes = astra__json_get(tree, "nodes");
	for (size_t i = 0; i < astra__json_size(nodes); i++) {
		int rc = restore_node(
		        s, astra__json_at(nodes, i), dirfd, rel, depth);
		if (rc)
			return rc;
		if (atomic_load(&s->fatal))
			return astra__err(s->fatal_code, ASTRA_ERROR_REPO, "%s",
			        s->fatal_msg);
	}
	return 0;
}

/* Splits rel at its last '/': *dir receives a copy of the directory part
 * ("" at the top), *name points into rel. */
static char *split_rel(const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	*name = slash ? slash + 1 : rel;
	return slash ? astra__strndup(rel, (size_t)(slash - rel))
	             : astra__strdup("");
}

/* Links the file at srcfd (an O_PATH descriptor of src_name in srcdir,
 * checked to be `want`) as dst_name in dstdir; -1 with errno. */
static int link_pinned(int srcfd, int srcdir, const char *src_name,
        const made_file *want, int dstdir, const char *dst_name)
{
	/* the inode itself, whatever its name now: needs
	 * CAP_DAC_READ_SEARCH ... */
	if (linkat(srcfd, "", dstdir, dst_name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	/* ... or /proc (the way open(2) documents for O_PATH) ... */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", srcfd);
	if (linkat(AT_FDCWD, proc, dstdir, dst_name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* ... else by name in its pinned directory, checked afterwards */
	if (linkat(srcdir, src_name, dstdir, dst_name, 0) != 0)
		return -1;
	struct stat sb;
	if (fstatat(dstdir, dst_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	        sb.st_dev != want->dev || sb.st_ino != want->ino) {
		unlinkat(dstdir, dst_name, 0);
		errno = ESTALE;
		return -1;
	}
	return 0;
}

/* Makes the hard link m->rel -> its "hardlink" (a path in the snapshot);
 * 0, or an error that was reported. */
static int make_link(rs *s, const pending_meta *m)
{
	const char *first = astra__json_str(m->node, "hardlink");
	size_t flen = strlen(first);
	char *shown = escaped(first, flen, 0);
	char *sdir = NULL, *ddir = NULL;
	const char *sname, *dname;
	int sdfd = -1, ddfd = -1, srcfd = -1;
	int rc = shown ? 0 : ASTRA_ENOMEM;
	/* a plain relative path: no empty, "." or ".." component */
	for (const char *c = first; !rc;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 2 && !memcmp(c, "..", 2))
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "link source \"%s\" has a \"..\" component "
			        "(refused)",
			        shown);
		else if (n == 0 || (n == 1 && *c == '.'))
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "link source \"%s\" is not a plain path in the "
			        "snapshot (refused)",
			        shown);
		if (!e)
			break;
		c = e + 1;
	}
	const made_file *want = rc ? NULL : astra__map_get(&s->made, first);
	if (!rc && !want)
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "link source \"%s\" is not a file this restore created "
		        "(refused)",
		        shown);
	/* every key of s->made starts with the prefix */
	if (!rc) {
		sdir = split_rel(first + strlen(s->snap_prefix), &sname);
		ddir = split_rel(m->rel, &dname);
		if (!sdir || !ddir)
			rc = ASTRA_ENOMEM;
	}
	if (!rc && ((sdfd = open_beneath(s, sdir)) < 0 ||
	                   (ddfd = open_beneath(s, ddir)) < 0))
		rc = astra_error_last()->code;
	struct stat sb;
	if (!rc) {
		srcfd = openat(sdfd, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (srcfd < 0 || fstat(srcfd, &sb) != 0)
			rc = astra__err_os("cannot open link source %s/%s",
			        s->target, first + strlen(s->snap_prefix));
		else if (!S_ISREG(sb.st_mode) || sb.st_dev != want->dev ||
		         sb.st_ino != want->ino)
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_OS,
			        "link source \"%s\" is no longer the file "
			        "this restore created (refused)",
			        shown);
	}
	for (int again = 0; !rc; again = 1) {
		if (link_pinned(srcfd, sdfd, sname, want, ddfd, dname) == 0)
			break;
		if (errno != EEXIST || again)
			rc = astra__err_os("cannot link %s/%s to %s", s->target,
			        m->rel, shown);
		else
			rc = clear_at(s, ddfd, dname, m->rel);
	}
	if (rc == ASTRA_ENOMEM)
		astra__err(ASTRA_ENOMEM, ASTRA_ERROR_OS, "out of memory");
	if (rc)
		report(s, m->rel, "hardlink");
	if (srcfd >= 0)
		close(srcfd);
	if (sdfd >= 0)
		close(sdfd);
	if (ddfd >= 0)
		close(ddfd);
	free(sdir);
	free(ddir);
	free(shown);
	return rc;
}

/* Whether the directory open as fd holds nothing (but an empty
 * lost+found at the top); *what receives the first entry's name. */
static int dir_is_empty(int fd, int top, char *what, size_t n)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = d >= 0 ? fdopendir(d) : NULL;
	if (!dir) {
		if (d >= 0)
			close(d);
		snprintf(what, n, "(unreadable)");
		return 0;
	}
	int empty = 1;
	struct dirent *de;
	while (empty && (de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (top && !strcmp(de->d_name, "lost+found")) {
			int lf = openat(fd, de->d_name,
			        O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                O_CLOEXEC);
			char inner[8];
			int ok = lf >= 0 &&
			         dir_is_empty(lf, 0, inner, sizeof(inner));
			if (lf >= 0)
				close(lf);
			if (ok)
				continue;
		}
		snprintf(what, n, "%s", de->d_name);
		empty = 0;
	}
	closedir(dir);
	return empty;
}

/* Creates the target when missing and opens it; *fd_out, or an error. */
static int open_target(const char *target, unsigned flags, int *fd_out)
{
	int created = mkdir(target, 0700) == 0;
	if (!created && errno != EEXIST)
		return astra__err_os("cannot create target %s", target);
	int fd = open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		struct stat sb;
		if (lstat(target, &sb) == 0 && S_ISLNK(sb.st_mode))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_OS,
			        "restore target %s is a symlink: give the "
			        "directory it points to",
			        target);
		if (err == ENOTDIR)
			return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
			        "restore target %s exists and is not a "
			        "directory",
			        target);
		errno = err;
		return astra__err_os("cannot open target %s", target);
	}
	char first[256];
	if (!created && !(flags & ASTRA_DATA_RESTORE_F_OVERWRITE) &&
	        !dir_is_empty(fd, 1, first, sizeof(first))) {
		close(fd);
		char *shown = escaped(first, strlen(first), 0);
		int rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "restore target %s is not empty (it holds \"%s\"): "
		        "restore into an empty directory, or use --overwrite "
		        "(ASTRA_DATA_RESTORE_F_OVERWRITE) to replace what is "
		        "in the way",
		        target, shown ? shown : first);
		free(shown);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* Finds the node at subpath; *tree_out owns the tree holding it.
 * *prefix receives the parent's path in the snapshot ("" or "a/b/"). */
static int find_subpath(astra__repo *r, astra__json *root, const char *sub,
        astra__json **tree_out, const astra__json **node_out, char **prefix)
{
	astra__json *cur = root;
	char *copy = astra__strdup(sub);
	astra_buf pre = ASTRA_BUF_INIT;
	if (!copy)
		return ASTRA_ENOMEM;
	char *save = NULL;
	const astra__json *node = NULL;
	const char *last = NULL;
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
			if ((rc = astra__buf_printf(&pre, "%s/", last)))
				break;
		}
		node = astra__tree_find(cur, part);
		last = part;
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
	if (!rc) {
		*prefix = astra__strndup(pre.ptr ? pre.ptr : "", pre.size);
		if (!*prefix)
			rc = ASTRA_ENOMEM;
	}
	astra_buf_dispose(&pre);
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
	s.rootfd = -1;
	uint64_t t0 = astra__mono_ns();
	astra__json *rec = NULL, *root = NULL, *subtree = NULL;
	const astra__json *subnode = NULL;
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
	if (p->subpath && *p->subpath) {
		if ((rc = find_subpath(r, root, p->subpath, &subtree, &subnode,
		             &s.snap_prefix)))
			goto cleanup;
	} else if (!(s.snap_prefix = astra__strdup(""))) {
		rc = ASTRA_ENOMEM;
		goto cleanup;
	}
	if ((rc = open_target(target, p->flags, &s.rootfd)))
		goto cleanup;
	s.repo = r;
	s.target = target;
	s.flags = p->flags;
	s.no_openat2 = p->no_openat2;
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

	if (subnode)
		rc = restore_node(&s, subnode, s.rootfd, "", 0);
	else
		rc = restore_tree(&s, root, s.rootfd, "", 0);
	flush_run(&s);
	astra__pool_wait(s.pool);
	if (!rc && atomic_load(&s.fatal))
		rc = astra__err(
		        s.fatal_code, ASTRA_ERROR_REPO, "%s", s.fatal_msg);

	/* hard links, then directory metadata deepest first */
	for (size_t i = 0; i < s.links.n; i++) {
		pending_meta *m = &s.links.v[i];
		if (!rc && make_link(&s, m) == ASTRA_ENOMEM)
			rc = ASTRA_ENOMEM;
	}
	for (size_t i = s.dirs.n; !rc && i-- > 0;) {
		pending_meta *m = &s.dirs.v[i];
		int fd = open_beneath(&s, m->rel);
		if (fd < 0) {
			report(&s, m->rel, "metadata");
			continue;
		}
		apply_meta(&s, fd, -1, NULL, m->rel, m->node, 0);
		close(fd);
	}
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
	for (size_t i = 0; i < s.links.n; i++) {
		free(s.links.v[i].rel);
		astra__json_free(s.links.v[i].node);
	}
	for (size_t i = 0; i < s.dirs.n; i++) {
		free(s.dirs.v[i].rel);
		astra__json_free(s.dirs.v[i].node);
	}
	astra_vec_free(&s.links);
	astra_vec_free(&s.dirs);
	size_t pos = 0;
	void *val;
	while (astra__map_next(&s.made, &pos, NULL, &val))
		free(val);
	astra__map_free(&s.made);
	if (s.rootfd >= 0)
		close(s.rootfd);
	if (out) {
		out->files = s.files;
		out->dirs = s.dirs_n;
		out->bytes = s.bytes;
		out->errors = astra__json_size(s.report);
		out->duration_s = (double)(astra__mono_ns() - t0) / 1e9;
		out->report = s.report;
		s.report = NULL;
	}
	free(s.snap_prefix);
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
