/*
 * Content-defined chunking: FastCDC-style normalized chunking with a gear
 * rolling hash whose table is derived from the vault's secret chunker key,
 * so chunk boundaries depend on the key and do not fingerprint the data
 * for anyone without it (see docs/format.md, "Chunking").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_CHUNKER_H
#define ASTRA_REPO_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t gear[256];
	size_t min, avg, max;
	uint64_t mask_s, mask_l; /* stricter before avg, looser after */
} astra__chunker;

/* avg must be a power of two; min < avg < max. */
int astra__chunker_init(astra__chunker *c, const uint8_t key[32], size_t min,
        size_t avg, size_t max);

/*
 * Length of the next chunk at the start of data[0..n). When `eof` is 0 and
 * no boundary is found before n (n < max), returns 0: call again with more
 * data. With eof set, returns n when no boundary is found.
 */
size_t astra__chunker_next(
        const astra__chunker *c, const uint8_t *data, size_t n, int eof);

#endif
