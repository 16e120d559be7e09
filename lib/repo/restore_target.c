/*
 * The data mover's restore side, the target: opening it once, and creating,
 * clearing and re-opening items beneath it through directory descriptors,
 * never following a symlink (openat2 RESOLVE_BENEATH, or openat with
 * O_NOFOLLOW per component). See restore.c for the whole.
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

/*
 * Removes `name` in dirfd, a whole subtree when it is a directory, never
 * following a symlink (each directory is opened O_NOFOLLOW beneath its
 * parent's descriptor); 0 or an error naming the first item that stayed.
 */
static int remove_tree_at(
        rs *s, int dirfd, const char *name, const char *rel, int depth)
{
	struct stat sb;
	if (depth > 4096)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_OS,
		        "%s/%s is nested too deeply to remove", s->target, rel);
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0
		                       : astra__err_os("cannot inspect %s/%s",
		                                 s->target, rel);
	if (!S_ISDIR(sb.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
			return astra__err_os(
			        "cannot remove %s/%s", s->target, rel);
		return 0;
	}
	int fd = openat(
	        dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return astra__err_os("cannot open %s/%s", s->target, rel);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return astra__err_os("cannot list %s/%s", s->target, rel);
	}
	int rc = 0;
	struct dirent *e;
	while (!rc && (errno = 0, e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *crel = astra__aprintf("%s/%s", rel, e->d_name);
		rc = crel ? remove_tree_at(s, fd, e->d_name, crel, depth + 1)
		          : ASTRA_ENOMEM;
		free(crel);
	}
	closedir(d);
	if (!rc && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = astra__err_os(
		        "cannot remove directory %s/%s", s->target, rel);
	return rc;
}

/*
 * ASTRA_DATA_RESTORE_F_DELETE_EXTRAS: removes every entry of directory
 * dirfd (at rel) that `nodes` (its listing in the snapshot) does not
 * name, except an empty lost+found at the top. Each entry that cannot be
 * removed is reported; 0 unless out of memory.
 */
int astra__rs_prune_at(
        rs *s, int dirfd, const char *rel, const astra__json *nodes)
{
	astra__map names = ASTRA_MAP_INIT;
	int rc = 0;
	for (size_t i = 0; i < astra__json_size(nodes) && !rc; i++) {
		char *n =
		        astra__tree_get_name(astra__json_at(nodes, i), "name");
		if (n)
			rc = astra__map_set(&names, n, NULL, NULL);
		else
			astra_error_clear(); /* refused later by the walk */
		free(n);
	}
	int fd = rc ? -1 : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!rc && !d) {
		if (fd >= 0)
			close(fd);
		astra__err_os("cannot list %s/%s", s->target, rel);
		astra__rs_report(s, *rel ? rel : ".", "delete extras");
	}
	/* names first, removals after: readdir does not like changes */
	ASTRA_VEC(char *) extra = { 0 };
	struct dirent *e;
	while (!rc && d && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		        astra__map_has(&names, e->d_name))
			continue;
		if (!*rel && !strcmp(e->d_name, "lost+found") &&
		        unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0 &&
		        (errno == ENOTEMPTY || errno == EEXIST))
			continue; /* fsck's, at the top, kept when not empty */
		char *n = astra__strdup(e->d_name);
		if (!n || astra_vec_push(&extra, n)) {
			free(n);
			rc = ASTRA_ENOMEM;
		}
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < extra.n; i++) {
		char *crel = *rel ? astra__aprintf("%s/%s", rel, extra.v[i])
		                  : astra__strdup(extra.v[i]);
		if (!crel)
			rc = ASTRA_ENOMEM;
		else if (remove_tree_at(s, dirfd, extra.v[i], crel, 0) != 0)
			astra__rs_report(s, crel, "delete extras");
		free(crel);
		free(extra.v[i]);
	}
	astra_vec_free(&extra);
	astra__map_free(&names);
	return rc;
}

/*
 * Something is where item `name` (in dirfd) must be created. Without
 * overwrite that is refused; with it, a non-directory is unlinked (never
 * followed: a symlink or a hard link to a file elsewhere is removed, not
 * written through). A directory in the way stays and is refused.
 */
int astra__rs_clear_at(rs *s, int dirfd, const char *name, const char *rel)
{
	if (!astra__rs_overwrite(s))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "%s/%s already exists (restore with overwrite to "
		        "replace it)",
		        s->target, rel);
	struct stat sb;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0
		                       : astra__err_os("cannot inspect %s/%s",
		                                 s->target, rel);
	if (S_ISDIR(sb.st_mode) &&
	        !(s->flags & ASTRA_DATA_RESTORE_F_DELETE_EXTRAS))
		return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_OS,
		        "a directory is in the way at %s/%s", s->target, rel);
	if (S_ISDIR(sb.st_mode))
		return remove_tree_at(s, dirfd, name, rel, 0);
	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		return astra__err_os("cannot replace %s/%s", s->target, rel);
	return 0;
}

/* Creates regular file `name` in dirfd, exclusively; 0 and *fd_out, or an
 * error (message set). */
int astra__rs_create_file_at(
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
		int rc = astra__rs_clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

/* Creates (or, when it really is one, reuses) directory `name` in dirfd
 * and opens it without following anything; 0 and *fd_out or an error. */
int astra__rs_open_dir_at(
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
		if (!astra__rs_overwrite(s))
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
int astra__rs_open_beneath(rs *s, const char *rel)
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
int astra__rs_note_made(rs *s, int fd, const char *rel)
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
int astra__rs_open_target(const char *target, unsigned flags, int *fd_out)
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
	if (!created &&
	        !(flags & (ASTRA_DATA_RESTORE_F_OVERWRITE |
	                          ASTRA_DATA_RESTORE_F_DELETE_EXTRAS)) &&
	        !dir_is_empty(fd, 1, first, sizeof(first))) {
		close(fd);
		char *shown = astra__rs_escaped(first, strlen(first), 0);
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
