/*
 * Cryptography over OpenSSL 3. This module is the only user of OpenSSL.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CRYPTO_CRYPTO_H
#define ASTRA_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

int astra__crypto_global_init(void);
/* OpenSSL's version string. */
const char *astra__crypto_version(void);

#endif
