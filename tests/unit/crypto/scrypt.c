/*
 * scrypt (lib/crypto/scrypt.c): RFC 7914's known answers for every step,
 * and a randomized cross-check against OpenSSL's EVP_PBE_scrypt (the
 * implementation that derived key slots before, and an independent one).
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "astra_test.h"
#include "core/base64.h"
#include "crypto/crypto.h"

TestSuite(crypto_scrypt, .timeout = 120);

static void unhex(uint8_t *out, size_t n, const char *h)
{
	cr_assert_eq(strlen(h), 2 * n);
	cr_assert_astra_ok(astra__hex_decode(out, n, h));
}

static void expect_hex(const uint8_t *got, size_t n, const char *want)
{
	char *h = malloc(2 * n + 1);
	astra__hex_encode(h, got, n);
	cr_assert_str_eq(h, want);
	free(h);
}

/* RFC 7914 section 8 */
Test(crypto_scrypt, rfc7914_salsa20_8_core)
{
	uint8_t b[64];
	unhex(b, 64,
	        "7e879a214f3ec9867ca940e641718f26baee555b8c61c1b50df846116dcd3b1d"
	        "ee24f319df9b3d8514121e4b5ac5aa3276021d2909c74829edebc68db8b8c25e");
	astra__scrypt_salsa20_8(b);
	expect_hex(b, 64,
	        "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29"
	        "b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81");
}

static const char rfc_block_in[] =
        "f7ce0b653d2d72a4108cf5abe912ffdd777616dbbb27a70e8204f3ae2d0f6fad"
        "89f68f4811d1e87bcc3bd7400a9ffd29094f0184639574f39ae5a1315217bcd7"
        "894991447213bb226c25b54da86370fbcd984380374666bb8ffcb5bf40c254b0"
        "67d27c51ce4ad5fed829c90b505a571b7f4d1cad6a523cda770e67bceaaf7e89";

/* RFC 7914 section 9, r = 1 */
Test(crypto_scrypt, rfc7914_blockmix)
{
	uint8_t b[128];
	unhex(b, 128, rfc_block_in);
	cr_assert_astra_ok(astra__scrypt_blockmix(b, 1));
	expect_hex(b, 128,
	        "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29"
	        "b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81"
	        "20edc975323881a80540f64c162dcd3c21077cfe5f8d5fe2b1a4168f953678b7"
	        "7d3b3d803b60e4ab920996e59b4d53b65d2a225877d5edf5842cb9f14eefe425");
}

/* RFC 7914 section 10, r = 1, N = 16 */
Test(crypto_scrypt, rfc7914_romix)
{
	uint8_t b[128];
	unhex(b, 128, rfc_block_in);
	cr_assert_astra_ok(astra__scrypt_romix(b, 1, 4));
	expect_hex(b, 128,
	        "79ccc193629debca047f0b70604bf6b62ce3dd4a9626e355fafc6198e6ea2b46"
	        "d58413673b99b029d665c357601fb426a0b2f4bba200ee9f0a43d19b571a9c71"
	        "ef1142e65d5a266fddca832ce59faa7cac0b9cf1be2bffca300d01ee387619c4"
	        "ae12fd4438f203a0e4e1c47ec314861f4e9087cb33396a6873e8f9d2539a4b8e");
}

static void rfc_case(const char *pass, const char *salt, unsigned log2n,
        unsigned r, unsigned p, const char *want)
{
	uint8_t out[64];
	cr_assert_astra_ok(astra__scrypt(out, sizeof(out), pass, strlen(pass),
	        salt, strlen(salt), log2n, r, p));
	expect_hex(out, sizeof(out), want);
}

