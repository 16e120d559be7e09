/*
 * Private to the backup side of the data mover (backup.c, backup_chunk.c,
 * backup_walk.c): the state of one backup run and the steps the files
 * share. Nothing outside lib/repo/backup*.c includes it.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_BACKUP_INTERNAL_H
#define ASTRA_REPO_BACKUP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

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

/* backup_chunk.c: entry opening, reading and chunking, pending
 * directories. Each is documented at its definition. */
int astra__bk_item_error(bk *b, const char *rel, const char *what);
const char *astra__bk_kind_of(mode_t m);
int astra__bk_open_entry(int dfd, const char *name, const char *abs,
        struct stat *sb, int flags, const char *rel);
void astra__bk_segs_free(bk *b);
int astra__bk_check(bk *b);
int astra__bk_file_size_of(int fd, const struct stat *sb, uint64_t *size);
int astra__bk_chunk_file(
        bk *b, file_job *job, int fd, const struct stat *sb, const char *rel);
int astra__bk_add_xattrs(astra__json *node, const char *path);
int astra__bk_reference_chunks(bk *b, const astra__json *ex);
const astra__json *astra__bk_unchanged_content(
        bk *b, const astra__json *pnode, const struct stat *sb);
int astra__bk_finish_job(file_job *job);
void astra__bk_free_job(file_job *job);
void astra__bk_wait_dir(bk *b, pdir *pd);
void astra__bk_free_pdir(pdir *pd);
int astra__bk_drain(bk *b, size_t keep);
void astra__bk_discard_from(bk *b, size_t from);

/* backup_walk.c: the directory walk and the parent-snapshot reuse. */
int astra__bk_backup_dir(bk *b, int pdfd, const char *name, struct stat *dsb,
        const char *abs, const char *rel, astra__json *ptree, int own_ptree,
        const char *psub, astra__json *dst, int depth);
int astra__bk_backup_single(bk *b, const char *abs, astra__id *root);

#endif
