/*
 * Internals of the azure:// store shared by azure.c (the store) and
 * azure_auth.c (credentials and signing), and exposed for the unit tests.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_AZURE_H
#define ASTRA_STORE_AZURE_H

#include <stdint.h>

#include "astra/common.h"
#include "crypto/crypto.h"

#define ASTRA__AZURE_API_VERSION "2021-12-02"
#define ASTRA__AZURE_MAX_HEADERS 16
#define ASTRA__AZURE_MAX_PARAMS 8

/* Where the store is and how it authenticates (azure_auth.c). */
typedef struct {
	char *account;
	char *ep_base; /* "scheme://host[:port]" */
	char *ep_path; /* "" or "/path" (e.g. the emulator's "/account") */
	astra__mac *key; /* Shared Key, or NULL */
	char *sas; /* SAS query without '?', or NULL (a secret) */
	const char *cred_source; /* for the log */
} astra__azure_auth;

/* The URL options that choose them (NULL: not given). */
typedef struct {
	char *account, *endpoint, *suffix;
} astra__azure_auth_opts;

/*
 * Credentials and endpoint, in this order: the connection string
 * ($AZURE_STORAGE_CONNECTION_STRING), the account key
 * ($AZURE_STORAGE_KEY), the SAS token ($AZURE_STORAGE_SAS_TOKEN); errors
 * name url and where a value came from, never a secret.
 */
int astra__azure_auth_resolve(
        astra__azure_auth *s, const char *url, const astra__azure_auth_opts *o);
void astra__azure_auth_free(astra__azure_auth *a);

/* "Sun, 22 Nov 2026 01:02:03 GMT" (30 bytes with the NUL). */
void astra__azure_rfc1123(char out[32], int64_t t);

/* Appends the "Authorization: SharedKey account:signature" line of a
 * request (arguments as astra__azure_string_to_sign's) to *out. */
int astra__azure_shared_key(const astra__azure_auth *a, const char *method,
        const char *const *lines, const char *epath, const char *const *params,
        astra_buf *out);

/* Appends the base64 signature of a service SAS for one blob
 * (container/blob_prefix+key; start and expiry as ISO 8601 UTC) to *sig. */
int astra__azure_sas_sig(const astra__azure_auth *a, const char *perm,
        const char *start, const char *expiry, const char *container,
        const char *blob_prefix, const char *key, astra_buf *sig);

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
