/*
 * BLAKE3, written from the specification ("BLAKE3: one function, fast
 * everywhere", section 2): hash and keyed_hash modes, 32-byte output,
 * one-shot over a buffer.
 *
 * The input is split into 1 KiB chunks; each chunk is compressed block by
 * block (64-byte blocks, chaining value starting at the key words) into a
 * chaining value, and chaining values are combined pairwise by parent
 * nodes into a binary tree whose left subtrees are complete (a power of
 * two chunks). The root node's compression carries the ROOT flag.
 *
 * Layout of the work: the input is cut recursively into complete subtrees
 * of at most GROUP_CHUNKS chunks. Within a group all full chunks are
 * compressed together (8 or 16 at a time, message words of the lanes
 * transposed so that one vector register holds one word of every lane),
 * then the group's tree is reduced level by level, parents also compressed
 * together; a level with an odd count carries its last value up, which
 * yields exactly the left-complete tree of the specification.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "crypto/blake3.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define B3_X86 1
#include <immintrin.h>
#else
#define B3_X86 0
#endif

#define CHUNK_LEN 1024
#define BLOCK_LEN 64
#define GROUP_CHUNKS 64 /* a power of two */

/* Domain flags */
#define CHUNK_START 1u
#define CHUNK_END 2u
#define PARENT 4u
#define ROOT 8u
#define KEYED_HASH 16u

static const uint32_t IV[8] = { 0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u,
	0xA54FF53Au, 0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u };

/* Message word order of each of the 7 rounds: the permutation
 * (2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8) applied r times. */
static const uint8_t SCHED[7][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8 },
	{ 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1 },
	{ 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6 },
	{ 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4 },
	{ 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7 },
	{ 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13 },
};

/*
 * Compresses n inputs of nblocks 64-byte blocks each (in[i] points at
 * input i) into n chaining values written to out (32 bytes each,
 * little-endian words). Every input starts from `key`; input i uses the
 * counter `counter + i` when inc is set, `counter` otherwise. Each block
 * gets `flags`, the first also `fstart`, the last also `fend`.
 */
typedef void (*many_fn)(const uint8_t *const *in, size_t n, size_t nblocks,
        const uint32_t key[8], uint64_t counter, int inc, uint32_t flags,
        uint32_t fstart, uint32_t fend, uint8_t *out);

/* ---- portable ---- */

static inline uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void store32(uint8_t *p, uint32_t w)
{
	p[0] = (uint8_t)w;
	p[1] = (uint8_t)(w >> 8);
	p[2] = (uint8_t)(w >> 16);
	p[3] = (uint8_t)(w >> 24);
}

static inline uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* One G, on words or on vectors of words, with the additions, xors and
 * rotations given as macros of the instruction set at hand; fully unrolled
 * so that the schedule indices are constants. */
#define GV(ADD, XOR, R16, R12, R8, R7, a, b, c, d, x, y) \
	do {                                             \
		a = ADD(ADD(a, b), x);                   \
		d = R16(XOR(d, a));                      \
		c = ADD(c, d);                           \
		b = R12(XOR(b, c));                      \
		a = ADD(ADD(a, b), y);                   \
		d = R8(XOR(d, a));                       \
		c = ADD(c, d);                           \
		b = R7(XOR(b, c));                       \
	} while (0)

#define ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, r)                      \
	do {                                                             \
		const uint8_t *s_ = SCHED[r];                            \
		GV(ADD, XOR, R16, R12, R8, R7, v[0], v[4], v[8], v[12],  \
		        m[s_[0]], m[s_[1]]);                             \
		GV(ADD, XOR, R16, R12, R8, R7, v[1], v[5], v[9], v[13],  \
		        m[s_[2]], m[s_[3]]);                             \
		GV(ADD, XOR, R16, R12, R8, R7, v[2], v[6], v[10], v[14], \
		        m[s_[4]], m[s_[5]]);                             \
		GV(ADD, XOR, R16, R12, R8, R7, v[3], v[7], v[11], v[15], \
		        m[s_[6]], m[s_[7]]);                             \
		GV(ADD, XOR, R16, R12, R8, R7, v[0], v[5], v[10], v[15], \
		        m[s_[8]], m[s_[9]]);                             \
		GV(ADD, XOR, R16, R12, R8, R7, v[1], v[6], v[11], v[12], \
		        m[s_[10]], m[s_[11]]);                           \
		GV(ADD, XOR, R16, R12, R8, R7, v[2], v[7], v[8], v[13],  \
		        m[s_[12]], m[s_[13]]);                           \
		GV(ADD, XOR, R16, R12, R8, R7, v[3], v[4], v[9], v[14],  \
		        m[s_[14]], m[s_[15]]);                           \
	} while (0)

