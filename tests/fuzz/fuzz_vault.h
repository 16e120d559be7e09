/*
 * Helpers of the vault-object fuzz targets: a repository handle with a
 * fixed, known key (no store), so that a harness can seal the fuzzer's
 * bytes and reach the parsers behind authentication.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_FUZZ_VAULT_H
#define ASTRA_FUZZ_VAULT_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "repo/repo.h"

static inline astra__repo *fuzz_repo(void)
{
	static astra__repo r;
	static int ready;
	if (!ready) {
		memset(r.enc_key, 0x11, sizeof(r.enc_key));
		memset(r.mac_key, 0x22, sizeof(r.mac_key));
		if (astra__aead_new(&r.aead, r.enc_key) != 0)
			abort();
		if (astra__mac_new(&r.mac, r.mac_key, 32) != 0)
			abort();
		r.blob_alg = ASTRA_BLOB_ID_BLAKE3_KEYED;
		pthread_rwlock_init(&r.lock, NULL);
		pthread_mutex_init(&r.load_mu, NULL);
		ready = 1;
	}
	return &r;
}

static inline uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void fuzz_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
