/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "core/error.h"

int astra__crypto_global_init(void)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_CRYPTO,
		        "cannot initialise OpenSSL");
	return 0;
}

const char *astra__crypto_version(void)
{
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}