#define ROUNDS7(ADD, XOR, R16, R12, R8, R7, v, m)            \
	do {                                                 \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 0); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 1); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 2); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 3); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 4); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 5); \
		ROUNDV(ADD, XOR, R16, R12, R8, R7, v, m, 6); \
	} while (0)

#define S_ADD(a, b) ((a) + (b))
#define S_XOR(a, b) ((a) ^ (b))
#define S_R16(x) rotr(x, 16)
#define S_R12(x) rotr(x, 12)
#define S_R8(x) rotr(x, 8)
#define S_R7(x) rotr(x, 7)

/* The compression function, truncated to the 8-word chaining value. */
static void compress(uint32_t cv[8], const uint8_t block[BLOCK_LEN],
        uint32_t block_len, uint64_t counter, uint32_t flags)
{
	uint32_t m[16], v[16];
	for (int i = 0; i < 16; i++)
		m[i] = load32(block + 4 * i);
	for (int i = 0; i < 8; i++)
		v[i] = cv[i];
	v[8] = IV[0];
	v[9] = IV[1];
	v[10] = IV[2];
	v[11] = IV[3];
	v[12] = (uint32_t)counter;
	v[13] = (uint32_t)(counter >> 32);
	v[14] = block_len;
	v[15] = flags;
	ROUNDS7(S_ADD, S_XOR, S_R16, S_R12, S_R8, S_R7, v, m);
	for (int i = 0; i < 8; i++)
		cv[i] = v[i] ^ v[i + 8];
}

static void cv_store(uint8_t out[32], const uint32_t cv[8])
{
	for (int i = 0; i < 8; i++)
		store32(out + 4 * i, cv[i]);
}

static void many_portable(const uint8_t *const *in, size_t n, size_t nblocks,
        const uint32_t key[8], uint64_t counter, int inc, uint32_t flags,
        uint32_t fstart, uint32_t fend, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t cv[8];
		memcpy(cv, key, sizeof(cv));
		for (size_t b = 0; b < nblocks; b++) {
			uint32_t f = flags | (b == 0 ? fstart : 0) |
			             (b + 1 == nblocks ? fend : 0);
			compress(cv, in[i] + b * BLOCK_LEN, BLOCK_LEN,
			        counter + (inc ? i : 0), f);
		}
		cv_store(out + 32 * i, cv);
	}
}

/*
 * One chunk of 0..1024 bytes (0 only for the empty input), with ROOT on
 * its last block when it is the whole input.
 */
static void chunk_cv(const uint8_t *in, size_t len, const uint32_t key[8],
        uint64_t counter, uint32_t mode, int root, uint8_t out[32])
{
	uint32_t cv[8];
	memcpy(cv, key, sizeof(cv));
	size_t nblocks = len ? (len + BLOCK_LEN - 1) / BLOCK_LEN : 1;
	for (size_t b = 0; b < nblocks; b++) {
		size_t off = b * BLOCK_LEN;
		size_t blen = b + 1 < nblocks ? BLOCK_LEN : len - off;
		uint32_t f = mode | (b == 0 ? CHUNK_START : 0);
		if (b + 1 == nblocks)
			f |= CHUNK_END | (root ? ROOT : 0);
		if (blen == BLOCK_LEN) {
			compress(cv, in + off, BLOCK_LEN, counter, f);
		} else {
			uint8_t block[BLOCK_LEN] = { 0 };
			if (blen)
				memcpy(block, in + off, blen);
			compress(cv, block, (uint32_t)blen, counter, f);
		}
	}
	cv_store(out, cv);
}

static void parent_cv(const uint8_t pair[64], const uint32_t key[8],
        uint32_t mode, int root, uint8_t out[32])
{
	uint32_t cv[8];
	memcpy(cv, key, sizeof(cv));
	compress(cv, pair, BLOCK_LEN, 0, mode | PARENT | (root ? ROOT : 0));
	cv_store(out, cv);
}

/* ---- 4 lanes in generic 128-bit vectors (SSE2 on x86-64, NEON on
 * AArch64, whatever the compiler has elsewhere): the path for CPUs
 * without AVX2 ---- */

