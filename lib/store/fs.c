/*
 * file:// store: objects are files under a root directory. Writes are
 * atomic and durable: a temporary file in the target directory, fsync,
 * rename (or link for create-if-absent), fsync of the directory. Readers
 * never see half objects; temporary files are never listed.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define TMP_MARK ".tmp-"

typedef struct {
	astra__store base;
	char *root;
} fs_store;

static char *path_of(fs_store *s, const char *key)
{
	return astra__aprintf("%s/%s", s->root, key);
}

static int valid_key(const char *key)
{
	if (!key || !*key || key[0] == '/')
		return 0;
	if (strstr(key, "..") || strstr(key, "//") || strstr(key, TMP_MARK))
		return 0;
	return 1;
}

static int bad_key(const char *key)
{
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
	        "invalid object key \"%s\"", key ? key : "(null)");
}

static int mkdirs(char *path)
{
	/* creates every parent of path (path is modified temporarily) */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0700);
		int e = errno;
		*p = '/';
		if (r != 0 && e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *d = astra__strdup(path);
	if (!d)
		return ASTRA_ENOMEM;
	char *slash = strrchr(d, '/');
	if (slash && slash != d)
		*slash = '\0';
	int fd = open(d, O_RDONLY | O_DIRECTORY);
	int rc = 0;
	if (fd < 0 || fsync(fd) != 0)
		rc = astra__err_os("fsync of directory %s", d);
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

static int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n) {
		ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fs_put(astra__store *st, const char *key, const void *data, size_t n,
        const astra__put_opts *opts)
{
	fs_store *s = (fs_store *)st;
	if (!valid_key(key))
		return bad_key(key);
	if (opts && opts->retain_until)
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "file:// vaults cannot lock objects (immutability "
		        "needs an object store with object lock)");
	char *path = path_of(s, key);
	if (!path)
		return ASTRA_ENOMEM;
	uint8_t rnd[8];
	char rhex[17];
	astra__random(rnd, sizeof(rnd));
	for (int i = 0; i < 8; i++)
		snprintf(rhex + 2 * i, 3, "%02x", rnd[i]);
	char *tmp = astra__aprintf("%s" TMP_MARK "%s", path, rhex);
	int rc = 0, fd = -1;
	if (!tmp) {
		free(path);
		return ASTRA_ENOMEM;
	}
	if (mkdirs(path) != 0) {
		rc = astra__err_os("cannot create directory for %s", path);
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = astra__err_os("cannot create %s", tmp);
		goto done;
	}
	if (write_all(fd, data, n) != 0) {
		rc = astra__err_os("cannot write %s", tmp);
		goto done;
	}
	if (fsync(fd) != 0) {
		rc = astra__err_os("cannot sync %s", tmp);
		goto done;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = astra__err_os("cannot close %s", tmp);
		goto done;
	}
	fd = -1;
	if (opts && (opts->flags & ASTRA_PUT_IF_ABSENT)) {
		if (link(tmp, path) != 0) {
			rc = errno == EEXIST
			             ? astra__err(ASTRA_EEXISTS,
			                       ASTRA_ERROR_STORE,
			                       "%s already exists", key)
			             : astra__err_os("cannot link %s", path);
			goto done;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		rc = astra__err_os("cannot rename %s", tmp);
		goto done;
	}
	rc = fsync_dir_of(path);
done:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

static int fs_get(astra__store *st, const char *key, uint64_t off, uint64_t len,
        astra_buf *out)
{
	fs_store *s = (fs_store *)st;
	if (!valid_key(key))
		return bad_key(key);
	char *path = path_of(s, key);
	if (!path)
		return ASTRA_ENOMEM;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0) {
		rc = errno == ENOENT
		             ? astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		                       "object %s not found", key)
		             : astra__err_os("cannot open %s", path);
		goto done;
	}
	if (fstat(fd, &sb) != 0) {
		rc = astra__err_os("cannot stat %s", path);
		goto done;
	}
	uint64_t size = (uint64_t)sb.st_size;
	if (off > size || (len && off + len > size)) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
		        "object %s is %llu bytes, shorter than the range "
		        "%llu+%llu",
		        key, (unsigned long long)size, (unsigned long long)off,
		        (unsigned long long)len);
		goto done;
	}
	if (!len)
		len = size - off;
	if ((rc = astra__buf_grow(out, (size_t)len)) != 0)
		goto done;
	char *dst = out->ptr + out->size;
	uint64_t got = 0;
	while (got < len) {
		ssize_t r = pread(
		        fd, dst + got, (size_t)(len - got), (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = astra__err_os("cannot read %s", path);
			goto done;
		}
		if (r == 0) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
			        "object %s was truncated while reading", key);
			goto done;
		}
		got += (uint64_t)r;
	}
	out->size += (size_t)len;
	out->ptr[out->size] = '\0';
done:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int fs_head(astra__store *st, const char *key, astra__obj_info *info)
{
	fs_store *s = (fs_store *)st;
	if (!valid_key(key))
		return bad_key(key);
	char *path = path_of(s, key);
	if (!path)
		return ASTRA_ENOMEM;
	struct stat sb;
	int rc = 0;
	if (stat(path, &sb) != 0)
		rc = errno == ENOENT
		             ? astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		                       "object %s not found", key)
		             : astra__err_os("cannot stat %s", path);
	else if (info) {
		memset(info, 0, sizeof(*info));
		info->key = key;
		info->size = (uint64_t)sb.st_size;
		info->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
		                 sb.st_mtim.tv_nsec;
	}
	free(path);
	return rc;
}

