/*
 * The content-addressed, encrypted repository (a "vault") on a store.
 * See docs/format.md for the on-store format this code reads and writes.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_REPO_H
#define ASTRA_REPO_REPO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "core/map.h"
#include "core/op.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "repo/chunker.h"
#include "store/store.h"

#define ASTRA_ID_LEN 32
#define ASTRA_ID_HEX (2 * ASTRA_ID_LEN + 1)

typedef struct {
	uint8_t b[ASTRA_ID_LEN];
} astra__id;

enum { ASTRA_BLOB_DATA = 1, ASTRA_BLOB_TREE = 2 };
#define ASTRA_BLOB_F_ZSTD 0x1u

#define ASTRA_PACK_MAGIC "ASTRAPK1"
#define ASTRA_INDEX_MAGIC "ASTRAIX1"
#define ASTRA_PACK_NONE UINT32_MAX

/* One index entry: at most 64 bytes per unique blob in memory. */
typedef struct {
	astra__id id;
	uint32_t pack; /* index into repo->packs; ASTRA_PACK_NONE: pending */
	uint32_t offset;
	uint32_t length; /* sealed length in the pack */
	uint32_t raw; /* plaintext length */
	uint8_t type;
	uint8_t flags;
	uint8_t used;
	uint8_t pad;
} astra__idx_entry;

typedef struct {
	astra__id id;
	uint8_t condemned; /* listed by a gc marker: not for dedup */
	uint8_t kind; /* ASTRA_BLOB_DATA or _TREE, from its blobs */
} astra__pack_ref;

typedef struct {
	astra__idx_entry *slots;
	size_t cap, n;
	astra__pack_ref *packs;
	size_t npacks, packs_cap;
	astra__map pack_lookup; /* hex id -> index + 1 */
} astra__index;

/* Blob id algorithms (docs/format.md, "Keys and ids"). */
enum {
	ASTRA_BLOB_ID_HMAC_SHA256 = 1, /* "hmac-sha256" */
	ASTRA_BLOB_ID_BLAKE3_KEYED = 2 /* "blake3-keyed" */
};

typedef struct {
	/* secrets */
	const char *password;
	size_t password_len;
	int keyfile; /* the secret is a key file's content, not a password */
	/* init and change of secret */
	unsigned kdf_log2n; /* scrypt N = 2^log2n; 0 = default (16) */
	unsigned kdf_p; /* scrypt lanes p; 0 = default (2) */
	/* init only */
	size_t chunk_min, chunk_avg, chunk_max;
	size_t pack_size;
	int compression_level;
	int create_dir;
	unsigned immutable_days; /* object lock retention; 0 = none */
	unsigned lock_mode; /* ASTRA_STORE_LOCK_*; 0 = compliance */
	/* blob id algorithm of a new vault, "blake3-keyed" (NULL, the
	 * default) or "hmac-sha256" (the only one before; tests) */
	const char *blob_id;
	/* runtime */
	unsigned threads; /* 0 = CPUs */
} astra__repo_opts;

typedef struct astra__repo {
	astra__store *store;
	char *open_url; /* as given to open/init, with its options (mover Jobs)
	                 */
	char vault_id[33];
	int format;
	uint8_t enc_key[32];
	astra__aead *aead; /* enc_key, set up once */
	uint8_t mac_key[32];
	uint8_t chunk_key[32];
	uint8_t master[64]; /* kept to re-wrap on a password change */
	/* key epochs (docs/format.md, "Key epochs"): the masters of the
	 * earlier epochs, oldest first (n_old * 64 bytes; the blob id and
	 * chunker keys come from the oldest), and an AEAD of each one's
	 * K_enc, for what was sealed before the last rekey */
	uint8_t *old_masters;
	size_t n_old;
	astra__aead **old_aead;
	char slot_key[80]; /* the key slot that opened the vault */
	astra__mac *mac; /* HMAC-SHA256 under mac_key */
	int blob_alg; /* ASTRA_BLOB_ID_*, from the params' "blob_id" */
	astra__chunker chunker;
	size_t pack_size;
	int level;
	unsigned threads;
	pthread_rwlock_t lock; /* guards index */
	pthread_mutex_t load_mu; /* serialises index (re)loading */
	astra__index index;
	int index_loaded;
	astra__map index_files; /* names of index files loaded */
	/* immutability (docs/format.md, "Immutability") */
	unsigned lock_days; /* retention of what the vault writes; 0 = none */
	unsigned lock_mode; /* ASTRA_STORE_LOCK_* */
	int64_t until_pin; /* retention for objects written now; 0 = now+days */
	/* with object lock: pack hex -> index files listing it ("\n"-joined) */
	astra__map pack_files;
} astra__repo;