typedef uint32_t v4w __attribute__((vector_size(16)));

#if defined(__clang__)
#define V4_SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define V4_SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4w){ i, j, k, l })
#endif

/* 4x4 transpose of 32-bit words: r[i] word j <-> r[j] word i. */
#define TRANSPOSE4(r)                                      \
	do {                                               \
		v4w t0_ = V4_SHUF(r[0], r[1], 0, 4, 1, 5); \
		v4w t1_ = V4_SHUF(r[0], r[1], 2, 6, 3, 7); \
		v4w t2_ = V4_SHUF(r[2], r[3], 0, 4, 1, 5); \
		v4w t3_ = V4_SHUF(r[2], r[3], 2, 6, 3, 7); \
		r[0] = V4_SHUF(t0_, t2_, 0, 1, 4, 5);      \
		r[1] = V4_SHUF(t0_, t2_, 2, 3, 6, 7);      \
		r[2] = V4_SHUF(t1_, t3_, 0, 1, 4, 5);      \
		r[3] = V4_SHUF(t1_, t3_, 2, 3, 6, 7);      \
	} while (0)

#define V4_ROT(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
/* 16: swap the halfwords of each word (pshuflw/pshufhw, rev32.16) */
#define V4_R16(x) v4_r16(x)
#define V4_R12(x) V4_ROT(x, 12)
#define V4_R8(x) V4_ROT(x, 8)
#define V4_R7(x) V4_ROT(x, 7)

typedef uint16_t v8h __attribute__((vector_size(16)));

static inline v4w v4_r16(v4w x)
{
	v8h h = (v8h)x;
#if defined(__clang__)
	h = __builtin_shufflevector(h, h, 1, 0, 3, 2, 5, 4, 7, 6);
#else
	h = __builtin_shuffle(h, (v8h){ 1, 0, 3, 2, 5, 4, 7, 6 });
#endif
	return (v4w)h;
}

static inline v4w v4_load(const uint8_t *p)
{
	v4w v;
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (int i = 0; i < 4; i++)
		v[i] = __builtin_bswap32(v[i]);
#endif
	return v;
}

static inline v4w v4_splat(uint32_t x)
{
	return (v4w){ x, x, x, x };
}

static void many_vec4(const uint8_t *const *in, size_t n, size_t nblocks,
        const uint32_t key[8], uint64_t counter, int inc, uint32_t flags,
        uint32_t fstart, uint32_t fend, uint8_t *out)
{
	const uint8_t *p[4];
	v4w clo, chi;
	for (size_t i = 0; i < 4; i++) {
		p[i] = in[i < n ? i : n - 1];
		uint64_t c = counter + (inc ? i : 0);
		clo[i] = (uint32_t)c;
		chi[i] = (uint32_t)(c >> 32);
	}
	v4w h[8];
	for (int j = 0; j < 8; j++)
		h[j] = v4_splat(key[j]);
	for (size_t b = 0; b < nblocks; b++) {
		v4w m[16], v[16];
		size_t off = b * BLOCK_LEN;
		/* m[4q + i] holds words 4q..4q+3 of lane i, then transposed
		 * per group of four: m[4q + j] holds word 4q + j of every lane
		 */
		for (int q = 0; q < 4; q++) {
			for (int i = 0; i < 4; i++)
				m[4 * q + i] = v4_load(p[i] + off + 16 * q);
			TRANSPOSE4((m + 4 * q));
		}
		uint32_t f = flags | (b == 0 ? fstart : 0) |
		             (b + 1 == nblocks ? fend : 0);
		for (int j = 0; j < 8; j++)
			v[j] = h[j];
		v[8] = v4_splat(IV[0]);
		v[9] = v4_splat(IV[1]);
		v[10] = v4_splat(IV[2]);
		v[11] = v4_splat(IV[3]);
		v[12] = clo;
		v[13] = chi;
		v[14] = v4_splat(BLOCK_LEN);
		v[15] = v4_splat(f);
		ROUNDS7(S_ADD, S_XOR, V4_R16, V4_R12, V4_R8, V4_R7, v, m);
		for (int j = 0; j < 8; j++)
			h[j] = v[j] ^ v[j + 8];
	}
	TRANSPOSE4(h);
	TRANSPOSE4((h + 4));
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 8; j++)
			store32(out + 32 * i + 4 * j,
			        h[4 * (j / 4) + i][j % 4]);
}

