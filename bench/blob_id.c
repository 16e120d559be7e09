/*
 * Blob id throughput on one core: HMAC-SHA256 (OpenSSL, the "hmac-sha256"
 * blob ids) against BLAKE3 keyed_hash ("blake3-keyed") on each of its
 * paths, for inputs of 100 B, 4 KiB, 1 MiB and 8 MiB. Prints a Markdown
 * table of GB/s (10^9 bytes per second of thread CPU time, the best of
 * five runs). A tool for people, not a test:
 *   build/release/tests/astra_bench_blob_id [seconds-per-run]
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/blake3.h"
#include "crypto/crypto.h"

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const uint8_t key[32] = "an example key of thirty-two b..";
static astra__mac *mac;
static volatile uint8_t sink;

/* impl: -2 HMAC-SHA256, else an ASTRA_BLAKE3_* */
static void one(int impl, const uint8_t *d, size_t n)
{
	uint8_t out[32];
	if (impl == -2)
		astra__mac_compute(mac, d, n, out);
	else
		astra__blake3_with(impl, key, d, n, out);
	sink ^= out[0];
}

static double rate(int impl, const uint8_t *d, size_t n, double secs)
{
	double best = 0;
	for (int run = 0; run < 5; run++) {
		size_t iters = 0;
		double t0 = cpu_now(), t;
		do {
			for (int k = 0; k < 8; k++)
				one(impl, d, n);
			iters += 8;
			t = cpu_now() - t0;
		} while (t < secs / 5);
		double r = (double)iters * (double)n / t / 1e9;
		best = r > best ? r : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	static const size_t sizes[] = { 100, 4096, 1 << 20, 8 << 20 };
	static const char *names[] = { "100 B", "4 KiB", "1 MiB", "8 MiB" };
	size_t max = 8 << 20;
	uint8_t *d = malloc(max);
	if (!d || astra__crypto_global_init() || astra__random(d, max) ||
	        astra__mac_new(&mac, key, sizeof(key))) {
		fprintf(stderr, "astra_bench_blob_id: setup failed\n");
		return 1;
	}
	struct {
		int impl;
		const char *name;
	} rows[] = { { -2, "HMAC-SHA256 (OpenSSL)" },
		{ ASTRA_BLAKE3_PORTABLE, "BLAKE3 keyed, portable" },
		{ ASTRA_BLAKE3_VEC4, "BLAKE3 keyed, 4-lane vectors" },
		{ ASTRA_BLAKE3_AVX2, "BLAKE3 keyed, AVX2" },
		{ ASTRA_BLAKE3_AVX512, "BLAKE3 keyed, AVX-512" } };
	printf("| GB/s, one core |");
	for (size_t s = 0; s < 4; s++)
		printf(" %s |", names[s]);
	printf("\n|---|---|---|---|---|\n");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (rows[r].impl >= 0 && !astra__blake3_supported(rows[r].impl))
			continue;
		printf("| %s |", rows[r].name);
		for (size_t s = 0; s < 4; s++)
			printf(" %.2f |",
			        rate(rows[r].impl, d, sizes[s], secs));
		printf("\n");
		fflush(stdout);
	}
	printf("\ndispatch: %s\n", astra__blake3_impl_name(ASTRA_BLAKE3_AUTO));
	astra__mac_free(mac);
	free(d);
	return 0;
}
