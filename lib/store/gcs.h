/*
 * Pieces of the gs:// store (gcs.c) that are pure logic, exposed for the
 * unit tests: the service-account JWT, the parsing of bucket and object
 * resources, and the mapping of error responses.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_GCS_H
#define ASTRA_STORE_GCS_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "fmt/json.h"
#include "store/store.h"

/*
 * A signed JWT ("header.claims.signature", base64url without padding,
 * RS256) asserting a Google service account for the OAuth 2.0 JWT bearer
 * grant: iss = email, scope, aud = the token URI, iat = now, exp = now +
 * lifetime. key_id (the key file's private_key_id) goes into the header's
 * "kid" when given. Appended to *out.
 */
int astra__gcs_jwt(const char *email, const char *key_id, const char *key_pem,
        size_t key_len, const char *scope, const char *aud, int64_t now,
        unsigned lifetime, astra_buf *out);

/* base64url without padding (RFC 7515 section 2), appended to *out. */
int astra__gcs_b64url(astra_buf *out, const void *data, size_t n);

/* What a bucket resource says about immutability and versioning. */
typedef struct {
	int versioning; /* versioning.enabled */
	int object_retention; /* objectRetention.mode == "Enabled" */
	int64_t retention_period; /* retentionPolicy.retentionPeriod, s */
	int retention_locked; /* retentionPolicy.isLocked */
} astra__gcs_bucket;

int astra__gcs_parse_bucket(const astra__json *b, astra__gcs_bucket *out);

/*
 * An object resource into info (key not set): size, updated, retention
 * (the later of retention.retainUntilTime and retentionExpirationTime, the
 * bucket policy's), lock mode (Locked = compliance, Unlocked = governance)
 * and holds (temporaryHold, eventBasedHold as legal_hold). *generation
 * receives the generation when not NULL. ASTRA_EPARSE when size is
 * missing.
 */
int astra__gcs_parse_object(
        const astra__json *o, astra__obj_info *info, int64_t *generation);

/* Error details of a JSON API (or OAuth 2.0 token endpoint) response. */
typedef struct {
	char reason[96]; /* errors[0].reason, or the OAuth "error" */
	char message[320];
} astra__gcs_err;

void astra__gcs_parse_error(const char *body, size_t n, astra__gcs_err *e);

/* The astra code for a failed response: 401/403 ASTRA_EAUTH (403 about
 * retention or holds: ASTRA_EPOLICY), 404 ASTRA_ENOTFOUND, 412
 * ASTRA_EEXISTS, 409 ASTRA_ECONFLICT, 416 ASTRA_ECORRUPT, 429/5xx
 * ASTRA_ENET, 400 ASTRA_EINVALID, ... */
int astra__gcs_error_code(long status, const astra__gcs_err *e);

#endif