/* ---- x86 SIMD ---- */

#if B3_X86

/* 8x8 transpose of 32-bit words: r[i] word j <-> r[j] word i. */
#define TRANSPOSE8(r)                                           \
	do {                                                    \
		__m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]); \
		__m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]); \
		__m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]); \
		__m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]); \
		__m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]); \
		__m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]); \
		__m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]); \
		__m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]); \
		__m256i u0 = _mm256_unpacklo_epi64(t0, t2);     \
		__m256i u1 = _mm256_unpackhi_epi64(t0, t2);     \
		__m256i u2 = _mm256_unpacklo_epi64(t1, t3);     \
		__m256i u3 = _mm256_unpackhi_epi64(t1, t3);     \
		__m256i u4 = _mm256_unpacklo_epi64(t4, t6);     \
		__m256i u5 = _mm256_unpackhi_epi64(t4, t6);     \
		__m256i u6 = _mm256_unpacklo_epi64(t5, t7);     \
		__m256i u7 = _mm256_unpackhi_epi64(t5, t7);     \
		r[0] = _mm256_permute2x128_si256(u0, u4, 0x20); \
		r[4] = _mm256_permute2x128_si256(u0, u4, 0x31); \
		r[1] = _mm256_permute2x128_si256(u1, u5, 0x20); \
		r[5] = _mm256_permute2x128_si256(u1, u5, 0x31); \
		r[2] = _mm256_permute2x128_si256(u2, u6, 0x20); \
		r[6] = _mm256_permute2x128_si256(u2, u6, 0x31); \
		r[3] = _mm256_permute2x128_si256(u3, u7, 0x20); \
		r[7] = _mm256_permute2x128_si256(u3, u7, 0x31); \
	} while (0)

/* AVX2: 8 lanes */
#define A2_ADD(a, b) _mm256_add_epi32(a, b)
#define A2_XOR(a, b) _mm256_xor_si256(a, b)
#define A2_R16(x) _mm256_shuffle_epi8(x, rot16)
#define A2_R8(x) _mm256_shuffle_epi8(x, rot8)
#define A2_R12(x) \
	_mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20))
#define A2_R7(x) \
	_mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25))

__attribute__((target("avx2"))) static void many_avx2(const uint8_t *const *in,
        size_t n, size_t nblocks, const uint32_t key[8], uint64_t counter,
        int inc, uint32_t flags, uint32_t fstart, uint32_t fend, uint8_t *out)
{
	const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11,
	        8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14,
	        15, 12, 13);
	const __m256i rot8 = _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11,
	        8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14,
	        15, 12);
	const uint8_t *p[8];
	uint32_t lo[8], hi[8];
	for (size_t i = 0; i < 8; i++) {
		p[i] = in[i < n ? i : n - 1];
		uint64_t c = counter + (inc ? i : 0);
		lo[i] = (uint32_t)c;
		hi[i] = (uint32_t)(c >> 32);
	}
	const __m256i clo = _mm256_loadu_si256((const __m256i *)lo);
	const __m256i chi = _mm256_loadu_si256((const __m256i *)hi);
	__m256i h[8];
	for (int j = 0; j < 8; j++)
		h[j] = _mm256_set1_epi32((int)key[j]);
	for (size_t b = 0; b < nblocks; b++) {
		__m256i m[16], v[16];
		size_t off = b * BLOCK_LEN;
		for (int i = 0; i < 8; i++) {
			m[i] = _mm256_loadu_si256(
			        (const __m256i *)(p[i] + off));
			m[8 + i] = _mm256_loadu_si256(
			        (const __m256i *)(p[i] + off + 32));
		}
		TRANSPOSE8(m);
		TRANSPOSE8((m + 8));
		uint32_t f = flags | (b == 0 ? fstart : 0) |
		             (b + 1 == nblocks ? fend : 0);
		for (int j = 0; j < 8; j++)
			v[j] = h[j];
		v[8] = _mm256_set1_epi32((int)IV[0]);
		v[9] = _mm256_set1_epi32((int)IV[1]);
		v[10] = _mm256_set1_epi32((int)IV[2]);
		v[11] = _mm256_set1_epi32((int)IV[3]);
		v[12] = clo;
		v[13] = chi;
		v[14] = _mm256_set1_epi32(BLOCK_LEN);
		v[15] = _mm256_set1_epi32((int)f);
		ROUNDS7(A2_ADD, A2_XOR, A2_R16, A2_R12, A2_R8, A2_R7, v, m);
		for (int j = 0; j < 8; j++)
			h[j] = _mm256_xor_si256(v[j], v[j + 8]);
	}
	TRANSPOSE8(h);
	for (size_t i = 0; i < n; i++)
		_mm256_storeu_si256((__m256i *)(out + 32 * i), h[i]);
}

