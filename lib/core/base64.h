/*
 * Base64 (RFC 4648, standard alphabet, padded).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_BASE64_H
#define ASTRA_CORE_BASE64_H

#include "astra/common.h"

int astra__base64_encode(astra_buf *out, const void *data, size_t n);
/* Rejects characters outside the alphabet (whitespace is skipped). */
int astra__base64_decode(astra_buf *out, const char *s, size_t n);
/* Lower-case hex to bytes: exactly 2*n hex digits. 0 or ASTRA_EPARSE. */
int astra__hex_decode(void *out, size_t n, const char *hex);
void astra__hex_encode(char *out, const void *data, size_t n);

#endif
