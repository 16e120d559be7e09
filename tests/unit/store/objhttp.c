/*
 * The request side shared by the s3, azure and gcs stores
 * (lib/store/objhttp.c): the ordered status mapping, the wording of
 * failures, endpoint parsing, the network URL options, the server clock's
 * skew, the saved error and the parallel-upload pool. The requests
 * themselves are exercised against MinIO, Azurite and the GCS emulator in
 * tests/integration.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/error.h"
#include "store/objhttp.h"

static const astra__objhttp_rule rules[] = {
	{ ASTRA_EAUTH, "Denied|*Auth", 401, 401, 0 },
	{ ASTRA_EAUTH, NULL, 403, 403, 1 },
	{ ASTRA_ENOTFOUND, "NoSuchKey", 404, 404, 0 },
	{ ASTRA_ENET, NULL, 500, 999, 0 },
	{ 0, NULL, 0, 0, 0 },
};

Test(store_objhttp, classify_in_table_order)
{
	cr_assert_eq(
	        astra__objhttp_classify(rules, 400, "Denied"), ASTRA_EAUTH);
	cr_assert_eq(astra__objhttp_classify(rules, 400, "BadAuthHeader"),
	        ASTRA_EAUTH);
	cr_assert_eq(astra__objhttp_classify(rules, 401, ""), ASTRA_EAUTH);
	/* 403 is an auth failure only without a service code */
	cr_assert_eq(astra__objhttp_classify(rules, 403, NULL), ASTRA_EAUTH);
	cr_assert_eq(astra__objhttp_classify(rules, 403, "Other"), ASTRA_EIO);
	/* an earlier line wins over a later one */
	cr_assert_eq(astra__objhttp_classify(rules, 503, "NoSuchKey"),
	        ASTRA_ENOTFOUND);
	cr_assert_eq(
	        astra__objhttp_classify(rules, 404, "Denied"), ASTRA_EAUTH);
	cr_assert_eq(astra__objhttp_classify(rules, 502, ""), ASTRA_ENET);
	/* exact names: a prefix of a name is not the name */
	cr_assert_eq(astra__objhttp_classify(rules, 400, "Deni"), ASTRA_EIO);
	cr_assert_eq(astra__objhttp_classify(rules, 418, ""), ASTRA_EIO);
}

Test(store_objhttp, failure_messages)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	resp.status = 404;
	resp.attempts = 1;
	astra__objhttp_failure f = { 0 };
	f.service = "S3";
	f.op = "GET";
	f.key = "data/ab";
	f.whole = "(bucket)";
	f.where = "bucket b1";
	f.code = "";
	f.no_code = "no S3 code";
	f.absent = "NoSuchKey";
	f.message = "";
	f.request_id = "";
	cr_assert_eq(astra__objhttp_fail(ASTRA_ENOTFOUND, &resp, &f),
	        ASTRA_ENOTFOUND);
	cr_assert_str_eq(astra_error_last()->message,
	        "object data/ab not found (S3 GET: NoSuchKey, HTTP 404, "
	        "request id none)");
	resp.status = 503;
	resp.attempts = 3;
	f.code = "SlowDown";
	f.message = "Please reduce";
	f.request_id = "R1";
	astra__objhttp_fail(ASTRA_ENET, &resp, &f);
	cr_assert_str_eq(astra_error_last()->message,
	        "S3 GET data/ab in bucket b1 failed: SlowDown: Please reduce "
	        "(HTTP 503, request id R1, retried)");
	/* no request id told (GCS), no key */
	f.service = "GCS";
	f.key = NULL;
	f.code = "";
	f.message = "";
	f.no_code = "no reason given";
	f.request_id = NULL;
	resp.attempts = 1;
	astra__objhttp_fail(ASTRA_ENET, &resp, &f);
	cr_assert_str_eq(astra_error_last()->message,
	        "GCS GET (bucket) in bucket b1 failed: no reason given "
	        "(HTTP 503)");
	astra_error_clear();
}

Test(store_objhttp, endpoints)
{
	char *sch = NULL, *host = NULL;
	cr_assert_astra_ok(astra__objhttp_endpoint(
	        "s3://b", "http://127.0.0.1:9000/", NULL, &sch, &host));
	cr_assert_str_eq(sch, "http");
	cr_assert_str_eq(host, "127.0.0.1:9000");
	free(sch);
	free(host);
	cr_assert_astra_ok(astra__objhttp_endpoint(
	        "s3://b", "minio.local", NULL, &sch, &host));
	cr_assert_str_eq(sch, "https");
	cr_assert_str_eq(host, "minio.local");
	free(sch);
	free(host);
	cr_assert_astra_fail(
	        astra__objhttp_endpoint("s3://b", "ftp://h", NULL, &sch, &host),
	        ASTRA_EINVALID);
	cr_assert_null(sch);
	cr_assert_astra_fail(astra__objhttp_endpoint(
	                             "s3://b", "http://h/p", NULL, &sch, &host),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__objhttp_endpoint(
	                "s3://b", "http://u:secret@h", " (use X)", &sch, &host),
	        ASTRA_EINVALID);
	cr_assert_str_eq(astra_error_last()->message,
	        "vault URL s3://b: the endpoint must not contain credentials "
	        "(use X)");
	astra_error_clear();
}