/* AVX-512: 16 lanes */
#define A5_ADD(a, b) _mm512_add_epi32(a, b)
#define A5_XOR(a, b) _mm512_xor_si512(a, b)
#define A5_R16(x) _mm512_ror_epi32(x, 16)
#define A5_R12(x) _mm512_ror_epi32(x, 12)
#define A5_R8(x) _mm512_ror_epi32(x, 8)
#define A5_R7(x) _mm512_ror_epi32(x, 7)

/* 16x16 transpose of 32-bit words, r[i] word j <-> r[j] word i. */
#define TRANSPOSE16(r)                                                       \
	do {                                                                 \
		__m512i t_[16], u_[16];                                      \
		for (int i_ = 0; i_ < 8; i_++) {                             \
			t_[2 * i_] = _mm512_unpacklo_epi32(                  \
			        r[2 * i_], r[2 * i_ + 1]);                   \
			t_[2 * i_ + 1] = _mm512_unpackhi_epi32(              \
			        r[2 * i_], r[2 * i_ + 1]);                   \
		}                                                            \
		for (int g_ = 0; g_ < 4; g_++) {                             \
			u_[4 * g_] = _mm512_unpacklo_epi64(                  \
			        t_[4 * g_], t_[4 * g_ + 2]);                 \
			u_[4 * g_ + 1] = _mm512_unpackhi_epi64(              \
			        t_[4 * g_], t_[4 * g_ + 2]);                 \
			u_[4 * g_ + 2] = _mm512_unpacklo_epi64(              \
			        t_[4 * g_ + 1], t_[4 * g_ + 3]);             \
			u_[4 * g_ + 3] = _mm512_unpackhi_epi64(              \
			        t_[4 * g_ + 1], t_[4 * g_ + 3]);             \
		}                                                            \
		for (int k_ = 0; k_ < 4; k_++) {                             \
			__m512i ablo = _mm512_shuffle_i32x4(                 \
			        u_[k_], u_[4 + k_], 0x44);                   \
			__m512i abhi = _mm512_shuffle_i32x4(                 \
			        u_[k_], u_[4 + k_], 0xEE);                   \
			__m512i cdlo = _mm512_shuffle_i32x4(                 \
			        u_[8 + k_], u_[12 + k_], 0x44);              \
			__m512i cdhi = _mm512_shuffle_i32x4(                 \
			        u_[8 + k_], u_[12 + k_], 0xEE);              \
			r[k_] = _mm512_shuffle_i32x4(ablo, cdlo, 0x88);      \
			r[4 + k_] = _mm512_shuffle_i32x4(ablo, cdlo, 0xDD);  \
			r[8 + k_] = _mm512_shuffle_i32x4(abhi, cdhi, 0x88);  \
			r[12 + k_] = _mm512_shuffle_i32x4(abhi, cdhi, 0xDD); \
		}                                                            \
	} while (0)

