/*
 * Parsers of vault objects read from the store, which anyone with write
 * access to the store can forge: every length is checked against what was
 * read (in 64-bit arithmetic) and bad input gives ASTRA_ECORRUPT with a
 * message naming the object and the cause. The fuzz targets in tests/fuzz
 * call these directly (docs/testing.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_PARSE_H
#define ASTRA_REPO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "repo/repo.h"

/* ---- pack files (check.c) ---- */

#define ASTRA_PACK_HDR_ENTRY 46
/* magic, an empty sealed header, the trailer */
#define ASTRA_PACK_MIN_SIZE (8 + ASTRA_AEAD_OVERHEAD + 4)

/*
 * The sealed header of the pack `key` of `size` bytes at p: checks the
 * magic and that the trailer's header length fits the pack; sets *hoff to
 * the offset of the sealed header and *hlen to its length.
 */
int astra__pack_trailer(const uint8_t *p, uint64_t size, const char *key,
        uint64_t *hoff, uint32_t *hlen);

typedef struct {
	uint8_t type, flags;
	astra__id id;
	uint32_t offset, length, raw;
} astra__pack_entry;

/*
 * The decrypted header of the pack `key` (n bytes at h), whose blobs end
 * at hoff (where the sealed header starts): entries of 46 bytes, each of
 * a known type, at or after the magic, inside [8, hoff), at least a
 * sealed empty message long, and, when not compressed, exactly raw + 28
 * bytes. *out (malloc, NULL when there are none) and *count.
 */
int astra__pack_header_parse(const uint8_t *h, size_t n, uint64_t hoff,
        const char *key, astra__pack_entry **out, size_t *count);

/* ---- index files (index.c) ---- */

/*
 * An index file as stored (sealed, n bytes at sealed, object key `key`)
 * to its plain body in *body: authenticates, checks the body length
 * against the 16 GiB limit and against what the compressed bytes can
 * hold, decompresses.
 */
int astra__index_file_open(astra__repo *r, const char *key,
        const uint8_t *sealed, size_t n, astra_buf *body);

/* ---- key slots (repo.c) ---- */

#define ASTRA_KEY_SLOT_MAX_BYTES 65536

enum {
	ASTRA_SLOT_KDF_SCRYPT = 1,
	ASTRA_SLOT_KDF_HKDF = 2,
};

/* Why a slot was refused (astra__key_slot_parse). */
enum {
	ASTRA_SLOT_MALFORMED = 1, /* not a key slot: JSON, fields, sizes */
	ASTRA_SLOT_UNKNOWN_KDF = 2,
	ASTRA_SLOT_OUT_OF_RANGE = 3, /* scrypt parameters beyond the caps */
};

typedef struct {
	int kdf;
	unsigned log2n, r, p;
	uint64_t work; /* scrypt N * r * p; 0 for a key file */
	astra_buf salt;
	astra_buf wrapped; /* the sealed master key */
	unsigned epoch; /* "epoch" (a hint; 0 when absent) */
} astra__key_slot;

/*
 * Parses the key slot `key` (n bytes of JSON) without deriving anything:
 * fields and types, base64, the wrapped key's length, and the scrypt
 * parameters against the reader's bounds (crypto.h). On failure sets
 * *why (ASTRA_SLOT_*) and returns ASTRA_ECORRUPT or ASTRA_EVERSION (an
 * unknown kdf). Dispose of *out with astra__key_slot_dispose either way.
 */
int astra__key_slot_parse(const char *key, const char *text, size_t n,
        astra__key_slot *out, int *why);
void astra__key_slot_dispose(astra__key_slot *s);

#endif
