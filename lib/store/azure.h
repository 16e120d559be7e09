/*
 * Internals of the azure:// store (azure.c) exposed for the unit tests.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_AZURE_H
#define ASTRA_STORE_AZURE_H

#include "astra/common.h"

/*
 * Appends the Shared Key string to sign of a request: `headers` are the
 * "Name: value" lines sent (NULL-terminated), `epath` the encoded path as
 * sent (with the emulator's account segment, if any), `params` the query
 * as name, value pairs (values not encoded; NULL-terminated).
 */
int astra__azure_string_to_sign(astra_buf *out, const char *method,
        const char *const *headers, const char *account, const char *epath,
        const char *const *params);

#endif
