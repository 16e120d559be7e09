/*
 * Multipart uploads of the s3:// store (s3.h): parts uploaded in parallel
 * by a worker pool, CompleteMultipartUpload retried on the "200 OK with an
 * <Error> body" and checked against the object it made, the upload aborted
 * on failure.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "fmt/xml.h"
#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/s3.h"
#include "store/sigv4.h"

#define COMPLETE_TRIES 5
#define MAX_PARTS 10000

/* ------------------------------------------------------------------ */
/* PUT, multipart                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
	s3_store *s;
	const char *key;
	const char *upload_id;
	const char *data;
	size_t n, part;
	unsigned nparts;
	char (*etags)[80];
} mp_job;

static int upload_part(mp_job *j, unsigned num)
{
	s3_store *s = j->s;
	size_t off = (size_t)(num - 1) * j->part;
	size_t len = off + j->part > j->n ? j->n - off : j->part;
	sums sm;
	astra_buf q = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = astra__s3_compute_sums(s, j->data + off, len, 0, &sm);
	if (!rc)
		rc = astra__buf_printf(&q, "partNumber=%u&uploadId=", num);
	if (!rc)
		rc = astra__sigv4_encode(
		        &q, j->upload_id, strlen(j->upload_id), 0);
	if (rc)
		goto done;
	s3_req r = { 0 };
	r.method = "PUT";
	r.key = j->key;
	r.query = q.ptr;
	r.body = j->data + off;
	r.body_len = len;
	r.payload_hash = sm.phash;
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (sm.md5[0])
		astra__s3_add_header(&r, sm.md5);
	if (sm.sha[0])
		astra__s3_add_header(&r, sm.sha);
	if ((rc = astra__s3_call(s, &r, &resp)))
		goto done;
	const char *etag = astra__http_header(&resp, "ETag");
	if (!etag || !*etag || strlen(etag) >= 80) {
		rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "S3 upload of part %u of %s returned no ETag", num,
		        j->key);
		goto done;
	}
	snprintf(j->etags[num - 1], 80, "%s", etag);
done:
	astra_buf_dispose(&q);
	astra__http_response_dispose(&resp);
	return rc;
}

/* A task of the worker pool: part i + 1. */
static int part_task(void *ctx, unsigned i)
{
	return upload_part(ctx, i + 1);
}

static void abort_upload(s3_store *s, const char *key, const char *upload_id)
{
	astra_buf q = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__saved_err saved;
	astra__err_save(&saved);
	if (astra__buf_puts(&q, "uploadId=") == 0 &&
	        astra__sigv4_encode(&q, upload_id, strlen(upload_id), 0) == 0) {
		s3_req r = { 0 };
		r.method = "DELETE";
		r.key = key;
		r.query = q.ptr;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		if (astra__s3_call(s, &r, &resp) != 0)
			astra__log_warn("s3: could not abort the multipart "
			                "upload of %s (a lifecycle rule "
			                "AbortIncompleteMultipartUpload cleans "
			                "it up): %s",
			        key, astra_error_last()->message);
	}
	astra_buf_dispose(&q);
	astra__http_response_dispose(&resp);
	astra__err_restore(&saved);
}

