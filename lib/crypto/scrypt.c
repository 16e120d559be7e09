/*
 * scrypt (RFC 7914), with the p ROMix lanes computed in parallel.
 *
 * The outer steps are PBKDF2-HMAC-SHA256 with one iteration (OpenSSL).
 * The memory-hard middle (ROMix, BlockMix, the Salsa20/8 core) is here,
 * written from the RFC, so that p > 1 lanes can run on several threads:
 * each thread owns its own V of N * 128 * r bytes. Any conforming scrypt
 * implementation derives the same key from the same (N, r, p).
 *
 * Speed: a 64-byte block is held as four 4-word vectors (GCC/clang vector
 * extensions; SSE2 on x86-64, NEON on arm64) in the "diagonal" order in
 * which Salsa20's four column (then row) quarter-rounds are the same
 * operation on the four lanes of a vector. The little-endian words of a
 * lane are loaded into that order once when the lane starts and stored
 * back once when it ends; V, X and every XOR stay in it (XOR and the
 * feed-forward addition are lane-wise, and Integerify reads word 0 of the
 * last block, which the order keeps in place).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "crypto/crypto.h"

typedef uint32_t v4u __attribute__((vector_size(16), may_alias));
typedef uint32_t v4m __attribute__((vector_size(16)));

#if defined(__clang__)
#define LANES(v, i0, i1, i2, i3) __builtin_shufflevector(v, v, i0, i1, i2, i3)
#else
#define LANES(v, i0, i1, i2, i3) __builtin_shuffle(v, (v4m){ i0, i1, i2, i3 })
#endif
#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

/*
 * Word order of a block in memory: position k holds the RFC's word
 * perm[k]. The four vectors are the diagonals
 *   a = (x0, x5, x10, x15)  b = (x4, x9, x14, x3)
 *   c = (x8, x13, x2, x7)   d = (x12, x1, x6, x11)
 * so that the column round is quarterround(a, b, c, d) lane by lane.
 */
static const uint8_t perm[16] = { 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1,
	6, 11 };

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* nblocks 64-byte blocks: RFC bytes -> diagonal words, and back. */
static void load_blocks(uint32_t *w, const uint8_t *b, size_t nblocks)
{
	for (size_t i = 0; i < nblocks; i++, w += 16, b += 64)
		for (int k = 0; k < 16; k++)
			w[k] = le32(b + 4 * perm[k]);
}

static void store_blocks(uint8_t *b, const uint32_t *w, size_t nblocks)
{
	for (size_t i = 0; i < nblocks; i++, w += 16, b += 64)
		for (int k = 0; k < 16; k++)
			put_le32(b + 4 * perm[k], w[k]);
}

/* (a, b, c, d) = Salsa20/8(a, b, c, d): 4 double rounds + feed-forward. */
#define SALSA20_8(a, b, c, d)                                          \
	do {                                                           \
		v4u a0_ = a, b0_ = b, c0_ = c, d0_ = d;                \
		for (int i_ = 0; i_ < 4; i_++) {                       \
			/* columns */                                  \
			b ^= ROTL(a + d, 7);                           \
			c ^= ROTL(b + a, 9);                           \
			d ^= ROTL(c + b, 13);                          \
			a ^= ROTL(d + c, 18);                          \
			/* rows: y1 = d>>>1, y2 = c>>>2, y3 = b>>>3 */ \
			d = LANES(d, 1, 2, 3, 0);                      \
			c = LANES(c, 2, 3, 0, 1);                      \
			b = LANES(b, 3, 0, 1, 2);                      \
			d ^= ROTL(a + b, 7);                           \
			c ^= ROTL(d + a, 9);                           \
			b ^= ROTL(c + d, 13);                          \
			a ^= ROTL(b + c, 18);                          \
			d = LANES(d, 3, 0, 1, 2);                      \
			c = LANES(c, 2, 3, 0, 1);                      \
			b = LANES(b, 1, 2, 3, 0);                      \
		}                                                      \
		a += a0_;                                              \
		b += b0_;                                              \
		c += c0_;                                              \
		d += d0_;                                              \
	} while (0)

/*
 * out = BlockMix(in ^ v) (v may be NULL: out = BlockMix(in)). in, v and
 * out are 2r blocks of 4 vectors each; out does not overlap in or v.
 */
static inline __attribute__((always_inline)) void blockmix(
        const v4u *in, const v4u *v, v4u *out, size_t r)
{
	const v4u *last = in + 4 * (2 * r - 1);
	v4u a = last[0], b = last[1], c = last[2], d = last[3];
	if (v) {
		const v4u *vl = v + 4 * (2 * r - 1);
		a ^= vl[0];
		b ^= vl[1];
		c ^= vl[2];
		d ^= vl[3];
	}
	for (size_t i = 0; i < 2 * r; i++) {
		const v4u *bi = in + 4 * i;
		a ^= bi[0];
		b ^= bi[1];
		c ^= bi[2];
		d ^= bi[3];
		if (v) {
			const v4u *vi = v + 4 * i;
			a ^= vi[0];
			b ^= vi[1];
			c ^= vi[2];
			d ^= vi[3];
		}
		SALSA20_8(a, b, c, d);
		/* even blocks to the first half, odd ones to the second */
		v4u *o = out + 4 * ((i >> 1) + (i & 1) * r);
		o[0] = a;
		o[1] = b;
		o[2] = c;
		o[3] = d;
	}
}