__attribute__((target("avx512f,avx512vl,avx2"))) static void many_avx512(
        const uint8_t *const *in, size_t n, size_t nblocks,
        const uint32_t key[8], uint64_t counter, int inc, uint32_t flags,
        uint32_t fstart, uint32_t fend, uint8_t *out)
{
	const uint8_t *p[16];
	uint32_t lo[16], hi[16];
	for (size_t i = 0; i < 16; i++) {
		p[i] = in[i < n ? i : n - 1];
		uint64_t c = counter + (inc ? i : 0);
		lo[i] = (uint32_t)c;
		hi[i] = (uint32_t)(c >> 32);
	}
	const __m512i clo = _mm512_loadu_si512(lo);
	const __m512i chi = _mm512_loadu_si512(hi);
	__m512i h[8];
	for (int j = 0; j < 8; j++)
		h[j] = _mm512_set1_epi32((int)key[j]);
	for (size_t b = 0; b < nblocks; b++) {
		__m512i m[16], v[16];
		size_t off = b * BLOCK_LEN;
		for (int i = 0; i < 16; i++)
			m[i] = _mm512_loadu_si512(p[i] + off);
		TRANSPOSE16(m);
		uint32_t f = flags | (b == 0 ? fstart : 0) |
		             (b + 1 == nblocks ? fend : 0);
		for (int j = 0; j < 8; j++)
			v[j] = h[j];
		v[8] = _mm512_set1_epi32((int)IV[0]);
		v[9] = _mm512_set1_epi32((int)IV[1]);
		v[10] = _mm512_set1_epi32((int)IV[2]);
		v[11] = _mm512_set1_epi32((int)IV[3]);
		v[12] = clo;
		v[13] = chi;
		v[14] = _mm512_set1_epi32(BLOCK_LEN);
		v[15] = _mm512_set1_epi32((int)f);
		ROUNDS7(A5_ADD, A5_XOR, A5_R16, A5_R12, A5_R8, A5_R7, v, m);
		for (int j = 0; j < 8; j++)
			h[j] = _mm512_xor_si512(v[j], v[j + 8]);
	}
	/* lanes 0-7 and 8-15 as two 8x8 transposes */
	__m256i lo8[8], hi8[8];
	for (int j = 0; j < 8; j++) {
		lo8[j] = _mm512_castsi512_si256(h[j]);
		hi8[j] = _mm512_extracti64x4_epi64(h[j], 1);
	}
	TRANSPOSE8(lo8);
	TRANSPOSE8(hi8);
	for (size_t i = 0; i < n; i++)
		_mm256_storeu_si256(
		        (__m256i *)(out + 32 * i), i < 8 ? lo8[i] : hi8[i - 8]);
}

#endif /* B3_X86 */

/* ---- dispatch and tree ---- */

typedef struct {
	int wide; /* 16-lane function available */
	int mid; /* 8-lane function available */
	int narrow; /* the 4-lane generic-vector function */
} caps;

static caps caps_for(int impl)
{
	caps c = { 0, 0, 0 };
	c.narrow = impl == ASTRA_BLAKE3_AUTO || impl >= ASTRA_BLAKE3_VEC4;
#if B3_X86
	if (impl == ASTRA_BLAKE3_AUTO)
		impl = ASTRA_BLAKE3_AVX512;
	if (impl >= ASTRA_BLAKE3_AVX2 && __builtin_cpu_supports("avx2"))
		c.mid = 1;
	if (impl >= ASTRA_BLAKE3_AVX512 && __builtin_cpu_supports("avx512f") &&
	        __builtin_cpu_supports("avx512vl"))
		c.wide = 1;
#else
	(void)impl;
#endif
	return c;
}

int astra__blake3_supported(int impl)
{
	caps c = caps_for(impl);
	switch (impl) {
	case ASTRA_BLAKE3_AUTO:
	case ASTRA_BLAKE3_PORTABLE:
	case ASTRA_BLAKE3_VEC4:
		return 1;
	case ASTRA_BLAKE3_AVX2:
		return c.mid;
	case ASTRA_BLAKE3_AVX512:
		return c.wide;
	default:
		return 0;
	}
}

const char *astra__blake3_impl_name(int impl)
{
	caps c = caps_for(impl);
	return c.wide     ? "avx512"
	       : c.mid    ? "avx2"
	       : c.narrow ? "vec4"
	                  : "portable";
}

/* n inputs of nblocks blocks at in + i * stride, in batches as wide as
 * the CPU allows; outputs at out + 32 * i. */
static void hash_many(const caps *c, const uint8_t *in, size_t stride, size_t n,
        size_t nblocks, const uint32_t key[8], uint64_t counter, int inc,
        uint32_t flags, uint32_t fstart, uint32_t fend, uint8_t *out)
{
	while (n > 0) {
		const uint8_t *ptr[16];
		size_t take;
		many_fn fn = many_portable;
#if B3_X86
		if (c->wide && n > 8) {
			fn = many_avx512;
			take = n < 16 ? n : 16;
		} else if (c->mid && n > 1) {
			fn = many_avx2;
			take = n < 8 ? n : 8;
		} else
#endif
		        if (c->narrow && n > 1) {
			fn = many_vec4;
			take = n < 4 ? n : 4;
		} else {
			take = n;
		}
		if (fn == many_portable) {
			for (size_t i = 0; i < n; i++) {
				ptr[0] = in + i * stride;
				many_portable(ptr, 1, nblocks, key,
				        counter + (inc ? i : 0), inc, flags,
				        fstart, fend, out + 32 * i);
			}
		} else {
			for (size_t i = 0; i < take; i++)
				ptr[i] = in + i * stride;
			fn(ptr, take, nblocks, key, counter, inc, flags, fstart,
			        fend, out);
		}
		in += take * stride;
		out += 32 * take;
		counter += inc ? take : 0;
		n -= take;
	}
}