/* RFC 7914 section 12: the four scrypt test vectors */
Test(crypto_scrypt, rfc7914_case1_n16_r1_p1)
{
	rfc_case("", "", 4, 1, 1,
	        "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
	        "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
}

Test(crypto_scrypt, rfc7914_case2_n1024_r8_p16)
{
	/* 16 lanes on up to min(16, CPUs) threads */
	rfc_case("password", "NaCl", 10, 8, 16,
	        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
	        "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

Test(crypto_scrypt, rfc7914_case3_n16384_r8_p1)
{
	rfc_case("pleaseletmein", "SodiumChloride", 14, 8, 1,
	        "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
	        "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

/* 1 GiB and about 3 s in a Debug build (scrypt.c is always optimised) */
Test(crypto_scrypt, rfc7914_case4_n1048576_r8_p1)
{
	rfc_case("pleaseletmein", "SodiumChloride", 20, 8, 1,
	        "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47"
	        "8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4");
}

/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % bound);
}

Test(crypto_scrypt, matches_openssl_for_random_parameters)
{
	static const unsigned ps[] = { 1, 2, 3, 2, 3, 4, 5, 1 };
	for (int round = 0; round < 40; round++) {
		unsigned r = 1 + rnd(round % 5 == 0 ? 16 : 8);
		unsigned p = ps[round % 8];
		/* N < 2^(16 r) for r = 1; stay small enough to be quick */
		unsigned log2n = 1 + rnd(r == 1 ? 12 : 11);
		size_t passlen = rnd(80), saltlen = rnd(80);
		/* odd lengths, shorter and longer than one SHA-256 block */
		size_t dklen = 1 + 2 * rnd(100);
		uint8_t pass[80], salt[80], got[201], want[201];
		for (size_t i = 0; i < passlen; i++)
			pass[i] = (uint8_t)rnd(256);
		for (size_t i = 0; i < saltlen; i++)
			salt[i] = (uint8_t)rnd(256);
		uint64_t n = 1ULL << log2n;
		cr_assert_eq(EVP_PBE_scrypt((const char *)pass, passlen, salt,
		                     saltlen, n, r, p, 0, want, dklen),
		        1);
		cr_assert_astra_ok(astra__scrypt(
		        got, dklen, pass, passlen, salt, saltlen, log2n, r, p));
		cr_assert(memcmp(got, want, dklen) == 0,
		        "round %d: N = 2^%u, r = %u, p = %u, password %zu "
		        "bytes, salt %zu bytes, dklen %zu",
		        round, log2n, r, p, passlen, saltlen, dklen);
	}
}

/* The parameters of key slots: the old default (p = 1) and the new one
 * (p = 2 on two threads), each against OpenSSL at full size. */
Test(crypto_scrypt, matches_openssl_for_key_slot_defaults)
{
	static const struct {
		unsigned log2n, p;
	} c[] = { { 17, 1 }, { 16, 2 } };
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t got[32], want[32];
		cr_assert_eq(EVP_PBE_scrypt("correct horse", 13,
		                     (const unsigned char *)"0123456789abcdef",
		                     16, 1ULL << c[i].log2n, 8, c[i].p,
		                     (300ULL << 20), want, 32),
		        1);
		cr_assert_astra_ok(astra__scrypt(got, 32, "correct horse", 13,
		        "0123456789abcdef", 16, c[i].log2n, 8, c[i].p));
		cr_assert(memcmp(got, want, 32) == 0, "N = 2^%u, p = %u",
		        c[i].log2n, c[i].p);
	}
}

Test(crypto_scrypt, parameters_out_of_range_are_refused)
{
	uint8_t out[32];
	static const unsigned bad[][3] = {
		{ 0, 8, 1 }, /* N = 1 */
		{ 31, 8, 1 }, /* N too large */
		{ 10, 0, 1 }, /* r = 0 */
		{ 10, 65, 1 }, /* r too large */
		{ 10, 8, 0 }, /* p = 0 */
		{ 10, 8, 65 }, /* p too large */
		{ 16, 1, 1 }, /* N >= 2^(16 r) */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_astra_fail(astra__scrypt(out, 32, "x", 1, "y", 1,
		                             bad[i][0], bad[i][1], bad[i][2]),
		        ASTRA_EINVALID);
		cr_assert(strstr(astra_error_last()->message, "scrypt"));
	}
	cr_assert_astra_fail(
	        astra__scrypt(out, 0, "x", 1, "y", 1, 4, 1, 1), ASTRA_EINVALID);
	/* the largest r = 1 cost is still accepted */
	cr_assert_astra_ok(astra__scrypt(out, 32, "x", 1, "y", 1, 15, 1, 1));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
/* (Sanitizer runtimes abort on an allocation they cannot serve instead of
 * returning NULL, so this one runs in the plain builds.) */
Test(crypto_scrypt, memory_that_cannot_be_had_is_enomem)
{
	/* Each test runs in its own process: cap its address space. */
	struct rlimit rl = { .rlim_cur = 1ULL << 30, .rlim_max = 1ULL << 30 };
	cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
	uint8_t out[32];
	/* 2 GiB per lane */
	cr_assert_astra_fail(
	        astra__scrypt(out, 32, "x", 1, "y", 1, 21, 8, 2), ASTRA_ENOMEM);
	cr_assert(strstr(astra_error_last()->message, "MiB"));
	/* and a cost that fits still works afterwards */
	cr_assert_astra_ok(astra__scrypt(out, 32, "x", 1, "y", 1, 10, 8, 2));
}
#endif
