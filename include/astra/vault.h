/*
 * libastra - vaults: deduplicated, compressed, encrypted repositories on an
 * object store, and the data mover that backs up and restores directory
 * trees, block devices and image files into them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_VAULT_H
#define ASTRA_VAULT_H

/**
 * @file astra/vault.h
 * @defgroup astra_vault Vaults and the data mover
 * @{
 */

#include "astra/common.h"

ASTRA_BEGIN_DECL

/** An open vault. One thread at a time; different vaults in parallel. */
typedef struct astra_vault astra_vault;

/* ------------------------------------------------------------------ */
/* Opening and creating                                                */
/* ------------------------------------------------------------------ */

/** astra_vault_options.flags */
#define ASTRA_VAULT_F_KEY_FILE 0x1u /**< the secret is a key file */
/** astra_vault_change_password only: start a new key epoch (a new master
 *  key; the vault's small sealed objects rewritten under it; every other
 *  key slot removed). See docs/format.md, "Key epochs". */
#define ASTRA_VAULT_F_REKEY 0x2u

typedef struct {
	unsigned int version;
	/** The secret: a password (NUL-terminated), or with password_file
	 *  the path of a file holding it (a trailing newline is ignored).
	 *  One of the two is required. Copied; wiped after use. */
	const char *password;
	const char *password_file;
	/** ASTRA_VAULT_F_* */
	unsigned int flags;
	/** astra_vault_init and astra_vault_change_password: scrypt memory
	 *  cost per lane as log2(N), 1 to 30; 0 = 16 (64 MiB per lane at
	 *  r = 8). The work is N * p; see kdf_p. */
	unsigned int kdf_log2n;
	/** astra_vault_init only: zstd level for new data; 0 = 3. Negative
	 *  levels are faster; < 0 also allowed. */
	int compression_level;
	/** astra_vault_init only: chunk sizes in bytes; 0 = defaults
	 *  (128 KiB / 512 KiB / 8 MiB). avg must be a power of two. */
	size_t chunk_min, chunk_avg, chunk_max;
	/** astra_vault_init only: target pack size; 0 = 16 MiB. */
	size_t pack_size;
	/** Worker threads for backup and restore; 0 = one per CPU. */
	unsigned int threads;
	/* v2 */
	/** astra_vault_init only: make the vault immutable. Every object it
	 *  writes is locked (S3 Object Lock) for this many days, and each
	 *  backup keeps the data it references locked as long as itself;
	 *  0 = not immutable. Needs a bucket with versioning and object lock
	 *  (ASTRA_ENOTSUPPORTED otherwise, naming what is missing). */
	unsigned int immutable_days;
	/** astra_vault_init only: ASTRA_VAULT_LOCK_*; 0 = compliance. */
	unsigned int lock_mode;
	/* v3 */
	/** astra_vault_init and astra_vault_change_password: scrypt
	 *  parallelism p, 1 to 64: p lanes of N * 1 KiB (r = 8) each, computed
	 *  on up to min(p, CPUs) threads; 0 = 2. Older option versions get
	 *  the default. */
	unsigned int kdf_p;
} astra_vault_options;

/** astra_vault_options.lock_mode */
#define ASTRA_VAULT_LOCK_COMPLIANCE 1u /**< nobody can delete early */
#define ASTRA_VAULT_LOCK_GOVERNANCE 2u /**< privileged users can */

#define ASTRA_VAULT_OPTIONS_VERSION 3
#define ASTRA_VAULT_OPTIONS_INIT            \
	{                                   \
		ASTRA_VAULT_OPTIONS_VERSION \
	}

/** Initialises opts with defaults for the given version. */
ASTRA_API astra_status astra_vault_options_init(
        astra_vault_options *opts, unsigned int version);

/**
 * Creates a new vault at `url` (file:///dir, the directory is created;
 * s3://bucket/prefix, see docs/s3.md; or azure://container/prefix, see
 * docs/azure.md) and opens it. Fails with
 * ASTRA_EEXISTS when a vault is already there.
 */
ASTRA_API astra_status astra_vault_init(astra_vault **out, const char *url,
        const astra_vault_options *opts) ASTRA_WARN_UNUSED;

/**
 * Opens an existing vault. ASTRA_ENOTFOUND when `url` holds no vault,
 * ASTRA_EAUTH for a wrong password or key, ASTRA_EVERSION for a vault
 * written by a newer format version.
 */
ASTRA_API astra_status astra_vault_open(astra_vault **out, const char *url,
        const astra_vault_options *opts) ASTRA_WARN_UNUSED;

/** Closes the vault, wiping its keys from memory. NULL is ok. */
ASTRA_API void astra_vault_free(astra_vault *vault);

