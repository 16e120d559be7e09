/*
 * AWS Signature Version 4: header signing and presigned URLs.
 *
 * libcurl 7.88's CURLOPT_AWS_SIGV4 is not used: it cannot presign, it does
 * not hash bodies sent through a read callback, it does not let the caller
 * choose the payload hash (UNSIGNED-PAYLOAD, or the hex SHA-256 S3 needs in
 * x-amz-content-sha256), its query canonicalisation had bugs until 8.x, and
 * it would sign inside lib/net where the S3 rules do not belong. This
 * signer is small and checked against the AWS SigV4 test suite
 * (tests/unit/store/sigv4.c) and the S3 API reference examples.
 *
 * S3 rules (also the defaults here): the path is URI-encoded once, '/'
 * kept, and never normalised (S3 keys may contain "//" or "./"); query keys
 * and values are decoded and re-encoded canonically, then sorted.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_SIGV4_H
#define ASTRA_STORE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"

#define ASTRA_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* hex SHA-256 of nothing */
#define ASTRA_SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL or "" when none */
} astra__aws_creds;

/* astra__sigv4_req.flags */
#define ASTRA_SIGV4_NORMALIZE_PATH 0x1u /* remove dot segments, "//" */
#define ASTRA_SIGV4_CONTENT_SHA256 0x2u /* send x-amz-content-sha256 */
#define ASTRA_SIGV4_OMIT_TOKEN 0x4u /* token added after signing */

typedef struct {
	const char *method;
	const char *path; /* not encoded ("/bucket/a key"); "" means "/" */
	const char *query; /* as sent, encoded; NULL or "" when none */
	/* "Name: value" lines, NULL-terminated; must include Host */
	const char *const *headers;
	const char *payload_hash; /* hex SHA-256 or UNSIGNED-PAYLOAD */
	const char *region;
	const char *service;
	int64_t time; /* Unix seconds */
	unsigned flags;
} astra__sigv4_req;

/*
 * Signs a request for the Authorization header. Appends to `add` the header
 * lines the request must also carry, each "Name: value\n": X-Amz-Date,
 * X-Amz-Content-Sha256 (with the flag), X-Amz-Security-Token (with a
 * token) and Authorization. `creq` and `sts` (may be NULL) receive the
 * canonical request and string to sign, for tests.
 */
int astra__sigv4_sign(const astra__sigv4_req *req, const astra__aws_creds *c,
        astra_buf *add, astra_buf *creq, astra_buf *sts);

/*
 * Presigns: appends to `query_out` the complete query string for the URL
 * (the request's own query, then X-Amz-Algorithm, -Credential, -Date,
 * -Expires, -SignedHeaders, -Security-Token and -Signature). Only the
 * headers given are signed (at least Host). expires: 1..604800 seconds.
 */
int astra__sigv4_presign(const astra__sigv4_req *req, const astra__aws_creds *c,
        unsigned expires, astra_buf *query_out, astra_buf *creq,
        astra_buf *sts);

/* URI-encodes s (RFC 3986 unreserved characters kept; '/' kept when
 * keep_slash), as SigV4 and S3 object paths need. */
int astra__sigv4_encode(astra_buf *b, const char *s, size_t n, int keep_slash);

/* "20150830T123600Z" (at least 17 bytes) from Unix seconds. */
void astra__sigv4_amz_date(char *out, int64_t t);

#endif