static int complete_upload(
        s3_store *s, mp_job *j, uint64_t size, astra__http_response *resp)
{
	astra_buf body = ASTRA_BUF_INIT, q = ASTRA_BUF_INIT;
	int rc = astra__buf_puts(&body,
	        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
	        "2006-03-01/\">");
	for (unsigned i = 0; i < j->nparts && !rc; i++) {
		rc = astra__buf_printf(&body,
		        "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		if (!rc)
			rc = astra__xml_escape(&body, j->etags[i]);
		if (!rc)
			rc = astra__buf_puts(&body, "</ETag></Part>");
	}
	if (!rc)
		rc = astra__buf_puts(&body, "</CompleteMultipartUpload>");
	if (!rc)
		rc = astra__buf_puts(&q, "uploadId=");
	if (!rc)
		rc = astra__sigv4_encode(
		        &q, j->upload_id, strlen(j->upload_id), 0);
	sums sm;
	if (!rc)
		rc = astra__s3_compute_sums(s, body.ptr, body.size, 1, &sm);
	for (int attempt = 1; !rc; attempt++) {
		s3_req r = { 0 };
		r.method = "POST";
		r.key = j->key;
		r.query = q.ptr;
		r.body = body.ptr;
		r.body_len = body.size;
		r.payload_hash = sm.phash;
		r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		r.headers[0] = "Content-Type: application/xml";
		if (sm.md5[0])
			astra__s3_add_header(&r, sm.md5);
		if (sm.sha[0])
			astra__s3_add_header(&r, sm.sha);
		s3_err e;
		rc = astra__s3_send(s, &r, resp, &e, NULL);
		if (rc)
			break;
		int transient = 0;
		if (resp->status == 200) {
			/* 200 may still carry an <Error> */
			astra__xml *doc = NULL;
			rc = astra__xml_parse(&doc, resp->body.ptr,
			        resp->body.size, "CompleteMultipartUpload");
			if (!rc && !strcmp(astra__xml_name(doc), "Error")) {
				astra__s3_err_of(resp, &e);
				transient = 1;
			} else if (!rc &&
			           strcmp(astra__xml_name(doc),
			                   "CompleteMultipartUploadResult")) {
				rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
				        "S3 CompleteMultipartUpload of %s: "
				        "unexpected response <%s>",
				        j->key, astra__xml_name(doc));
			} else if (rc) {
				/* a cut-off body: try again */
				astra_error_clear();
				rc = 0;
				transient = 1;
				snprintf(e.code, sizeof(e.code),
				        "truncated response");
			}
			astra__xml_free(doc);
			if (!rc && !transient)
				break;
		} else if (astra__objhttp_code_is(&e, "NoSuchUpload") &&
		           attempt > 1) {
			/* an earlier attempt may have completed it */
			astra__obj_info info;
			memset(&info, 0, sizeof(info));
			if (astra__s3_head_q(s, j->key, NULL, &info) == 0 &&
			        info.size == size) {
				rc = 0;
				break;
			}
			astra_error_clear();
		} else if (resp->status >= 500 ||
		           astra__objhttp_code_is(&e, "SlowDown") ||
		           astra__objhttp_code_is(&e, "InternalError")) {
			transient = 1;
		}
		if (rc)
			break;
		if (!transient || attempt >= COMPLETE_TRIES) {
			rc = astra__s3_fail(
			        s, resp, "POST (complete upload)", j->key, &e);
			break;
		}
		astra__log_debug("s3: CompleteMultipartUpload of %s: %s, "
		                 "retrying",
		        j->key, e.code);
		astra__objhttp_pause(200, (unsigned)attempt);
	}
	astra_buf_dispose(&body);
	astra_buf_dispose(&q);
	return rc;
}

int astra__s3_put_multipart(s3_store *s, const char *key, const char *data,
        size_t n, const astra__put_opts *opts)
{
	size_t part = s->part_size;
	if ((n + part - 1) / part > MAX_PARTS)
		part = (n + MAX_PARTS - 1) / MAX_PARTS;
	mp_job j;
	memset(&j, 0, sizeof(j));
	j.s = s;
	j.key = key;
	j.data = data;
	j.n = n;
	j.part = part;
	j.nparts = (unsigned)((n + part - 1) / part);
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__xml *doc = NULL;
	char *upload_id = NULL;
	lock_hdrs lk;
	s3_req r = { 0 };
	r.method = "POST";
	r.key = key;
	r.query = "uploads=";
	r.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	r.headers[0] = "Content-Type: application/octet-stream";
	if (opts && opts->retain_until) {
		astra__s3_make_lock(opts, &lk);
		astra__s3_add_header(&r, lk.mode);
		astra__s3_add_header(&r, lk.until);
	}
	int rc = astra__s3_call(s, &r, &resp);
	if (!rc)
		rc = astra__xml_parse(&doc, resp.body.ptr, resp.body.size,
		        "CreateMultipartUpload");
	if (!rc) {
		const char *id = astra__xml_child_text(doc, "UploadId");
		if (!id || !*id)
			rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
			        "S3 CreateMultipartUpload of %s returned no "
			        "UploadId",
			        key);
		else if (!(upload_id = astra__strdup(id)))
			rc = ASTRA_ENOMEM;
	}
	astra__xml_free(doc);
	astra__http_response_dispose(&resp);
	if (rc)
		goto done;
	j.upload_id = upload_id;
	j.etags = astra__calloc(j.nparts, sizeof(*j.etags));
	if (!j.etags) {
		rc = ASTRA_ENOMEM;
		goto abort;
	}
	if ((rc = astra__objhttp_parallel(
	             j.nparts, s->concurrency, part_task, &j)))
		goto abort;
	rc = complete_upload(s, &j, n, &resp);
	astra__http_response_dispose(&resp);
	if (!rc)
		goto done;
abort:
	abort_upload(s, key, upload_id);
done:
	free(j.etags);
	free(upload_id);
	return rc;
}