static int walk(fs_store *s, astra_buf *rel, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	char *dir = rel->size ? astra__aprintf("%s/%s", s->root, rel->ptr)
	                      : astra__strdup(s->root);
	if (!dir)
		return ASTRA_ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		int rc = errno == ENOENT ? 0
		                         : astra__err_os("cannot list %s", dir);
		free(dir);
		return rc;
	}
	int rc = 0;
	struct dirent *e;
	size_t base = rel->size;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' &&
		        (!e->d_name[1] ||
		                (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (strstr(e->d_name, TMP_MARK))
			continue;
		rel->size = base;
		if (base)
			astra__buf_putc(rel, '/');
		astra__buf_puts(rel, e->d_name);
		/* prune: the relative path and the prefix must agree */
		size_t cmp =
		        rel->size < strlen(prefix) ? rel->size : strlen(prefix);
		if (strncmp(rel->ptr, prefix, cmp) != 0)
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* removed meanwhile */
		if (S_ISDIR(sb.st_mode)) {
			rc = walk(s, rel, prefix, cb, payload);
		} else if (S_ISREG(sb.st_mode) &&
		           strncmp(rel->ptr, prefix, strlen(prefix)) == 0) {
			astra__obj_info info;
			memset(&info, 0, sizeof(info));
			info.key = rel->ptr;
			info.size = (uint64_t)sb.st_size;
			info.mtime_ns =
			        (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
			        sb.st_mtim.tv_nsec;
			rc = cb(&info, payload);
		}
	}
	rel->size = base;
	if (rel->ptr)
		rel->ptr[base] = '\0';
	closedir(d);
	free(dir);
	return rc;
}

static int fs_list(astra__store *st, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	astra_buf rel = ASTRA_BUF_INIT;
	int rc = astra__buf_grow(&rel, 256);
	if (rc)
		return rc;
	rc = walk((fs_store *)st, &rel, prefix ? prefix : "", cb, payload);
	astra_buf_dispose(&rel);
	return rc;
}

static int fs_del(astra__store *st, const char *key)
{
	fs_store *s = (fs_store *)st;
	if (!valid_key(key))
		return bad_key(key);
	char *path = path_of(s, key);
	if (!path)
		return ASTRA_ENOMEM;
	int rc = 0;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = astra__err_os("cannot delete %s", path);
	else
		rc = fsync_dir_of(path);
	free(path);
	return rc;
}

static void fs_free(astra__store *st)
{
	fs_store *s = (fs_store *)st;
	free(s->root);
	free(s->base.url);
	free(s);
}

static const astra__store_ops fs_ops = {
	fs_put, fs_get, fs_head, fs_list, fs_del, NULL, fs_free, NULL, NULL,
	NULL, /* job credentials: not narrowed */
};

int astra__store_fs_open(
        astra__store **out, const char *path, const astra__store_opts *opts)
{
	*out = NULL;
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT || !opts || !opts->create)
			return astra__err(astra__errno_code(errno),
			        ASTRA_ERROR_STORE, "vault file://%s: %s", path,
			        errno == ENOENT ? "no such directory"
			                        : strerror(errno));
		char *p = astra__aprintf("%s/", path);
		if (!p)
			return ASTRA_ENOMEM;
		int r = mkdirs(p);
		free(p);
		if (r != 0)
			return astra__err_os(
			        "vault file://%s: cannot create", path);
	} else if (!S_ISDIR(sb.st_mode)) {
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault file://%s: not a directory", path);
	}
	fs_store *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	s->root = astra__strdup(path);
	size_t n = s->root ? strlen(s->root) : 0;
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
	s->base.url = astra__aprintf("file://%s", s->root ? s->root : "");
	if (!s->root || !s->base.url) {
		fs_free(&s->base);
		return ASTRA_ENOMEM;
	}
	s->base.ops = &fs_ops;
	s->base.caps = ASTRA_STORE_CAP_CONDITIONAL;
	*out = &s->base;
	return 0;
}

/* The directory of a file:// URL: file:///dir or file://localhost/dir;
 * NULL when it is not an absolute path. */
static const char *url_path(const char *url)
{
	const char *path = url + 7; /* "file://" */
	if (strncmp(path, "localhost/", 10) == 0)
		path += 9;
	return path[0] == '/' ? path : NULL;
}

static int fs_url_open(
        astra__store **out, const char *url, const astra__store_opts *opts)
{
	const char *path = url_path(url);
	if (!path)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: a file:// URL needs an absolute "
		        "path (file:///dir)",
		        url);
	return astra__store_fs_open(out, path, opts);
}

static int fs_local_dir(const char *url, char **out)
{
	const char *path = url_path(url);
	*out = NULL;
	if (!path)
		return 0;
	*out = astra__strdup(path);
	return *out ? 0 : ASTRA_ENOMEM;
}

const astra__store_backend astra__store_fs_backend = {
	.scheme = "file://",
	.open = fs_url_open,
	.ops = &fs_ops,
	.local_dir = fs_local_dir,
};