/**
 * Replaces the secret that opened the vault with a new one. The master key
 * is re-wrapped; no data is rewritten. With ASTRA_VAULT_F_REKEY in
 * new_secret->flags, a new master key is made instead (a new key epoch):
 * snapshot records, index files, app-backup records, repair records and
 * gc markers are rewritten under it, and every other key slot is
 * removed, so that an old secret with a saved old key slot reads nothing
 * written from then on (packs stay under the key they were written with;
 * docs/format.md, "Key epochs", says exactly what stays readable).
 * Refused (ASTRA_ENOTSUPPORTED) for an immutable vault. A rekey that
 * stops half-way leaves a vault the new secret opens completely; run it
 * again to finish. Close the handle after a failed rekey.
 */
ASTRA_API astra_status astra_vault_change_password(astra_vault *vault,
        const astra_vault_options *new_secret) ASTRA_WARN_UNUSED;

/**
 * Describes the vault as JSON: {"url", "vault_id", "format", "chunker",
 * "compression", "pack_size", "snapshots", "packs", "blobs",
 * "stored_bytes", "key_epoch"} ("key_epoch": 0 before the first rekey,
 * then how many rekeys), and for an immutable vault "immutability":
 * {"days", "mode"}.
 */
ASTRA_API astra_status astra_vault_info(
        astra_vault *vault, astra_buf *json_out) ASTRA_WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Data backup and restore                                             */
/* ------------------------------------------------------------------ */

/** astra_data_backup_options.flags */
#define ASTRA_DATA_BACKUP_F_NO_PARENT 0x1u /**< re-read every file */
#define ASTRA_DATA_BACKUP_F_NO_SCAN 0x2u /**< no totals before starting */
/** Deprecated names of ASTRA_DATA_BACKUP_F_* (kept until the SONAME
 *  changes; ASTRA_BACKUP_F_ read as flags of astra_backup_options). */
#define ASTRA_BACKUP_F_NO_PARENT ASTRA_DATA_BACKUP_F_NO_PARENT
#define ASTRA_BACKUP_F_NO_SCAN ASTRA_DATA_BACKUP_F_NO_SCAN

