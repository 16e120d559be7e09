/*
 * Test helpers: build file trees, compare two trees in content and
 * metadata (modes, owners, times, links, holes, xattrs).
 */
#ifndef ASTRA_TEST_FSTREE_H
#define ASTRA_TEST_FSTREE_H

#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR; returns a malloc'd path. */
char *fst_tmpdir(const char *tag);
void fst_rmrf(const char *path);
void fst_write(const char *path, const void *data, size_t n);
/* deterministic pseudo-random bytes */
void fst_fill(void *buf, size_t n, uint64_t seed);
void fst_write_random(const char *path, size_t n, uint64_t seed);
/* A tree with dirs, text, random data, a sparse file, symlinks, a hard
 * link, a fifo, an xattr, odd modes and times, and a non-UTF-8 name. */
void fst_make_rich_tree(const char *root);
/* 0 when equal; otherwise prints the first difference to stderr. */
int fst_compare(const char *a, const char *b);
/* allocated blocks of a file (for hole checks) */
long long fst_blocks(const char *path);

#endif