Test(store_objhttp, network_options)
{
	astra__objhttp_net n;
	astra__objhttp_net_init(&n);
	cr_assert_eq(n.timeout_s, 120);
	cr_assert_eq(n.retries, 6);
	cr_assert_eq(n.budget_s, 60);
	char *v = strdup("/etc/ca.pem");
	cr_assert_eq(astra__objhttp_net_opt("u", "ca", &v, &n), 1);
	cr_assert_null(v);
	cr_assert_str_eq(n.ca, "/etc/ca.pem");
	v = strdup("7");
	cr_assert_eq(astra__objhttp_net_opt("u", "retries", &v, &n), 1);
	cr_assert_eq(n.retries, 7);
	cr_assert_eq(astra__objhttp_net_opt("u", "region", &v, &n), 0);
	free(v);
	v = strdup("0");
	cr_assert_eq(
	        astra__objhttp_net_opt("u", "timeout", &v, &n), ASTRA_EINVALID);
	free(v);
	v = strdup("maybe");
	cr_assert_eq(astra__objhttp_net_opt("u", "insecure-tls", &v, &n),
	        ASTRA_EINVALID);
	free(v);
	astra__store_opts so = { 0 };
	so.ca_file = "/other.pem";
	astra__http_config cfg;
	astra__objhttp_config(&cfg, &n, &so);
	cr_assert_str_eq(cfg.ca_file, "/other.pem");
	cr_assert_eq(cfg.max_retries, 7);
	cr_assert_eq(cfg.timeout_ms, 120000u);
	cr_assert_eq(cfg.retry_budget_ms, 60000u);
	cr_assert_eq(cfg.http2, 0);
	astra__objhttp_net_free(&n);
	astra_error_clear();
}

Test(store_objhttp, saved_error)
{
	astra__saved_err e;
	astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE, "first");
	astra__err_save(&e);
	astra__err(ASTRA_ENET, ASTRA_ERROR_STORE, "second");
	astra__err_restore(&e);
	cr_assert_eq(astra_error_last()->code, ASTRA_EAUTH);
	cr_assert_str_eq(astra_error_last()->message, "first");
	astra_error_clear();
	astra__err_save(&e);
	astra__err(ASTRA_ENET, ASTRA_ERROR_STORE, "later");
	astra__err_restore(&e);
	cr_assert_eq(astra_error_last()->code, 0);
}

typedef struct {
	atomic_uint done[40];
	atomic_uint calls;
	unsigned fail_at; /* 0: none */
} pool_ctx;

static int task(void *p, unsigned i)
{
	pool_ctx *c = p;
	atomic_fetch_add(&c->calls, 1);
	if (c->fail_at && i == c->fail_at)
		return astra__err(
		        ASTRA_ENET, ASTRA_ERROR_STORE, "part %u failed", i);
	atomic_fetch_add(&c->done[i], 1);
	return 0;
}

Test(store_objhttp, parallel_every_item_once)
{
	static pool_ctx c;
	memset(&c, 0, sizeof(c));
	cr_assert_astra_ok(astra__objhttp_parallel(40, 4, task, &c));
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(atomic_load(&c.done[i]), 1u, "item %u", i);
	/* one worker, more workers than items */
	memset(&c, 0, sizeof(c));
	cr_assert_astra_ok(astra__objhttp_parallel(3, 1, task, &c));
	cr_assert_eq(atomic_load(&c.calls), 3u);
	memset(&c, 0, sizeof(c));
	cr_assert_astra_ok(astra__objhttp_parallel(2, 64, task, &c));
	cr_assert_eq(atomic_load(&c.calls), 2u);
	cr_assert_astra_ok(astra__objhttp_parallel(0, 4, task, &c));
}

Test(store_objhttp, parallel_first_failure_reaches_the_caller)
{
	static pool_ctx c;
	memset(&c, 0, sizeof(c));
	c.fail_at = 5;
	cr_assert_astra_fail(
	        astra__objhttp_parallel(40, 1, task, &c), ASTRA_ENET);
	cr_assert_str_eq(astra_error_last()->message, "part 5 failed");
	/* one worker stops at the failure: nothing after it started */
	cr_assert_eq(atomic_load(&c.calls), 6u);
	memset(&c, 0, sizeof(c));
	c.fail_at = 3;
	cr_assert_astra_fail(
	        astra__objhttp_parallel(40, 4, task, &c), ASTRA_ENET);
	cr_assert_lt(atomic_load(&c.calls), 40u);
	astra_error_clear();
}

Test(store_objhttp, server_skew_from_the_date_header)
{
	char line[64];
	char *hdrs[] = { line };
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	resp.headers = hdrs;
	resp.nheaders = 1;
	long long skew = 0;
	/* a server clock far ahead of this one */
	snprintf(line, sizeof(line), "Date: Fri, 01 Jan 2100 00:00:00 GMT");
	cr_assert_eq(astra__objhttp_server_skew(&resp, &skew), 1);
	cr_assert_gt(skew, 86400LL);
	snprintf(line, sizeof(line), "Date: yesterday");
	cr_assert_eq(astra__objhttp_server_skew(&resp, &skew), 0);
	cr_assert_eq(astra_error_last()->code, 0);
	resp.nheaders = 0;
	cr_assert_eq(astra__objhttp_server_skew(&resp, &skew), 0);
}