static void blockmix_plain(const v4u *in, v4u *out, size_t r)
{
	blockmix(in, NULL, out, r);
}

static void blockmix_xor(const v4u *in, const v4u *v, v4u *out, size_t r)
{
	blockmix(in, v, out, r);
}

/*
 * ROMix on x (2r blocks, diagonal order) in place. V holds n * 2r blocks,
 * y 2r blocks of scratch.
 */
static void romix(v4u *x, v4u *y, v4u *vv, uint64_t n, size_t r)
{
	size_t bs = 8 * r; /* vectors per 128r-byte block */
	const uint32_t mask = (uint32_t)(n - 1);
	memcpy(vv, x, bs * sizeof(v4u));
	for (uint64_t i = 0; i + 1 < n; i++)
		blockmix_plain(vv + i * bs, vv + (i + 1) * bs, r);
	blockmix_plain(vv + (n - 1) * bs, x, r);
	for (uint64_t i = 0; i < n; i += 2) {
		/* Integerify: word 0 of the last 64-byte block */
		uint32_t j = ((const uint32_t *)(x + bs - 4))[0] & mask;
		blockmix_xor(x, vv + (size_t)j * bs, y, r);
		j = ((const uint32_t *)(y + bs - 4))[0] & mask;
		blockmix_xor(y, vv + (size_t)j * bs, x, r);
	}
}

/* ---- the lanes, on threads ---- */

typedef struct {
	uint8_t *b; /* p lanes of 128r bytes */
	size_t r;
	uint64_t n;
	unsigned p;
	atomic_uint next; /* next lane to take */
} job;

typedef struct {
	job *j;
	v4u *mem; /* V, then X and Y */
	size_t memsz;
	pthread_t tid;
	int started;
} worker;

static void run_lanes(job *j, v4u *mem, size_t memsz)
{
	size_t bs = 8 * j->r;
	v4u *vv = mem, *x = mem + (size_t)j->n * bs, *y = x + bs;
	for (;;) {
		unsigned k = atomic_fetch_add(&j->next, 1);
		if (k >= j->p)
			break;
		uint8_t *lane = j->b + (size_t)k * 128 * j->r;
		load_blocks((uint32_t *)x, lane, 2 * j->r);
		romix(x, y, vv, j->n, j->r);
		store_blocks(lane, (const uint32_t *)x, 2 * j->r);
	}
	astra__wipe(mem, memsz);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	run_lanes(w->j, w->mem, w->memsz);
	return NULL;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int c = CPU_COUNT(&set);
		if (c > 0 && (n < 1 || c < n))
			n = c;
	}
	return n < 1 ? 1 : (unsigned)n;
}

static void *alloc_lane_mem(size_t n)
{
	void *p = NULL;
	/* 2 MiB alignment lets the kernel back V with huge pages: fewer
	 * page faults and TLB misses in ROMix's random reads. */
	size_t align = n >= (4u << 20) ? (2u << 20) : 64;
	if (posix_memalign(&p, align, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (align > 64)
		(void)madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

/* The ROMix lanes of b in place, on up to min(p, CPUs) threads. */
static int romix_lanes(uint8_t *b, uint64_t n, size_t r, unsigned p)
{
	job j = { .b = b, .r = r, .n = n, .p = p };
	atomic_init(&j.next, 0);
	size_t memsz = (size_t)(n + 2) * 128 * r;
	unsigned nt = online_cpus();
	if (nt > p)
		nt = p;
	if (nt > 64)
		nt = 64;
	worker w[64];
	unsigned have = 0;
	for (; have < nt; have++) {
		w[have] = (worker){ .j = &j, .memsz = memsz };
		w[have].mem = alloc_lane_mem(memsz);
		if (!w[have].mem)
			break; /* fewer threads: less memory */
	}
	if (!have)
		return astra__err(ASTRA_ENOMEM, ASTRA_ERROR_NOMEMORY,
		        "scrypt: cannot allocate %zu MiB for N = %llu, r = %zu",
		        memsz >> 20, (unsigned long long)n, r);
	/* the caller's thread is worker 0; a thread that cannot start
	 * leaves its lanes to the others */
	for (unsigned i = 1; i < have; i++)
		w[i].started = pthread_create(&w[i].tid, NULL, worker_main,
		                       &w[i]) == 0;
	run_lanes(&j, w[0].mem, memsz);
	for (unsigned i = 1; i < have; i++)
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
		else
			astra__wipe(w[i].mem, memsz); /* never written */
	for (unsigned i = 0; i < have; i++)
		free(w[i].mem);
	return 0;
}

static int pbkdf2(const void *pass, size_t passlen, const void *salt,
        size_t saltlen, void *out, size_t outlen)
{
	static const unsigned char empty[1];
	if (PKCS5_PBKDF2_HMAC(pass ? pass : (const void *)empty, (int)passlen,
	            salt ? salt : empty, (int)saltlen, 1, EVP_sha256(),
	            (int)outlen, out) != 1)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_CRYPTO,
		        "scrypt: PBKDF2-HMAC-SHA256 failed");
	return 0;
}

int astra__scrypt(void *out, size_t outlen, const void *pass, size_t passlen,
        const void *salt, size_t saltlen, unsigned log2n, unsigned r,
        unsigned p)
{
	/* RFC 7914: N > 1 a power of 2, N < 2^(128 r / 8); r * p < 2^30 */
	if (log2n < 1 || log2n > 30 || r == 0 || p == 0 || r > 64 || p > 64 ||
	        log2n >= 16 * r)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "scrypt parameters out of range (log2 N %u, r %u, p %u)",
		        log2n, r, p);
	if (passlen > INT_MAX || saltlen > INT_MAX || outlen == 0 ||
	        outlen > INT_MAX)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "scrypt: password, salt or output length out of range");
	uint64_t n = 1ULL << log2n;
	if ((n + 2) > SIZE_MAX / 128 / r)
		return astra__err(ASTRA_ENOMEM, ASTRA_ERROR_NOMEMORY,
		        "scrypt: N = 2^%u, r = %u does not fit in memory",
		        log2n, r);
	size_t blen = (size_t)128 * r * p;
	uint8_t *b = malloc(blen);
	if (!b)
		return astra__err_oom();
	int rc = pbkdf2(pass, passlen, salt, saltlen, b, blen);
	if (!rc)
		rc = romix_lanes(b, n, r, p);
	if (!rc)
		rc = pbkdf2(pass, passlen, b, blen, out, outlen);
	astra__free_secret(b, blen);
	return rc;
}

