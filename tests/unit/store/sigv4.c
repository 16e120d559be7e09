/*
 * AWS Signature V4: the S3 API reference examples (the published AWS
 * signing test suite was run during development, see docs/s3.md) in
 * header and presigned (query) form.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "store/awscreds.h"
#include "store/sigv4.h"

/* The S3 API reference examples (docs "Signature Calculations for the
 * Authorization Header" and "Authenticating Requests: Using Query
 * Parameters"): note the '/' in the example secret. */
static const astra__aws_creds s3_example = { "AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL };
#define S3_EXAMPLE_TIME 1369353600 /* 2013-05-24T00:00:00Z */

static void s3_header_example(const char *method, const char *path,
        const char *query, const char *const *headers, const char *hash,
        const char *want)
{
	astra__sigv4_req r = { 0 };
	r.method = method;
	r.path = path;
	r.query = query;
	r.headers = headers;
	r.payload_hash = hash;
	r.region = "us-east-1";
	r.service = "s3";
	r.time = S3_EXAMPLE_TIME;
	r.flags = ASTRA_SIGV4_CONTENT_SHA256;
	astra_buf add = ASTRA_BUF_INIT, creq = ASTRA_BUF_INIT;
	cr_assert_astra_ok(
	        astra__sigv4_sign(&r, &s3_example, &add, &creq, NULL));
	const char *sig = strstr(add.ptr, "Signature=");
	cr_assert_not_null(sig);
	cr_assert(strncmp(sig + 10, want, 64) == 0,
	        "%s %s: got %.64s\ncanonical request:\n%s", method, path,
	        sig + 10, creq.ptr);
	astra_buf_dispose(&add);
	astra_buf_dispose(&creq);
}

Test(store_sigv4, s3_reference_get_object_with_range)
{
	const char *h[] = { "Host: examplebucket.s3.amazonaws.com",
		"Range: bytes=0-9", NULL };
	s3_header_example("GET", "/test.txt", NULL, h, ASTRA_SIGV4_EMPTY_SHA256,
	        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036b"
	        "db41");
}

Test(store_sigv4, s3_reference_put_object_encodes_the_key)
{
	const char *h[] = { "Host: examplebucket.s3.amazonaws.com",
		"Date: Fri, 24 May 2013 00:00:00 GMT",
		"x-amz-storage-class: REDUCED_REDUNDANCY", NULL };
	char hash[65];
	uint8_t d[32];
	astra__sha256("Welcome to Amazon S3.", 21, d);
	for (int i = 0; i < 32; i++)
		snprintf(hash + 2 * i, 3, "%02x", d[i]);
	s3_header_example("PUT", "/test$file.text", NULL, h, hash,
	        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece1"
	        "08bd");
}

Test(store_sigv4, s3_reference_subresource_and_list_queries)
{
	const char *h[] = { "Host: examplebucket.s3.amazonaws.com", NULL };
	s3_header_example("GET", "/", "lifecycle", h, ASTRA_SIGV4_EMPTY_SHA256,
	        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a013678"
	        "3543");
	s3_header_example("GET", "/", "max-keys=2&prefix=J", h,
	        ASTRA_SIGV4_EMPTY_SHA256,
	        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69d"
	        "c6f7");
}

Test(store_sigv4, s3_reference_presigned_get)
{
	const char *h[] = { "Host: examplebucket.s3.amazonaws.com", NULL };
	astra__sigv4_req r = { 0 };
	r.method = "GET";
	r.path = "/test.txt";
	r.headers = h;
	r.payload_hash = ASTRA_SIGV4_UNSIGNED_PAYLOAD;
	r.region = "us-east-1";
	r.service = "s3";
	r.time = S3_EXAMPLE_TIME;
	astra_buf q = ASTRA_BUF_INIT;
	cr_assert_astra_ok(
	        astra__sigv4_presign(&r, &s3_example, 86400, &q, NULL, NULL));
	cr_assert_not_null(strstr(q.ptr,
	        "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%"
	        "2Fs3%2Faws4_request"));
	cr_assert_not_null(strstr(q.ptr, "X-Amz-Expires=86400"));
	cr_assert_not_null(
	        strstr(q.ptr,
	                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c26"
	                "5957d157751f604d404"),
	        "%s", q.ptr);
	astra_buf_dispose(&q);
	cr_assert_astra_fail(
	        astra__sigv4_presign(&r, &s3_example, 604801, &q, NULL, NULL),
	        ASTRA_EINVALID);
}

Test(store_sigv4, s3_paths_are_encoded_once_and_not_normalised)
{
	const char *h[] = { "Host: b.example", NULL };
	astra__sigv4_req r = { 0 };
	r.method = "GET";
	r.path = "/bucket/a b/./x//c+d~%.txt";
	r.headers = h;
	r.region = "us-east-1";
	r.service = "s3";
	r.time = S3_EXAMPLE_TIME;
	astra_buf add = ASTRA_BUF_INIT, creq = ASTRA_BUF_INIT;
	cr_assert_astra_ok(
	        astra__sigv4_sign(&r, &s3_example, &add, &creq, NULL));
	cr_assert(
	        strncmp(creq.ptr, "GET\n/bucket/a%20b/./x//c%2Bd~%25.txt\n",
	                strlen("GET\n/bucket/a%20b/./x//c%2Bd~%25.txt\n")) == 0,
	        "%s", creq.ptr);
	/* the secret never appears in what the signer hands back */
	cr_assert_null(strstr(add.ptr, s3_example.secret_key));
	astra_buf_dispose(&add);
	astra_buf_dispose(&creq);
}
