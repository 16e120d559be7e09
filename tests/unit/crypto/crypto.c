#include <pthread.h>
#include <string.h>

#include "astra_test.h"
#include "compress/compress.h"
#include "core/base64.h"
#include "core/buf.h"
#include "crypto/crypto.h"

static void hex(char *out, const void *p, size_t n)
{
	astra__hex_encode(out, p, n);
}

Test(crypto_kat, sha256_abc)
{
	uint8_t d[32];
	char h[65];
	cr_assert_astra_ok(astra__sha256("abc", 3, d));
	hex(h, d, 32);
	cr_assert_str_eq(h,
	        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(crypto_kat, hmac_sha256_rfc4231_case2)
{
	astra__mac *m;
	uint8_t d[32];
	char h[65];
	cr_assert_astra_ok(astra__mac_new(&m, "Jefe", 4));
	const char *msg = "what do ya want for nothing?";
	cr_assert_astra_ok(astra__mac_compute(m, msg, strlen(msg), d));
	hex(h, d, 32);
	cr_assert_str_eq(h,
	        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* the same context is reusable */
	cr_assert_astra_ok(astra__mac_compute(m, msg, strlen(msg), d));
	hex(h, d, 32);
	cr_assert_str_eq(h,
	        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	astra__mac_free(m);
}

Test(crypto_kat, hkdf_sha256_rfc5869_case1)
{
	uint8_t ikm[22], salt[13], okm[42];
	char h[85];
	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	/* the RFC's info is bytes f0..f9 */
	char info[11];
	for (int i = 0; i < 10; i++)
		info[i] = (char)(0xf0 + i);
	info[10] = 0;
	cr_assert_astra_ok(astra__hkdf_sha256(
	        okm, sizeof(okm), ikm, sizeof(ikm), salt, sizeof(salt), info));
	hex(h, okm, 42);
	cr_assert_str_eq(h,
	        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

Test(crypto_kat, aes256gcm_known_answer)
{
	uint8_t key[32] = { 0 }, nonce[12] = { 0 }, zero[16] = { 0 };
	uint8_t out[16 + ASTRA_AEAD_OVERHEAD];
	char h[200];
	cr_assert_astra_ok(
	        astra__aead_seal_nonce(key, nonce, NULL, 0, zero, 16, out));
	hex(h, out + 12, 32);
	cr_assert_str_eq(h,
	        "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
	uint8_t out2[11 + ASTRA_AEAD_OVERHEAD];
	cr_assert_astra_ok(astra__aead_seal_nonce(
	        key, nonce, "aad", 3, "hello astra", 11, out2));
	hex(h, out2 + 12, 27);
	cr_assert_str_eq(
	        h, "a6c22c5122400a1d733ca4a20ee702c4b8e186b949d442020f769f");
}

Test(crypto_aead, round_trip_and_tamper_detection)
{
	uint8_t key[32], key2[32];
	astra__random(key, 32);
	astra__random(key2, 32);
	const char msg[] = "secret manifest";
	uint8_t sealed[sizeof(msg) + ASTRA_AEAD_OVERHEAD], plain[sizeof(msg)];
	cr_assert_astra_ok(
	        astra__aead_seal(key, "id", 2, msg, sizeof(msg), sealed));
	cr_assert_astra_ok(
	        astra__aead_open(key, "id", 2, sealed, sizeof(sealed), plain));
	cr_assert_str_eq((char *)plain, msg);
	/* wrong key, wrong aad, flipped bit, truncation */
	cr_assert_eq(
	        astra__aead_open(key2, "id", 2, sealed, sizeof(sealed), plain),
	        ASTRA_ECORRUPT);
	cr_assert_eq(
	        astra__aead_open(key, "ix", 2, sealed, sizeof(sealed), plain),
	        ASTRA_ECORRUPT);
	for (size_t i = 0; i < sizeof(sealed); i++) {
		sealed[i] ^= 0x10;
		cr_assert_eq(astra__aead_open(key, "id", 2, sealed,
		                     sizeof(sealed), plain),
		        ASTRA_ECORRUPT, "byte %zu", i);
		sealed[i] ^= 0x10;
	}
	cr_assert_eq(astra__aead_open(key, "id", 2, sealed, 10, plain),
	        ASTRA_ECORRUPT);
	/* two seals of the same text differ (random nonces) */
	uint8_t s2[sizeof(sealed)];
	astra__aead_seal(key, "id", 2, msg, sizeof(msg), s2);
	cr_assert(memcmp(sealed, s2, sizeof(s2)) != 0);
}

Test(compress_zstd, round_trip_and_heuristic)
{
	enum { N = 1 << 20 };
	char *text = malloc(N), *rnd = malloc(N), *back = malloc(N);
	for (size_t i = 0; i < N; i++)
		text[i] = "{\"log\": \"line\"}\n"[i % 16];
	astra__random(rnd, N);
	cr_assert(astra__compressible(text, N));
	cr_assert(!astra__compressible(rnd, N));
	size_t cap = astra__zstd_bound(N), out;
	char *c = malloc(cap);
	cr_assert_astra_ok(astra__zstd_compress(c, cap, text, N, 1, &out));
	cr_assert_lt(out, N / 50);
	cr_assert_astra_ok(astra__zstd_decompress(back, N, c, out));
	cr_assert(memcmp(back, text, N) == 0);
	c[out / 2] ^= 0x55;
	cr_assert_eq(astra__zstd_decompress(back, N, c, out), ASTRA_ECORRUPT);
	cr_assert_eq(astra__zstd_decompress(back, N - 1, c, 5), ASTRA_ECORRUPT);
	free(text);
	free(rnd);
	free(back);
	free(c);
}

Test(core_base64, round_trip_and_rejects_garbage)
{
	astra_buf b = ASTRA_BUF_INIT, d = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_encode(&b, "foobar", 6));
	cr_assert_str_eq(b.ptr, "Zm9vYmFy");
	astra__buf_clear(&b);
	cr_assert_astra_ok(astra__base64_encode(&b, "fooba", 5));
	cr_assert_str_eq(b.ptr, "Zm9vYmE=");
	cr_assert_astra_ok(astra__base64_decode(&d, b.ptr, b.size));
	cr_assert_eq(d.size, 5);
	cr_assert(memcmp(d.ptr, "fooba", 5) == 0);
	astra__buf_clear(&d);
	cr_assert_eq(astra__base64_decode(&d, "Zm9v*mE=", 8), ASTRA_EPARSE);
	uint8_t raw[2];
	cr_assert_eq(astra__hex_decode(raw, 2, "zz00"), ASTRA_EPARSE);
	cr_assert_eq(astra__hex_decode(raw, 2, "abc"), ASTRA_EPARSE);
	cr_assert_astra_ok(astra__hex_decode(raw, 2, "ab0F"));
	cr_assert_eq(raw[0], 0xab);
	cr_assert_eq(raw[1], 0x0f);
	astra_buf_dispose(&b);
	astra_buf_dispose(&d);
}

/* A kept-up key: same format as the one-shot calls, every message
 * independent (a failed open leaves nothing behind for the next one), in
 * place, and from several threads at once. */
typedef struct {
	astra__aead *a;
	int bad;
} aead_thread;

static void *aead_worker(void *arg)
{
	aead_thread *t = arg;
	uint8_t msg[3000], sealed[sizeof(msg) + ASTRA_AEAD_OVERHEAD],
	        back[sizeof(msg)];
	for (int i = 0; i < 400; i++) {
		size_t n = (size_t)(i * 37) % sizeof(msg);
		memset(msg, i, n);
		if (astra__aead_seal_with(t->a, "aad", 3, msg, n, sealed) ||
		        astra__aead_open_with(t->a, "aad", 3, sealed,
		                n + ASTRA_AEAD_OVERHEAD, back) ||
		        memcmp(msg, back, n))
			t->bad++;
		sealed[i % (n + ASTRA_AEAD_OVERHEAD)] ^= 1;
		if (astra__aead_open_with(t->a, "aad", 3, sealed,
		            n + ASTRA_AEAD_OVERHEAD, back) != ASTRA_ECORRUPT)
			t->bad++;
	}
	return NULL;
}

Test(crypto_aead, kept_key_matches_one_shot_calls_and_is_thread_safe)
{
	uint8_t key[32];
	astra__random(key, 32);
	astra__aead *a = NULL;
	cr_assert_astra_ok(astra__aead_new(&a, key));
	const char msg[] = "a blob of a vault";
	uint8_t sealed[sizeof(msg) + ASTRA_AEAD_OVERHEAD], plain[sizeof(msg)];
	/* kept -> one-shot and one-shot -> kept */
	cr_assert_astra_ok(
	        astra__aead_seal_with(a, "x", 1, msg, sizeof(msg), sealed));
	cr_assert_astra_ok(
	        astra__aead_open(key, "x", 1, sealed, sizeof(sealed), plain));
	cr_assert_str_eq((char *)plain, msg);
	cr_assert_astra_ok(
	        astra__aead_seal(key, "y", 1, msg, sizeof(msg), sealed));
	memset(plain, 0, sizeof(plain));
	cr_assert_astra_ok(astra__aead_open_with(
	        a, "y", 1, sealed, sizeof(sealed), plain));
	cr_assert_str_eq((char *)plain, msg);
	/* a failure does not poison the next message */
	cr_assert_eq(
	        astra__aead_open_with(a, "z", 1, sealed, sizeof(sealed), plain),
	        ASTRA_ECORRUPT);
	cr_assert_astra_ok(astra__aead_open_with(
	        a, "y", 1, sealed, sizeof(sealed), plain));
	/* in place: the plaintext sits where the ciphertext goes */
	uint8_t buf[64 + ASTRA_AEAD_OVERHEAD];
	memcpy(buf + ASTRA_AEAD_NONCE_LEN, msg, sizeof(msg));
	cr_assert_astra_ok(astra__aead_seal_with(
	        a, "x", 1, buf + ASTRA_AEAD_NONCE_LEN, sizeof(msg), buf));
	cr_assert_astra_ok(astra__aead_open(
	        key, "x", 1, buf, sizeof(msg) + ASTRA_AEAD_OVERHEAD, plain));
	cr_assert_str_eq((char *)plain, msg);
	aead_thread t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i].a = a;
		t[i].bad = 0;
		pthread_create(&th[i], NULL, aead_worker, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(
		        t[i].bad, 0, "thread %d: %d failures", i, t[i].bad);
	}
	astra__aead_free(a);
}
