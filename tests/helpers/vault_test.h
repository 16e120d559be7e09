/*
 * Vault options the unit and stress tests share.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_VAULT_TEST_H
#define ASTRA_VAULT_TEST_H

#include "astra/vault.h"

/* A fast key derivation (N = 2^10) and small chunks (16/64/256 KiB) and
 * packs (1 MiB), so that small test trees exercise many of each. */
static inline astra_vault_options test_vault_options(
        const char *password, unsigned threads)
{
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = password;
	o.kdf_log2n = 10;
	o.chunk_min = 16 << 10;
	o.chunk_avg = 64 << 10;
	o.chunk_max = 256 << 10;
	o.pack_size = 1 << 20;
	o.threads = threads;
	return o;
}

#endif
