/*
 * Cryptography over OpenSSL 3. This module is the only user of OpenSSL.
 *
 * - SHA-256, HMAC-SHA256 (chunk ids), HKDF-SHA256 (subkeys)
 * - MD5 (only as a transfer checksum: S3's Content-MD5)
 * - AES-256-GCM with a random 96-bit nonce per message
 * - scrypt (password-based key derivation; its own ROMix on threads,
 *   scrypt.c)
 * - a cryptographically secure random generator
 * - RSA signatures with SHA-256 (JWT RS256, e.g. Google service accounts)
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CRYPTO_CRYPTO_H
#define ASTRA_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"

#define ASTRA_SHA256_LEN 32
#define ASTRA_MD5_LEN 16
#define ASTRA_SHA1_LEN 20
#define ASTRA_AEAD_KEY_LEN 32
#define ASTRA_AEAD_NONCE_LEN 12
#define ASTRA_AEAD_TAG_LEN 16
/* Sealed message = nonce || ciphertext || tag */
#define ASTRA_AEAD_OVERHEAD (ASTRA_AEAD_NONCE_LEN + ASTRA_AEAD_TAG_LEN)

int astra__crypto_global_init(void);
/* OpenSSL's version string. */
const char *astra__crypto_version(void);

int astra__random(void *buf, size_t n);

int astra__sha256(const void *data, size_t n, uint8_t out[ASTRA_SHA256_LEN]);

/* SHA-1, only where a protocol requires it (the WebSocket handshake's
 * Sec-WebSocket-Accept); never for anything that needs collision
 * resistance. */
int astra__sha1(const void *data, size_t n, uint8_t out[ASTRA_SHA1_LEN]);

/* MD5, for transfer checksums that protocols require (S3 Content-MD5);
 * never for anything that needs collision resistance. */
int astra__md5(const void *data, size_t n, uint8_t out[ASTRA_MD5_LEN]);

/* One-shot HMAC-SHA256 (e.g. AWS Signature V4 key derivation). */
int astra__hmac_sha256(const void *key, size_t keylen, const void *data,
        size_t n, uint8_t out[ASTRA_SHA256_LEN]);

/* A keyed HMAC-SHA256, reusable and safe to share between threads. */
typedef struct astra__mac astra__mac;
int astra__mac_new(astra__mac **out, const void *key, size_t keylen);
int astra__mac_compute(const astra__mac *m, const void *data, size_t n,
        uint8_t out[ASTRA_SHA256_LEN]);
void astra__mac_free(astra__mac *m);

int astra__hkdf_sha256(void *out, size_t outlen, const void *ikm, size_t ikmlen,
        const void *salt, size_t saltlen, const char *info);

/*
 * scrypt (RFC 7914) with N = 2^log2n (scrypt.c). The p lanes run on up to
 * min(p, online CPUs) threads, each with its own N * 128 * r bytes (fewer
 * threads when that memory cannot be had; ASTRA_ENOMEM when not even one
 * lane's can). ASTRA_EINVALID for parameters out of range: 1 <= log2n <=
 * 30, 1 <= r <= 64, 1 <= p <= 64, N < 2^(16 r).
 */
int astra__scrypt(void *out, size_t outlen, const void *pass, size_t passlen,
        const void *salt, size_t saltlen, unsigned log2n, unsigned r,
        unsigned p);

/*
 * Bounds of the scrypt parameters of key slots (docs/format.md, "Key
 * slots"). A reader derives a slot only when 1 <= log2n <= 30,
 * 1 <= r <= 64, 1 <= p <= 64, N < 2^(16 r), one lane's memory
 * 128 * r * N is at most ASTRA__SCRYPT_MAX_LANE_BYTES and the work
 * N * r * p at most ASTRA__SCRYPT_MAX_WORK; a slot outside is skipped,
 * never derived. A writer also needs log2n >= ASTRA__SCRYPT_MIN_LOG2N.
 */
#define ASTRA__SCRYPT_MAX_LANE_BYTES (1ULL << 30)
#define ASTRA__SCRYPT_MAX_WORK (1ULL << 25)
#define ASTRA__SCRYPT_MIN_LOG2N 10

/* The work of scrypt(N = 2^log2n, r, p) in units of 64-byte Salsa20/8
 * blocks per ROMix pass: N * r * p (0 when log2n > 40). */
uint64_t astra__scrypt_work(unsigned log2n, unsigned r, unsigned p);

/*
 * 0 when a key slot's parameters are inside the bounds above; otherwise
 * ASTRA_ECORRUPT with a message naming `what` and the bound exceeded
 * (nothing is allocated or derived).
 */
int astra__scrypt_check_slot(
        const char *what, int64_t log2n, int64_t r, int64_t p);
/* The RFC's intermediate functions, in place on RFC byte order (tests):
 * Salsa20/8 core on 64 bytes, BlockMix on 128r bytes, ROMix on 128r bytes
 * with N = 2^log2n (log2n <= 20). */
void astra__scrypt_salsa20_8(uint8_t b[64]);
int astra__scrypt_blockmix(uint8_t *b, unsigned r);
int astra__scrypt_romix(uint8_t *b, unsigned r, unsigned log2n);

/*
 * Encrypts n bytes into out (capacity >= n + ASTRA_AEAD_OVERHEAD); the
 * nonce is random. `aad` is authenticated but not stored.
 */
int astra__aead_seal(const uint8_t key[ASTRA_AEAD_KEY_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out);
/* Same with a caller-supplied nonce (known-answer tests only). */
int astra__aead_seal_nonce(const uint8_t key[ASTRA_AEAD_KEY_LEN],
        const uint8_t nonce[ASTRA_AEAD_NONCE_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out);
/*
 * Decrypts a sealed message of n bytes into out (capacity >= n -
 * ASTRA_AEAD_OVERHEAD). Returns ASTRA_ECORRUPT when authentication fails
 * (wrong key, or the data was changed); no message is set, callers name
 * the object.
 */
int astra__aead_open(const uint8_t key[ASTRA_AEAD_KEY_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out);

/*
 * The same with a key kept set up across messages: sealing and opening many
 * small blobs under one key costs no key schedule and no context per
 * message. Safe to use from several threads at once.
 */
typedef struct astra__aead astra__aead;
int astra__aead_new(astra__aead **out, const uint8_t key[ASTRA_AEAD_KEY_LEN]);
void astra__aead_free(astra__aead *a);
int astra__aead_seal_with(astra__aead *a, const void *aad, size_t aadlen,
        const void *in, size_t n, void *out);
int astra__aead_open_with(astra__aead *a, const void *aad, size_t aadlen,
        const void *in, size_t n, void *out);

/*
 * RSASSA-PKCS1-v1_5 with SHA-256 (the JWT "RS256" algorithm) of n bytes of
 * data with an RSA private key in PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA
 * PRIVATE KEY"; key_len bytes, need not be NUL-terminated). Appends the
 * signature to *sig. A key that cannot be read or is not RSA fails with
 * ASTRA_EINVALID naming `what` (never the key).
 */
int astra__rsa_sha256_sign(const char *key_pem, size_t key_len,
        const void *data, size_t n, astra_buf *sig, const char *what);

/* Constant-time comparison: 0 when equal. */
int astra__ct_compare(const void *a, const void *b, size_t n);

#endif
