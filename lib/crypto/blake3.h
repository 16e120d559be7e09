/*
 * BLAKE3 (hash and keyed_hash modes, 32-byte output), one-shot over a
 * buffer. Written from the BLAKE3 specification; needs no library.
 * Full 1 KiB chunks and parent nodes are compressed 8 at a time with AVX2
 * or 16 at a time with AVX-512 when the CPU has them (chosen at run time),
 * otherwise 4 at a time in the compiler's generic 128-bit vectors (SSE2,
 * NEON). A one-at-a-time portable path is the reference for tests.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CRYPTO_BLAKE3_H
#define ASTRA_CRYPTO_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#define ASTRA_BLAKE3_KEY_LEN 32
#define ASTRA_BLAKE3_OUT_LEN 32

/* Implementations; AUTO picks the widest one the CPU supports. */
enum {
	ASTRA_BLAKE3_AUTO = -1,
	ASTRA_BLAKE3_PORTABLE = 0, /* one block at a time, the reference */
	ASTRA_BLAKE3_VEC4 = 1, /* 4 lanes, generic 128-bit vectors */
	ASTRA_BLAKE3_AVX2 = 2,
	ASTRA_BLAKE3_AVX512 = 3
};

/* 1 when this build and CPU can run `impl`. */
int astra__blake3_supported(int impl);
/* "portable", "vec4", "avx2", "avx512" (the one AUTO resolves to for
 * AUTO). */
const char *astra__blake3_impl_name(int impl);

/* BLAKE3 hash mode. */
void astra__blake3_hash(
        const void *data, size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN]);
/* BLAKE3 keyed_hash mode (a PRF/MAC) under a 32-byte key. */
void astra__blake3_keyed(const uint8_t key[ASTRA_BLAKE3_KEY_LEN],
        const void *data, size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN]);
/*
 * Either mode (key NULL: hash mode) with a given implementation, for tests
 * and benchmarks; an implementation the CPU lacks falls back to the best
 * one it has (check astra__blake3_supported first).
 */
void astra__blake3_with(int impl, const uint8_t *key, const void *data,
        size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN]);

#endif