/*
 * Chaining value (or, with root, the output) of a group: 2..GROUP_CHUNKS
 * chunks over len bytes, the first numbered `counter`. Kept out of the
 * recursion so that only one frame holds the buffers.
 */
__attribute__((noinline)) static void group(const caps *c, const uint8_t *in,
        size_t len, size_t nch, const uint32_t key[8], uint64_t counter,
        uint32_t mode, int root, uint8_t out[32])
{
	uint8_t a[GROUP_CHUNKS * 32], b[GROUP_CHUNKS / 2 * 32];
	size_t full = len / CHUNK_LEN;
	hash_many(c, in, CHUNK_LEN, full, CHUNK_LEN / BLOCK_LEN, key, counter,
	        1, mode, CHUNK_START, CHUNK_END, a);
	if (full < nch)
		chunk_cv(in + full * CHUNK_LEN, len - full * CHUNK_LEN, key,
		        counter + full, mode, 0, a + 32 * full);
	uint8_t *cur = a, *next = b;
	size_t n = nch;
	while (n > 2) {
		size_t np = n / 2;
		hash_many(c, cur, 64, np, 1, key, 0, 0, mode | PARENT, 0, 0,
		        next);
		if (n & 1)
			memcpy(next + 32 * np, cur + 32 * (n - 1), 32);
		n = np + (n & 1);
		uint8_t *t = cur;
		cur = next;
		next = t;
	}
	parent_cv(cur, key, mode, root, out);
}

/*
 * Chaining value (or, with root, the output) of the subtree over len
 * bytes whose first chunk has number `counter`. len > 0, or the empty
 * input at the root. Subtrees larger than a group are split as the
 * specification's tree is: the left part is the largest power of two
 * chunks that leaves at least one byte to the right.
 */
static void subtree(const caps *c, const uint8_t *in, size_t len,
        const uint32_t key[8], uint64_t counter, uint32_t mode, int root,
        uint8_t out[32])
{
	size_t nch = len ? (len + CHUNK_LEN - 1) / CHUNK_LEN : 1;
	if (nch > GROUP_CHUNKS) {
		size_t left = 1;
		while (left * 2 < nch)
			left *= 2;
		uint8_t pair[64];
		subtree(c, in, left * CHUNK_LEN, key, counter, mode, 0, pair);
		subtree(c, in + left * CHUNK_LEN, len - left * CHUNK_LEN, key,
		        counter + left, mode, 0, pair + 32);
		parent_cv(pair, key, mode, root, out);
	} else if (nch == 1) {
		chunk_cv(in, len, key, counter, mode, root, out);
	} else {
		group(c, in, len, nch, key, counter, mode, root, out);
	}
}

static void blake3_run(const caps *c, const uint8_t *key, const void *data,
        size_t n, uint8_t out[32])
{
	uint32_t kw[8];
	uint32_t mode = 0;
	if (key) {
		for (int i = 0; i < 8; i++)
			kw[i] = load32(key + 4 * i);
		mode = KEYED_HASH;
	} else {
		memcpy(kw, IV, sizeof(kw));
	}
	subtree(c, data, n, kw, 0, mode, 1, out);
}

static caps auto_caps;
static pthread_once_t auto_once = PTHREAD_ONCE_INIT;

static void auto_init(void)
{
	auto_caps = caps_for(ASTRA_BLAKE3_AUTO);
}

static const caps *best(void)
{
	pthread_once(&auto_once, auto_init);
	return &auto_caps;
}

void astra__blake3_hash(
        const void *data, size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN])
{
	blake3_run(best(), NULL, data, n, out);
}

void astra__blake3_keyed(const uint8_t key[ASTRA_BLAKE3_KEY_LEN],
        const void *data, size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN])
{
	blake3_run(best(), key, data, n, out);
}

void astra__blake3_with(int impl, const uint8_t *key, const void *data,
        size_t n, uint8_t out[ASTRA_BLAKE3_OUT_LEN])
{
	caps c = caps_for(impl);
	blake3_run(&c, key, data, n, out);
}
