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

/* Writer sessions: sessions/<id> objects that gc respects. */
int astra__data_session_start(astra__repo *r, char *key_out, size_t keylen);
void astra__data_session_refresh(astra__repo *r, const char *key);
void astra__data_session_end(astra__repo *r, const char *key);

int astra__data_check(
        astra__repo *r, int read_data, astra__op *op, astra__json **report);

typedef struct {
	int dry_run;
	int64_t grace_seconds;
	unsigned repack_threshold;
	int64_t session_timeout_seconds; /* sessions older are dead */
} astra__gc_params;

int astra__data_gc(astra__repo *r, const astra__gc_params *p, astra__op *op,
        astra__json **report);

#endif
