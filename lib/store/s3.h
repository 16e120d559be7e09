/*
 * Internals of the s3:// store shared by s3.c (the store's operations and
 * opening), s3_req.c (signed requests with the S3-level retries, error
 * mapping, checksum and object lock headers) and s3_multipart.c
 * (multipart uploads). Internal to lib/store; nothing here is exported.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_S3_H
#define ASTRA_STORE_S3_H

#include <stdatomic.h>
#include <stddef.h>

#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/store.h"

#define MIB ((size_t)1 << 20)
#define MAX_EXTRA_HEADERS 16

/* CK_AUTO: Content-MD5 only when the payload is not signed (a signed
 * payload's SHA-256 is checked by the server already) */
enum { CK_AUTO = 0, CK_MD5 = 1, CK_SHA256 = 2, CK_NONE = 3 };

typedef struct {
	astra__store base;
	char *bucket;
	char *prefix; /* "" or "dir/sub/" */
	char *scheme; /* "http" or "https" */
	char *ep_host; /* endpoint host[:port] */
	char *region;
	int region_given;
	int aws; /* AWS endpoint derived from the region */
	int path_style;
	int checksum;
	int unsigned_payload;
	size_t part_size, mp_threshold;
	unsigned concurrency;
	astra__http *http;
	astra__aws_provider *creds;
	int versioned;
	atomic_int no_conditional; /* If-None-Match: * not implemented */
	atomic_llong skew; /* server clock minus ours, seconds */
} s3_store;

typedef struct {
	const char *method;
	const char *key; /* vault-relative key; NULL: the bucket */
	const char *query; /* encoded, without '?'; NULL: none */
	const char *headers[MAX_EXTRA_HEADERS]; /* NULL-terminated */
	const void *body;
	size_t body_len;
	const char *payload_hash; /* precomputed hex, or NULL */
	int retry; /* ASTRA_HTTP_RETRY_* */
	size_t max_body;
	/* STS at the endpoint: signed for service "sts", sent to "/" of the
	 * endpoint host (not the bucket) */
	int sts;
} s3_req;

/* S3 error details of a response. */
typedef astra__objhttp_err s3_err;

typedef struct {
	char phash[65];
	char md5[64]; /* "Content-MD5: ..." */
	char sha[96]; /* "x-amz-checksum-sha256: ..." */
} sums;

typedef struct {
	char mode[64];
	char until[96];
} lock_hdrs;

/* S3 error details of a response into *e. */
void astra__s3_err_of(const astra__http_response *resp, s3_err *e);
/* Maps a failed response to an astra error naming op, object and cause. */
int astra__s3_fail(s3_store *s, const astra__http_response *resp,
        const char *method, const char *key, const s3_err *e);
/* The object's absolute key in the bucket (allocated). */
char *astra__s3_full_key(s3_store *s, const char *key);
/* The encoded path of key (NULL: the bucket) as sent and signed, and the
 * host (allocated), for path-style or virtual-hosted addressing. */
int astra__s3_build_target(
        s3_store *s, const char *key, astra_buf *path, char **host);
/*
 * Sends with the S3-level retries (clock skew, expired credentials,
 * another region, RequestTimeout). 0 with resp filled when a response
 * arrived (the caller checks the status), or an error; e receives the
 * error details of a non-2xx response.
 */
int astra__s3_send(s3_store *s, const s3_req *r, astra__http_response *resp,
        s3_err *e, int *region_fixable);
/* A request whose only acceptable outcome is 2xx. */
int astra__s3_call(s3_store *s, const s3_req *r, astra__http_response *resp);
int astra__s3_add_header(s3_req *r, const char *line);
/* The payload hash and checksum headers of an upload (s->checksum). */
int astra__s3_compute_sums(
        s3_store *s, const void *data, size_t n, int need_md5, sums *out);
const char *astra__s3_mode_name(unsigned mode);
void astra__s3_make_lock(const astra__put_opts *o, lock_hdrs *l);
/* HEAD of key with query (s3.c). */
int astra__s3_head_q(
        s3_store *s, const char *key, const char *query, astra__obj_info *info);
/* A multipart upload of data in s->part_size parts (s3_multipart.c). */
int astra__s3_put_multipart(s3_store *s, const char *key, const char *data,
        size_t n, const astra__put_opts *opts);

#endif
