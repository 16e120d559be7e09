/*
 * The data mover: backup and restore of directory trees and images, check
 * and garbage collection, and writer sessions (for gc's grace protocol).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_DATA_H
#define ASTRA_REPO_DATA_H

#include "astra/vault.h"
#include "repo/repo.h"

typedef struct {
	const char *const *tags;
	size_t ntags;
	const char *parent;
	const char *source;
	unsigned flags; /* ASTRA_BACKUP_F_* */
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra__backup_params;

typedef struct {
	char id[33];
	uint64_t files, dirs, unchanged, bytes_total, bytes_read, bytes_new,
	        bytes_stored, errors;
	/* parent nodes reused as they were, parent trees reused whole */
	uint64_t nodes_reused, trees_reused;
	double duration_s;
} astra__backup_out;

int astra__data_backup(astra__repo *r, const char *path,
        const astra__backup_params *p, astra__backup_out *out);

typedef struct {
	const char *subpath;
	unsigned flags; /* ASTRA_DATA_RESTORE_F_* */
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
	/* tests: walk below the target component by component, as on a
	 * kernel without openat2 */
	int no_openat2;
} astra__restore_params;

typedef struct {
	uint64_t files, dirs, bytes, errors;
	double duration_s;
	astra__json *report; /* [{"path","error"}], owned by the caller */
} astra__restore_out;

int astra__data_restore(astra__repo *r, const char *id, const char *target,
        const astra__restore_params *p, astra__restore_out *out);

/*
 * Writer sessions: sessions/<id> objects that gc respects (docs/format.md,
 * "Garbage collection"). A session keeps its start time in memory and
 * refreshes its heartbeat from a thread of its own every
 * ASTRA__SESSION_HEARTBEAT_S seconds until it ends.
 */
#define ASTRA__SESSION_HEARTBEAT_S 60
#define ASTRA__SESSION_TIMEOUT_S 3600 /* gc: older heartbeats are dead */
#define ASTRA__SESSION_MARGIN_S 300 /* clock skew a writer allows for */
typedef struct astra__session astra__session;
int astra__data_session_start(astra__repo *r, astra__session **out);
/* Writes a heartbeat now (with the start kept in memory); notes when gc
 * removed the session. Keeps the caller's error state. */
void astra__data_session_refresh(astra__session *s);
/* 0 unless gc removed the session (then an error naming it). No I/O. */
int astra__data_session_ok(astra__session *s);
/* Right before a record is written: a heartbeat, then 0 only when the
 * session still exists and never went longer than the session timeout
 * (less the margin) without a heartbeat; else an error naming it. */
int astra__data_session_verify(astra__session *s);
const char *astra__data_session_key(const astra__session *s);
int64_t astra__data_session_start_time(const astra__session *s);
/* Stops the heartbeat, deletes the object, frees s (NULL is fine). Keeps
 * the caller's error state. */
void astra__data_session_end(astra__session *s);

int astra__data_check(
        astra__repo *r, int read_data, astra__op *op, astra__json **report);
/*
 * Checks only what the data snapshots `snaps` (ids or unique prefixes) and
 * the blobs `blobs` need, not the rest of the vault: each snapshot record,
 * its trees (read and verified), and every pack holding one of their
 * blobs, read once: its header must open and each needed blob in it must
 * decrypt and verify. *report: {"ok", "snapshots", "trees", "blob_refs",
 * "blobs" (verified), "packs" (read), "bytes" (of the packs read),
 * "damaged": [{"object", "error", "snapshots"}]}; a damaged blob, and a
 * tree that does not load, are reported as their pack ("pack data/xx/<id>")
 * with the blob in "error". ASTRA_ECORRUPT (the report filled) when
 * anything is damaged or missing.
 */
int astra__data_check_some(astra__repo *r, const char *const *snaps,
        size_t nsnaps, const astra__id *blobs, size_t nblobs, astra__op *op,
        astra__json **report);

typedef struct {
	int dry_run;
	int64_t grace_seconds;
	unsigned repack_threshold;
	int64_t session_timeout_seconds; /* sessions older are dead */
} astra__gc_params;

int astra__data_gc(astra__repo *r, const astra__gc_params *p, astra__op *op,
        astra__json **report);

/* Reads the sealed header of pack `hex` (size: its size on the store, or
 * 0 to ask the store) into *out (n entries, pack = ASTRA_PACK_NONE; the
 * caller frees *out). ASTRA_ECORRUPT naming the pack when it cannot be
 * read; ASTRA_ENOTFOUND when the pack is gone. */
int astra__pack_read_header(astra__repo *r, const char *hex, uint64_t size,
        astra__idx_entry **out, size_t *n);
/* The same from a pack already in memory (`size` bytes): no request. */
int astra__pack_parse_header(astra__repo *r, const char *hex, const void *pack,
        size_t size, astra__idx_entry **out, size_t *n);
/* Appends {"pack": hex, "error": <the last error's message>} to the array
 * `unreadable` (a pack whose header cannot be read) and clears the error:
 * 0, or ASTRA_ENOMEM (the error kept) or the append's error. */
int astra__pack_note_unreadable(astra__json *unreadable, const char *hex);

/* Repair (docs/format.md, "Repair"): a new index file for every blob of
 * a readable pack header that no readable index file locates, and a
 * repairs/<id> record naming the damaged index files; deletes nothing. */
int astra__data_repair(astra__repo *r, astra__op *op, astra__json **report);

#endif