int astra__repo_init(
        astra__repo **out, const char *url, const astra__repo_opts *o);
int astra__repo_open(
        astra__repo **out, const char *url, const astra__repo_opts *o);
void astra__repo_free(astra__repo *r);
/* Adds a key slot for a new secret and removes the one that opened r. */
int astra__repo_change_secret(astra__repo *r, const astra__repo_opts *newo);
/* A new key epoch (rekey.c, docs/format.md "Key epochs"): a new master
 * key under the new secret, the small sealed objects rewritten under it,
 * every other key slot removed. Restartable; see the format doc. */
int astra__repo_rekey(astra__repo *r, const astra__repo_opts *newo);
/* Tests only: make astra__repo_rekey fail (ASTRA_EIO) right after step
 * n (1: epoch object written, 2: new slot written, 3: first object
 * rewritten, 4: all rewritten, 5: first old slot deleted); 0: never. */
extern int astra__rekey_fail_after;

/*
 * Writes an object. In an immutable vault, everything but sessions/ and gc/
 * is locked until `until` (0: astra__repo_until(r)).
 */
int astra__repo_put(astra__repo *r, const char *key, const void *data, size_t n,
        unsigned put_flags, int64_t until);
/* The retention of an object written now: until_pin, else now + days; 0
 * for a vault without immutability. */
int64_t astra__repo_until(const astra__repo *r);
/* Makes sure key stays locked at least until `until` (extending its
 * retention, with some slack, when it ends earlier). */
int astra__repo_keep(astra__repo *r, const char *key, int64_t until);
/* Forgets the loaded index (index, index files, pack_files). */
void astra__repo_index_reset(astra__repo *r);

/* Index */
/* How a damaged index file (it does not authenticate, decompress or
 * decode) is treated when the index is loaded. */
enum {
	/* skipped with a warning, its name added to `damaged` (backups,
	 * restores, check, repair: they lose at most deduplication or
	 * report the blobs as missing) */
	ASTRA_INDEX_LOAD_LENIENT = 0,
	/* ASTRA_ECORRUPT naming the file, unless `superseded` (names of
	 * files a repair has covered) has it (gc and anything that
	 * deletes) */
	ASTRA_INDEX_LOAD_STRICT = 1
};
int astra__repo_load_index_mode(astra__repo *r, int mode,
        const astra__map *superseded, astra__json *damaged);
/* astra__repo_load_index_mode(r, ASTRA_INDEX_LOAD_LENIENT, NULL, NULL) */
int astra__repo_load_index(astra__repo *r);
/* Loads the index files written since the index was loaded (by other
 * processes or handles), so that their snapshots can be read; safe to
 * call from several threads. */
int astra__repo_refresh_index(astra__repo *r);
/* Records the packs an index file body lists in r->pack_files (callers
 * hold r->lock for writing). */
int astra__repo_note_pack_files(
        astra__repo *r, const uint8_t *body, size_t n, const char *file);
/* Flags the packs named by gc markers as condemned (gc.c). A marker that
 * cannot be read fails the call, except that ASTRA_INDEX_LOAD_LENIENT
 * skips damaged ones (they do not authenticate or parse). */
/*
 * Every object under `prefix`, read and decrypted, as a JSON array of the
 * objects with their "key" added (object.c). Only an object that vanished
 * between the listing and the read counts as gone; any other read error
 * fails the whole collection naming the object, except: skip_damaged
 * skips objects that do not authenticate or parse (with a warning), and
 * dead_before (Unix s, 0: none) turns an unreadable object last written
 * before it into {"heartbeat": mtime, "unreadable": true} (dead sessions).
 */