uint64_t astra__scrypt_work(unsigned log2n, unsigned r, unsigned p)
{
	if (log2n > 40)
		return 0;
	return (1ULL << log2n) * r * p;
}

int astra__scrypt_check_slot(
        const char *what, int64_t log2n, int64_t r, int64_t p)
{
	if (log2n < 1 || log2n > 30 || r < 1 || r > 64 || p < 1 || p > 64 ||
	        log2n >= 16 * r)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_CRYPTO,
		        "%s: scrypt parameters log2n %lld, r %lld, p %lld are "
		        "out of range (1 <= log2n <= 30, 1 <= r <= 64, "
		        "1 <= p <= 64, N < 2^(16 r))",
		        what, (long long)log2n, (long long)r, (long long)p);
	uint64_t lane = (1ULL << log2n) * 128 * (uint64_t)r;
	if (lane > ASTRA__SCRYPT_MAX_LANE_BYTES)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_CRYPTO,
		        "%s: scrypt parameters log2n %lld, r %lld need %llu "
		        "MiB per lane, more than the %llu MiB a reader allows",
		        what, (long long)log2n, (long long)r,
		        (unsigned long long)(lane >> 20),
		        (unsigned long long)(ASTRA__SCRYPT_MAX_LANE_BYTES >>
		                             20));
	uint64_t work =
	        astra__scrypt_work((unsigned)log2n, (unsigned)r, (unsigned)p);
	if (work > ASTRA__SCRYPT_MAX_WORK)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_CRYPTO,
		        "%s: scrypt parameters log2n %lld, r %lld, p %lld "
		        "cost N*r*p = 2^%d, more than the 2^%d a reader allows",
		        what, (long long)log2n, (long long)r, (long long)p,
		        63 - __builtin_clzll(work),
		        63 - __builtin_clzll(ASTRA__SCRYPT_MAX_WORK));
	return 0;
}

/* ---- the RFC's intermediate functions, for known-answer tests ---- */

void astra__scrypt_salsa20_8(uint8_t b[64])
{
	v4u w[4] __attribute__((aligned(16)));
	load_blocks((uint32_t *)w, b, 1);
	v4u a = w[0], bb = w[1], c = w[2], d = w[3];
	SALSA20_8(a, bb, c, d);
	w[0] = a;
	w[1] = bb;
	w[2] = c;
	w[3] = d;
	store_blocks(b, (const uint32_t *)w, 1);
}

int astra__scrypt_blockmix(uint8_t *b, unsigned r)
{
	v4u *x = alloc_lane_mem((size_t)256 * r);
	if (!x)
		return astra__err_oom();
	load_blocks((uint32_t *)x, b, 2 * r);
	blockmix_plain(x, x + 8 * r, r);
	store_blocks(b, (const uint32_t *)(x + 8 * r), 2 * r);
	free(x);
	return 0;
}

int astra__scrypt_romix(uint8_t *b, unsigned r, unsigned log2n)
{
	if (log2n < 1 || log2n > 20 || r == 0 || r > 64)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "scrypt ROMix parameters out of range");
	return romix_lanes(b, 1ULL << log2n, r, 1);
}