typedef struct {
	unsigned int version;
	/** Tags as "key=value" strings; copied into the record. */
	const char *const *tags;
	size_t ntags;
	/** Parent snapshot id for incremental backups; NULL = the latest
	 *  snapshot of the same source and host. */
	const char *parent;
	/** Source name recorded; NULL = the absolute path. */
	const char *source;
	unsigned int flags;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_data_backup_options;

#define ASTRA_DATA_BACKUP_OPTIONS_VERSION 1
#define ASTRA_DATA_BACKUP_OPTIONS_INIT            \
	{                                         \
		ASTRA_DATA_BACKUP_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_data_backup_options_init(
        astra_data_backup_options *opts, unsigned int version);

/** What a backup did. The caller sets `version`. */
typedef struct {
	unsigned int version;
	char id[33]; /**< the new snapshot's id */
	uint64_t files; /**< regular files in the snapshot */
	uint64_t dirs;
	uint64_t files_unchanged; /**< not read again (parent) */
	uint64_t bytes_total; /**< logical bytes of all files */
	uint64_t bytes_read; /**< bytes read from the source */
	uint64_t bytes_new; /**< plaintext bytes of new chunks */
	uint64_t bytes_stored; /**< bytes written to the store */
	uint64_t errors; /**< items that could not be read */
	double duration_s;
} astra_data_backup_result;

#define ASTRA_DATA_BACKUP_RESULT_VERSION 1

/**
 * Backs up a directory tree, a regular file or a block device at `path`.
 * Unchanged files of the parent snapshot are not read again. Items that
 * cannot be read are skipped and reported through the log; the backup is
 * then recorded and the call returns ASTRA_EPARTIAL. Cancellation (token
 * or callback) and failures record no snapshot; data already stored is
 * reused by the next backup.
 *
 * @param result may be NULL.
 */
ASTRA_API astra_status astra_vault_backup_path(astra_vault *vault,
        const char *path, const astra_data_backup_options *opts,
        astra_data_backup_result *result) ASTRA_WARN_UNUSED;

/** astra_data_restore_options.flags */
#define ASTRA_DATA_RESTORE_F_NO_OWNER 0x1u /**< do not restore uid/gid */
#define ASTRA_DATA_RESTORE_F_NO_XATTRS 0x2u /**< no extended attributes */
/** Restore into a target that is not empty: what is in the way of an item
 * (a file, a link, a special file, a symlink where a directory goes) is
 * removed first, never followed or written through; directories in the
 * way of a non-directory stay and are reported. */
#define ASTRA_DATA_RESTORE_F_OVERWRITE 0x4u
/** Also recreate character and block device nodes. */
#define ASTRA_DATA_RESTORE_F_DEVICES 0x8u
/** Make the target equal the snapshot: implies OVERWRITE, and in every
 * directory the snapshot describes, entries it does not list are removed
 * (whole subtrees, never followed), as is a directory in the way of a
 * non-directory. An empty `lost+found` at the top of the target stays. */
#define ASTRA_DATA_RESTORE_F_DELETE_EXTRAS 0x10u
/** Deprecated: ASTRA_DATA_RESTORE_F_NO_OWNER. */
#define ASTRA_RESTORE_F_NO_OWNER ASTRA_DATA_RESTORE_F_NO_OWNER
/** Deprecated: ASTRA_DATA_RESTORE_F_NO_XATTRS. */
#define ASTRA_RESTORE_F_NO_XATTRS ASTRA_DATA_RESTORE_F_NO_XATTRS

typedef struct {
	unsigned int version;
	/** Restore only this path inside the snapshot; NULL = all. */
	const char *subpath;
	unsigned int flags;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_data_restore_options;

#define ASTRA_DATA_RESTORE_OPTIONS_VERSION 1
#define ASTRA_DATA_RESTORE_OPTIONS_INIT            \
	{                                          \
		ASTRA_DATA_RESTORE_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_data_restore_options_init(
        astra_data_restore_options *opts, unsigned int version);

typedef struct {
	unsigned int version;
	uint64_t files;
	uint64_t dirs;
	uint64_t bytes; /**< logical bytes written */
	uint64_t errors; /**< items that could not be restored */
	double duration_s;
} astra_data_restore_result;

#define ASTRA_DATA_RESTORE_RESULT_VERSION 1

/**
 * Restores snapshot `id` (or a unique prefix of it) into `target`, a
 * directory that is created when missing. `target` itself must not be a
 * symlink (ASTRA_EINVALID). An existing target must be an empty directory
 * (an empty `lost+found` is allowed), else ASTRA_EEXISTS before anything
 * is written, unless ASTRA_DATA_RESTORE_F_OVERWRITE: then items of the
 * snapshot replace what is in their way and nothing else is deleted;
 * with ASTRA_DATA_RESTORE_F_DELETE_EXTRAS, what the snapshot does not hold
 * is deleted too, so the tree equals the snapshot.
 * Nothing outside `target` is created, followed or changed: unsafe names
 * and hard links that lead outside it are refused and reported.
 * setuid, setgid and sticky bits and `security.capability` are restored
 * only with the owner (as root, without NO_OWNER); device nodes only with
 * ASTRA_DATA_RESTORE_F_DEVICES (else reported as skipped).
 * Every chunk is verified. A damaged snapshot restores all that is intact
 * and returns ASTRA_EPARTIAL; `report` (may be NULL) receives a JSON array
 * of {"path", "error"} for the items that failed or were refused.
 */
ASTRA_API astra_status astra_vault_restore_path(astra_vault *vault,
        const char *id, const char *target,
        const astra_data_restore_options *opts,
        astra_data_restore_result *result, astra_buf *report) ASTRA_WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Snapshots, check and garbage collection                             */
/* ------------------------------------------------------------------ */

/**
 * Lists the data snapshots as a JSON array, oldest first, of records:
 * {"id", "time", "host", "source", "tags", "parent", "tree", "stats"}.
 */
ASTRA_API astra_status astra_vault_snapshots(
        astra_vault *vault, astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * Forgets a snapshot (by id or unique prefix). Its data is reclaimed by a
 * later astra_vault_gc(). In an immutable vault, a snapshot still under
 * retention cannot be forgotten: ASTRA_EPOLICY, and nothing is removed.
 */
ASTRA_API astra_status astra_vault_forget(
        astra_vault *vault, const char *id) ASTRA_WARN_UNUSED;

#define ASTRA_CHECK_F_READ_DATA 0x1u /**< decrypt and verify every blob */

typedef struct {
	unsigned int version;
	unsigned int flags;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_check_options;

#define ASTRA_CHECK_OPTIONS_VERSION 1
#define ASTRA_CHECK_OPTIONS_INIT            \
	{                                   \
		ASTRA_CHECK_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_check_options_init(
        astra_check_options *opts, unsigned int version);

/**
 * Checks the vault's structure (every reference resolves) and, with
 * ASTRA_CHECK_F_READ_DATA, every blob's integrity. `report` receives JSON:
 * {"ok", "snapshots", "trees", "blobs", "packs", "damaged": [{"object",
 * "error", "snapshots": [...]}], "unreferenced_packs"}. Returns
 * ASTRA_ECORRUPT when anything is damaged or missing.
 */
ASTRA_API astra_status astra_vault_check(astra_vault *vault,
        const astra_check_options *opts, astra_buf *report) ASTRA_WARN_UNUSED;

#define ASTRA_GC_F_DRY_RUN 0x1u

typedef struct {
	unsigned int version;
	unsigned int flags;
	/** Data unreferenced for less than this is kept, so that backups
	 *  running concurrently stay safe; default 3600. */
	int64_t grace_seconds;
	/** Packs whose live part is below this percentage are repacked;
	 *  default 50. */
	unsigned int repack_threshold;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_gc_options;

#define ASTRA_GC_OPTIONS_VERSION 1
#define ASTRA_GC_OPTIONS_INIT                         \
	{                                             \
		ASTRA_GC_OPTIONS_VERSION, 0, 3600, 50 \
	}

ASTRA_API astra_status astra_gc_options_init(
        astra_gc_options *opts, unsigned int version);

/**
 * Removes data no snapshot references, in two phases separated by the
 * grace period (see docs/format.md, "Garbage collection"): a run marks
 * unreferenced packs and deletes those marked by an earlier run at least
 * `grace_seconds` ago, once no backup that started before the mark is
 * still running. `report` receives JSON with what was marked and deleted.
 */
ASTRA_API astra_status astra_vault_gc(astra_vault *vault,
        const astra_gc_options *opts, astra_buf *report) ASTRA_WARN_UNUSED;

typedef struct {
	unsigned int version;
	unsigned int flags; /**< none yet; 0 */
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_repair_options;

#define ASTRA_REPAIR_OPTIONS_VERSION 1
#define ASTRA_REPAIR_OPTIONS_INIT            \
	{                                    \
		ASTRA_REPAIR_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_repair_options_init(
        astra_repair_options *opts, unsigned int version);

/**
 * Indexes the blobs of every pack again from the packs' sealed headers
 * (docs/format.md, "Repair"): writes one new index file with every blob
 * that no readable index file locates in a pack on the store, and, when
 * damaged index files were found, a repairs/<id> record naming them so
 * that astra_vault_gc() proceeds. Deletes nothing. Do not run it while a
 * gc runs. `report` receives JSON: {"ok", "packs", "blobs_indexed",
 * "damaged_index_count", "damaged_index_files": [...], "unreadable_packs":
 * [{"pack", "error"}], "record", "missing": [{"object", "error",
 * "snapshots"}]} ("missing" as astra_vault_check reports it). Returns
 * ASTRA_ECORRUPT when a pack header cannot be read or a snapshot still
 * misses objects; the report is filled then too. Not thread-safe with
 * other calls on the same handle.
 */
ASTRA_API astra_status astra_vault_repair(astra_vault *vault,
        const astra_repair_options *opts, astra_buf *report) ASTRA_WARN_UNUSED;

/** astra_replicate_options.flags */
#define ASTRA_REPLICATE_F_DRY_RUN 0x1u /**< report what would be copied */

typedef struct {
	unsigned int version;
	unsigned int flags; /**< ASTRA_REPLICATE_F_* */
	/** Objects copied at once; 0: the stores' request depth, at least 4
	 *  (at most 64). */
	unsigned int parallel;
	astra_progress_cb progress_cb;
	void *payload;
	astra_cancel *cancel;
} astra_replicate_options;

#define ASTRA_REPLICATE_OPTIONS_VERSION 1
#define ASTRA_REPLICATE_OPTIONS_INIT            \
	{                                       \
		ASTRA_REPLICATE_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_replicate_options_init(
        astra_replicate_options *opts, unsigned int version);

/**
 * Makes the store at `target_url` a replica of the vault: copies what it
 * lacks (docs/format.md, "Replication") in the order of the writing
 * protocol (config, key slots, packs, index files, snapshot records,
 * app-backup records), in parallel, so that the replica is consistent at
 * every moment and a killed run resumes where it stopped. The replica has
 * the vault's keys: it opens with the same password. Nothing is deleted
 * from it except key slots the vault no longer has; its own gc reclaims
 * space. An immutable vault needs an immutable replica (objects keep
 * their retention). A target holding another vault fails with
 * ASTRA_EEXISTS, an object of different size in the replica with
 * ASTRA_ECORRUPT. `report` receives JSON: {"target", "vault_id",
 * "dry_run", "copied" (or "would_copy"): {"config", "key_slots",
 * "key_epochs", "packs",
 * "index_files", "snapshots", "app_backups"}, "bytes", "present",
 * "key_slots_removed", "rounds", "damaged": [{"object", "error"}]} (objects
 * of the vault that failed verification and were not copied: the call
 * then returns ASTRA_ECORRUPT after copying the rest).
 */
ASTRA_API astra_status astra_vault_replicate(astra_vault *vault,
        const char *target_url, const astra_replicate_options *opts,
        astra_buf *report) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */
#endif
