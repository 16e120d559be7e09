#include "fstree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

char *fst_tmpdir(const char *tag)
{
	const char *t = getenv("TMPDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/astra-%s-XXXXXX", t && *t ? t : "/tmp", tag);
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static int rm_cb(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return 0;
	if (S_ISDIR(sb.st_mode)) {
		chmod(path, 0700);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[8192];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_cb(sub);
		}
		if (d)
			closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

void fst_rmrf(const char *path)
{
	if (path)
		rm_cb(path);
}

void fst_write(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
		perror(path);
		abort();
	}
	close(fd);
}

void fst_fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ (seed * 0xbf58476d1ce4e5b9ULL);
	if (!x)
		x = 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

void fst_write_random(const char *path, size_t n, uint64_t seed)
{
	void *b = malloc(n ? n : 1);
	fst_fill(b, n, seed);
	fst_write(path, b, n);
	free(b);
}

static void pathf(char *out, const char *root, const char *rel)
{
	snprintf(out, 4096, "%s/%s", root, rel);
}

void fst_make_rich_tree(const char *root)
{
	char p[4096], q[4096];
	pathf(p, root, "dir");
	mkdir(p, 0755);
	pathf(p, root, "dir/sub");
	mkdir(p, 0750);
	pathf(p, root, "empty");
	mkdir(p, 0700);
	pathf(p, root, "dir/random.bin");
	fst_write_random(p, 3 * 1024 * 1024 + 17, 1);
	pathf(p, root, "dir/sub/text.log");
	{
		FILE *f = fopen(p, "w");
		for (int i = 0; i < 50000; i++)
			fprintf(f,
			        "2026-11-22T00:00:%02d level=info msg=\"request %d done\"\n",
			        i % 60, i);
		fclose(f);
	}
	pathf(p, root, "zero-length");
	fst_write(p, "", 0);
	pathf(p, root, "mode-600");
	fst_write(p, "secret\n", 7);
	chmod(p, 0600);
	pathf(p, root, "exec.sh");
	fst_write(p, "#!/bin/sh\necho hi\n", 18);
	chmod(p, 0755);
	/* sparse: 64 MiB with data at 1 MiB and 40 MiB */
	pathf(p, root, "sparse.img");
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char buf[65536];
		fst_fill(buf, sizeof(buf), 9);
		pwrite(fd, buf, sizeof(buf), 1 << 20);
		pwrite(fd, buf, sizeof(buf), 40 << 20);
		ftruncate(fd, 64 << 20);
		close(fd);
	}
	pathf(p, root, "link-rel");
	symlink("dir/random.bin", p);
	pathf(p, root, "link-dangling");
	symlink("/nonexistent/target", p);
	pathf(p, root, "dir/sub/text.log");
	pathf(q, root, "hardlink.log");
	link(p, q);
	pathf(p, root, "fifo");
	mkfifo(p, 0640);
	pathf(p, root, "dir/random.bin");
	setxattr(p, "user.astra.test", "value-1", 7, 0);
	pathf(p, root, "bad-\xff\xfe-name");
	fst_write(p, "latin1 name\n", 12);
	/* distinctive times */
	struct timespec ts[2] = { { 1000000000, 123456789 },
		{ 1500000000, 987654321 } };
	pathf(p, root, "mode-600");
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
	pathf(p, root, "link-rel");
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
	pathf(p, root, "dir/sub");
	utimensat(AT_FDCWD, p, ts, 0);
}

long long fst_blocks(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 ? (long long)sb.st_blocks : -1;
}

static int same_content(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	char x[65536], y[65536];
	while (same) {
		size_t na = fread(x, 1, sizeof(x), fa);
		size_t nb = fread(y, 1, sizeof(y), fb);
		if (na != nb || memcmp(x, y, na))
			same = 0;
		if (na == 0)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static int cmp_xattrs(const char *a, const char *b)
{
	char la[4096], lb[4096];
	ssize_t na = llistxattr(a, la, sizeof(la));
	ssize_t nb = llistxattr(b, lb, sizeof(lb));
	if (na < 0)
		na = 0;
	if (nb < 0)
		nb = 0;
	if (na != nb)
		return 1;
	for (ssize_t i = 0; i < na; i += (ssize_t)strlen(la + i) + 1) {
		char va[4096], vb[4096];
		ssize_t xa = lgetxattr(a, la + i, va, sizeof(va));
		ssize_t xb = lgetxattr(b, la + i, vb, sizeof(vb));
		if (xa != xb || (xa > 0 && memcmp(va, vb, (size_t)xa)))
			return 1;
	}
	return 0;
}

static int cmp_node(const char *a, const char *b, int top)
{
	struct stat sa, sb;
	if (lstat(a, &sa) || lstat(b, &sb)) {
		fprintf(stderr, "treecmp: missing %s or %s\n", a, b);
		return 1;
	}
	if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
		fprintf(stderr, "treecmp: type differs: %s\n", b);
		return 1;
	}
	if (!top && !S_ISLNK(sa.st_mode) &&
	        (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
		fprintf(stderr, "treecmp: mode %o != %o: %s\n",
		        sa.st_mode & 07777, sb.st_mode & 07777, b);
		return 1;
	}
	if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) {
		fprintf(stderr, "treecmp: owner differs: %s\n", b);
		return 1;
	}
	if (!top && (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	                    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
		fprintf(stderr, "treecmp: mtime differs: %s\n", b);
		return 1;
	}
	if (cmp_xattrs(a, b)) {
		fprintf(stderr, "treecmp: xattrs differ: %s\n", b);
		return 1;
	}
	if (S_ISREG(sa.st_mode)) {
		if (sa.st_size != sb.st_size || !same_content(a, b)) {
			fprintf(stderr, "treecmp: content differs: %s\n", b);
			return 1;
		}
		/* holes stay holes (allow a little filesystem slack) */
		if (sb.st_blocks > sa.st_blocks + 64) {
			fprintf(stderr,
			        "treecmp: %s uses %lld blocks, source %lld\n",
			        b, (long long)sb.st_blocks,
			        (long long)sa.st_blocks);
			return 1;
		}
	} else if (S_ISLNK(sa.st_mode)) {
		char ta[4096] = { 0 }, tb[4096] = { 0 };
		readlink(a, ta, sizeof(ta) - 1);
		readlink(b, tb, sizeof(tb) - 1);
		if (strcmp(ta, tb)) {
			fprintf(stderr, "treecmp: link target differs: %s\n",
			        b);
			return 1;
		}
	} else if (S_ISDIR(sa.st_mode)) {
		DIR *d = opendir(a);
		struct dirent *e;
		int n = 0, rc = 0;
		while (d && (e = readdir(d)) && !rc) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			n++;
			char ca[4096], cb[4096];
			snprintf(ca, sizeof(ca), "%s/%s", a, e->d_name);
			snprintf(cb, sizeof(cb), "%s/%s", b, e->d_name);
			rc = cmp_node(ca, cb, 0);
		}
		if (d)
			closedir(d);
		if (rc)
			return rc;
		d = opendir(b);
		int m = 0;
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				m++;
		if (d)
			closedir(d);
		if (n != m) {
			fprintf(stderr,
			        "treecmp: %s has %d entries, source %d\n", b, m,
			        n);
			return 1;
		}
	}
	return 0;
}

int fst_compare(const char *a, const char *b)
{
	return cmp_node(a, b, 1);
}