int astra__repo_collect(astra__repo *r, const char *prefix, int64_t dead_before,
        int skip_damaged, astra__json **out);
int astra__repo_load_markers(astra__repo *r, int mode);
/* Copies the entry for id; 0, or ASTRA_ENOTFOUND. Thread-safe. */
int astra__repo_lookup(
        astra__repo *r, const astra__id *id, astra__idx_entry *out);
int astra__index_find(const astra__index *ix, const astra__id *id);
/* Inserts or updates; returns the slot. */
int astra__index_put(astra__index *ix, const astra__idx_entry *e);
int astra__index_pack(astra__index *ix, const astra__id *pack);
void astra__index_free(astra__index *ix);
/* Serialised index file body (before compression and sealing). */
int astra__index_encode(astra_buf *out, const astra__idx_entry *e, size_t n,
        const astra__index *ix);
int astra__index_decode(
        astra__index *ix, const uint8_t *p, size_t n, const char *what);

/* Ids */
int astra__repo_blob_id(
        astra__repo *r, const void *data, size_t n, astra__id *out);
/* The vault's blob id algorithm as named in its params ("blake3-keyed",
 * "hmac-sha256"). */
const char *astra__repo_blob_id_name(const astra__repo *r);
void astra__id_hex(const astra__id *id, char out[ASTRA_ID_HEX]);
int astra__id_parse(astra__id *id, const char *hex);
char *astra__pack_key(const astra__id *pack);

/* Sealing of small objects (snapshots, index files, markers). */
int astra__repo_seal(astra__repo *r, const char *aad, const void *data,
        size_t n, astra_buf *out);
int astra__repo_open_sealed(astra__repo *r, const char *aad, const void *data,
        size_t n, astra_buf *out, const char *what);
/* JSON objects sealed under a key: put/get. */
int astra__repo_put_json(astra__repo *r, const char *key, const astra__json *j,
        unsigned put_flags);
int astra__repo_get_json(astra__repo *r, const char *key, astra__json **out);

/* Reading blobs (verified: decrypts, decompresses, checks the id). */
int astra__repo_read_blob(astra__repo *r, const astra__id *id, astra_buf *out);
int astra__repo_decode_blob(astra__repo *r, const astra__idx_entry *e,
        const uint8_t *sealed, astra_buf *out);

/* Writing blobs: a writer session owns open packs and new index entries. */
typedef struct astra__writer astra__writer;
typedef struct {
	uint64_t blobs_new, blobs_dup;
	uint64_t bytes_raw_new; /* plaintext bytes of new blobs */
	uint64_t bytes_stored; /* bytes written to the store */
	uint64_t packs;
} astra__writer_stats;

int astra__writer_new(astra__writer **out, astra__repo *r);
/*
 * Stores a blob unless the vault has it. Thread-safe. `id` may be
 * precomputed (non-NULL *have_id) else is computed and returned.
 */
int astra__writer_add(astra__writer *w, int type, const void *data, size_t n,
        astra__id *id, int have_id, int *is_new);
/* Writes open packs and the pending index entries. */
int astra__writer_flush(astra__writer *w);
/* Writes these entries (with pack set) as one index file. */
int astra__writer_write_index(
        astra__writer *w, astra__idx_entry *ents, size_t n);
void astra__writer_get_stats(astra__writer *w, astra__writer_stats *st);
/* Immutable vaults: the retention of everything this writer writes or
 * references (fixed when the writer starts); 0 otherwise. */
int64_t astra__writer_until(const astra__writer *w);
/*
 * Records that the snapshot being written references blob `id` without
 * adding it (an unchanged file): in an immutable vault, its pack and the
 * index files listing it are kept locked until the writer's retention.
 * ASTRA_ENOTFOUND when the blob is not in the index.
 */
int astra__writer_reference(astra__writer *w, const astra__id *id);
void astra__writer_free(astra__writer *w);

#endif
