/*
 * Private to the restore side of the data mover (restore.c,
 * restore_write.c, restore_target.c, restore_meta.c): the state of one
 * restore run and the steps the files share. Nothing outside
 * lib/repo/restore*.c includes it.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_RESTORE_INTERNAL_H
#define ASTRA_REPO_RESTORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

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

/* restore.c: the report. Each is documented at its definition. */
/* Reports the item with `text` as its cause (the report and a warning). */
void astra__rs_report_text(rs *s, const char *rel, const char *text);
void astra__rs_report(rs *s, const char *rel, const char *what);
char *astra__rs_escaped(const char *p, size_t n, int slash);
int astra__rs_overwrite(const rs *s);

/* restore_write.c: chunk runs and the parallel writing of files. */
void astra__rs_file_done(rs *s, rfile *f);
void astra__rs_flush_run(rs *s);
int astra__rs_add_chunk(
        rs *s, rfile *f, uint64_t off, uint32_t len, const astra__idx_entry *e);

/* restore_target.c: creating items beneath the target by descriptor. */
int astra__rs_clear_at(rs *s, int dirfd, const char *name, const char *rel);
int astra__rs_prune_at(
        rs *s, int dirfd, const char *rel, const astra__json *nodes);
int astra__rs_create_file_at(
        rs *s, int dirfd, const char *name, const char *rel, int *fd_out);
int astra__rs_open_dir_at(
        rs *s, int dirfd, const char *name, const char *rel, int *fd_out);
int astra__rs_open_beneath(rs *s, const char *rel);
int astra__rs_note_made(rs *s, int fd, const char *rel);
int astra__rs_open_target(const char *target, unsigned flags, int *fd_out);

/* restore_meta.c: deferred metadata and hard links. */
void astra__rs_apply_meta(rs *s, int fd, int dirfd, const char *name,
        const char *rel, const astra__json *node, int is_link);
int astra__rs_make_link(rs *s, const pending_meta *m);

#endif
