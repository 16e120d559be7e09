/*
 * The data mover's restore side, after content: applying a node's
 * metadata (owner, mode, xattrs, times) and making the hard links at the
 * end, each to a regular file this restore created. See restore.c for the
 * whole.
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
 * Metadata of one item: through its descriptor fd when fd >= 0, else of
 * `name` in dirfd without following it (symlinks, special files). The
 * owner first (chown clears setuid bits and capabilities), then extended
 * attributes, the mode and the times. setuid, setgid and sticky bits and
 * the security.capability attribute are kept only when the owner was
 * restored: otherwise the snapshot's writer would choose what runs with
 * the restoring user's identity.
 */
void astra__rs_apply_meta(rs *s, int fd, int dirfd, const char *name,
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
int astra__rs_make_link(rs *s, const pending_meta *m)
{
	const char *first = astra__json_str(m->node, "hardlink");
	size_t flen = strlen(first);
	char *shown = astra__rs_escaped(first, flen, 0);
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
	if (!rc && ((sdfd = astra__rs_open_beneath(s, sdir)) < 0 ||
	                   (ddfd = astra__rs_open_beneath(s, ddir)) < 0))
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
			rc = astra__rs_clear_at(s, ddfd, dname, m->rel);
	}
	if (rc == ASTRA_ENOMEM)
		astra__err(ASTRA_ENOMEM, ASTRA_ERROR_OS, "out of memory");
	if (rc)
		astra__rs_report(s, m->rel, "hardlink");
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
