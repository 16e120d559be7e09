/*
 * The s3:// store and immutable vaults against a real MinIO (started by
 * tests/integration/s3/run.sh with tests/testbed/minio-up), through the
 * fault-injecting proxy (faultproxy.py) where faults are wanted. Object
 * lock state is checked with an independent client: tests/testbed/s3req.py
 * (python3 standard library, its own SigV4 signer).
 *
 * Environment (from run.sh): ASTRA_TB_S3_ENDPOINT, ASTRA_TB_S3_ACCESS_KEY,
 * ASTRA_TB_S3_SECRET_KEY, ASTRA_TB_S3_BUCKET_PLAIN, ASTRA_TB_S3_BUCKET_LOCK,
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ASTRA_IT_S3REQ (s3req.py),
 * ASTRA_IT_PROXY_ENDPOINT + ASTRA_IT_PROXY_CONTROL (fault proxy),
 * ASTRA_IT_TLS_ENDPOINT + ASTRA_IT_TLS_CA (TLS proxy, self-signed).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fmt/xml.h"
#include "fstree.h"
#include "store/awscreds.h"
#include "store/store.h"

#define STORE_IT_SUITE "s3"
#include "store_it.h"

static void setup(void)
{
	store_it_setup("s3it");
}

static void teardown(void)
{
	store_it_teardown();
}

TestSuite(it_s3, .init = setup, .fini = teardown, .timeout = 600);

/* s3://bucket/it-<run>-name?endpoint=...[&extra] */
static char *url_at(const char *endpoint, const char *bucket, const char *name,
        const char *extra)
{
	char *u = malloc(4400);
	snprintf(u, 4400, "s3://%s/it-%s-%s?endpoint=%s%s%s", bucket, run_id,
	        name, endpoint, extra ? "&" : "", extra ? extra : "");
	return u;
}

static char *url_for(const char *bucket, const char *name, const char *extra)
{
	return url_at(env("ASTRA_TB_S3_ENDPOINT"), bucket, name, extra);
}

static const char *plain(void)
{
	return env("ASTRA_TB_S3_BUCKET_PLAIN");
}

static const char *locked(void)
{
	return env("ASTRA_TB_S3_BUCKET_LOCK");
}

/* Runs s3req.py (the independent client): args are the method, target and
 * optional "-H" header lines / "--data" FILE. Returns its exit status. */
static int s3req(astra_buf *out, const char *const *args)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[32];
		int n = 0;
		argv[n++] = "python3";
		argv[n++] = env("ASTRA_IT_S3REQ");
		for (int i = 0; args[i] && n < 30; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		dup2(pfd[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		close(pfd[0]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	char buf[65536];
	ssize_t r;
	while ((r = read(pfd[0], buf, sizeof(buf))) > 0)
		if (out)
			astra__buf_put(out, buf, (size_t)r);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* The prefix of a URL from url_for (for s3req targets). */
static void prefix_of(const char *url, char *out, size_t n)
{
	const char *p = url + 5;
	size_t l = strcspn(p, "?");
	snprintf(out, n, "/%.*s", (int)l, p);
}

/* Retention of an object as an independent client sees it. */
static int retention_of(const char *vault_url, const char *key, int64_t *until,
        char *mode, size_t mlen)
{
	char target[4600], pre[4400];
	prefix_of(vault_url, pre, sizeof(pre));
	snprintf(target, sizeof(target), "%s/%s?retention", pre, key);
	const char *args[] = { "GET", target, NULL };
	astra_buf b = ASTRA_BUF_INIT;
	int rc = s3req(&b, args);
	*until = 0;
	if (mode)
		mode[0] = 0;
	if (rc == 0) {
		astra__xml *x = NULL;
		cr_assert_astra_ok(astra__xml_parse(&x, b.ptr, b.size, target));
		const char *m = astra__xml_child_text(x, "Mode");
		const char *u = astra__xml_child_text(x, "RetainUntilDate");
		cr_assert(m && u, "%s: %s", target, b.ptr);
		cr_assert_astra_ok(astra__aws_parse_time(u, until));
		if (mode)
			snprintf(mode, mlen, "%s", m);
		astra__xml_free(x);
	}
	astra_buf_dispose(&b);
	return rc;
}

/* Shortens an object's retention with a governance bypass (as an
 * administrator would), to simulate its expiry. */
static void expire_soon(const char *vault_url, const char *key, int seconds)
{
	char target[4600], pre[4400], body[512], when[32], md5h[64];
	prefix_of(vault_url, pre, sizeof(pre));
	snprintf(target, sizeof(target), "%s/%s?retention", pre, key);
	astra__fmt_utc(when, astra__wall_ns() / 1000000000LL + seconds);
	snprintf(body, sizeof(body),
	        "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	        "<Mode>GOVERNANCE</Mode><RetainUntilDate>%s</RetainUntilDate>"
	        "</Retention>",
	        when);
	uint8_t d[16];
	astra__md5(body, strlen(body), d);
	astra_buf b64 = ASTRA_BUF_INIT;
	astra__base64_encode(&b64, d, 16);
	snprintf(md5h, sizeof(md5h), "Content-MD5: %s", b64.ptr);
	astra_buf_dispose(&b64);
	char *file = path_in("retention.xml");
	fst_write(file, body, strlen(body));
	const char *args[] = { "-H", "x-amz-bypass-governance-retention: true",
		"-H", md5h, "--data", file, "PUT", target, NULL };
	astra_buf out = ASTRA_BUF_INIT;
	cr_assert_eq(s3req(&out, args), 0, "shortening the retention of %s: %s",
	        target, out.ptr ? out.ptr : "");
	astra_buf_dispose(&out);
	free(file);
}

/* ---- vault helpers ---- */

static astra__json *vgc(astra_vault *v)
{
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_gc(v, &g, &b));
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "gc report"));
	astra_buf_dispose(&b);
	return j;
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

Test(it_s3, objects_ranges_listing_pages_and_missing_keys)
{
	char *url = url_for(plain(), "basics", NULL);
	astra__store *s = open_store(url);
	const char msg[] = "0123456789abcdefghij";
	cr_assert_astra_ok(astra__store_put(s, "a/b/c", msg, 20, NULL));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "a/b/c", 5, 10, &b));
	cr_assert_eq(b.size, 10);
	cr_assert(memcmp(b.ptr, "56789abcde", 10) == 0);
	astra_buf_dispose(&b);
	cr_assert_astra_ok(astra__store_get(s, "a/b/c", 15, 0, &b));
	cr_assert_str_eq(b.ptr, "fghij");
	astra_buf_dispose(&b);
	cr_assert_astra_fail(
	        astra__store_get(s, "a/b/c", 15, 10, &b), ASTRA_ECORRUPT);
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "a/b/c", &info));
	cr_assert_eq(info.size, 20);
	cr_assert_gt(info.mtime_ns, (int64_t)1700000000 * 1000000000LL);
	cr_assert_astra_fail(
	        astra__store_get(s, "nope", 0, 0, &b), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "nope"));
	cr_assert_astra_fail(
	        astra__store_head(s, "nope", &info), ASTRA_ENOTFOUND);
	cr_assert_astra_ok(astra__store_del(s, "nope"));
	/* 1100 objects: ListObjectsV2 needs two pages */
	for (int i = 0; i < 1100; i++) {
		char k[64];
		snprintf(k, sizeof(k), "many/%04d", i);
		cr_assert_astra_ok(astra__store_put(s, k, k, strlen(k), NULL));
	}
	astra__json *keys = all_keys(s, "many/");
	cr_assert_eq(astra__json_size(keys), 1100);
	astra__json_free(keys);
	keys = all_keys(s, "");
	cr_assert_eq(astra__json_size(keys), 1101);
	astra__json_free(keys);
	cr_assert_astra_ok(astra__store_del(s, "a/b/c"));
	cr_assert_astra_fail(
	        astra__store_head(s, "a/b/c", &info), ASTRA_ENOTFOUND);
	astra__store_free(s);
	free(url);
}

Test(it_s3, conditional_create_refuses_an_existing_object)
{
	char *url = url_for(plain(), "cond", NULL);
	astra__store *s = open_store(url);
	astra__put_opts po = { ASTRA_PUT_IF_ABSENT, 0, 0 };
	cr_assert_astra_ok(astra__store_put(s, "config", "one", 3, &po));
	cr_assert_astra_fail(
	        astra__store_put(s, "config", "two", 3, &po), ASTRA_EEXISTS);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "config", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "one");
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(url);
}

Test(it_s3, multipart_upload_with_parallel_parts_and_lock_headers)
{
	/* 5 MiB parts above 5 MiB, into the object lock bucket */
	char *url = url_for(locked(), "multipart",
	        "part-size=5&multipart-threshold=5&concurrency=3");
	astra__store *s = open_store(url);
	size_t n = (23u << 20) + 12345;
	char *data = malloc(n);
	fst_fill(data, n, 77);
	int64_t until = astra__wall_ns() / 1000000000LL + 3600;
	astra__put_opts po = { 0, until, ASTRA_STORE_LOCK_GOVERNANCE };
	cr_assert_astra_ok(astra__store_put(s, "data/big", data, n, &po));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "data/big", 0, 0, &b));
	cr_assert_eq(b.size, n);
	cr_assert(memcmp(b.ptr, data, n) == 0, "multipart object differs");
	astra_buf_dispose(&b);
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "data/big", &info));
	cr_assert_eq(info.size, n);
	cr_assert_eq(info.retain_until, until);
	cr_assert_eq(info.lock_mode, ASTRA_STORE_LOCK_GOVERNANCE);
	int64_t seen;
	char mode[32];
	cr_assert_eq(
	        retention_of(url, "data/big", &seen, mode, sizeof(mode)), 0);
	cr_assert_eq(seen, until);
	cr_assert_str_eq(mode, "GOVERNANCE");
	astra__store_free(s);
	free(data);
	free(url);
}

Test(it_s3, presigned_urls_work_without_credentials)
{
	char *url = url_for(plain(), "presign", NULL);
	astra__store *s = open_store(url);
	cr_assert_astra_ok(astra__store_put(s, "obj", "presigned!", 10, NULL));
	char *signed_url = NULL;
	cr_assert_astra_ok(
	        astra__store_presign(s, "GET", "obj", 300, &signed_url));
	char *out = path_in("presigned.out");
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "curl -fsS -o '%s' '%s'", out, signed_url);
	cr_assert_eq(system(cmd), 0, "curl %s", signed_url);
	FILE *f = fopen(out, "r");
	char got[32] = { 0 };
	fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	cr_assert_str_eq(got, "presigned!");
	/* a changed signature is refused */
	char *sig = strstr(signed_url, "X-Amz-Signature=");
	sig[16] = sig[16] == '0' ? '1' : '0';
	snprintf(cmd, sizeof(cmd), "curl -fsS -o /dev/null '%s' 2>/dev/null",
	        signed_url);
	cr_assert_neq(system(cmd), 0);
	free(signed_url);
	free(out);
	astra__store_free(s);
	free(url);
}

Test(it_s3, wrong_keys_are_eauth_naming_the_s3_code)
{
	char *url = url_for(plain(), "auth", NULL);
	astra__store *s = NULL;
	setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "SignatureDoesNotMatch"), "%s", m);
	cr_assert(strstr(m, "request id"), "%s", m);
	cr_assert_null(strstr(m, "not-the-secret"), "the secret leaked: %s", m);
	setenv("AWS_ACCESS_KEY_ID", "AKIDNOBODY", 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "InvalidAccessKeyId"),
	        "%s", astra_error_last()->message);
	/* through the public API too */
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);
	free(url);
}

Test(it_s3, a_missing_bucket_is_enotfound_naming_it)
{
	char *url = url_for("astra-no-such-bucket", "x", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(
	        strstr(m, "astra-no-such-bucket") && strstr(m, "NoSuchBucket"),
	        "%s", m);
	free(url);
}

Test(it_s3, an_endpoint_that_is_down_is_enet_after_bounded_retries)
{
	/* a port nothing listens on */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ntohs(a.sin_port));
	close(fd);
	char *url = url_at(ep, plain(), "down", "retries=3&retry-budget=5");
	uint64_t t0 = astra__mono_ns();
	astra__store *s = NULL;
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_ENET);
	double took = (double)(astra__mono_ns() - t0) / 1e9;
	cr_assert_lt(took, 15.0, "retries took %.1f s", took);
	cr_assert(strstr(astra_error_last()->message, "127.0.0.1"));
	free(url);
}

Test(it_s3, an_untrusted_certificate_is_ecertificate_unless_a_ca_is_given)
{
	const char *tls = env("ASTRA_IT_TLS_ENDPOINT");
	char *url = url_at(tls, plain(), "tls", NULL);
	astra__store *s = NULL;
	cr_assert_astra_fail(
	        astra__store_open(&s, url, NULL), ASTRA_ECERTIFICATE);
	free(url);
	char extra[4400];
	snprintf(extra, sizeof(extra), "ca=%s", env("ASTRA_IT_TLS_CA"));
	url = url_at(tls, plain(), "tls", extra);
	s = open_store(url);
	cr_assert_astra_ok(astra__store_put(s, "k", "over tls", 8, NULL));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "k", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "over tls");
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(url);
	url = url_at(tls, plain(), "tls", "insecure-tls=1");
	s = open_store(url);
	astra__store_free(s);
	free(url);
}

Test(it_s3, deleting_in_a_versioned_bucket_removes_every_version)
{
	char *url = url_for(locked(), "versions", NULL);
	astra__store *s = open_store(url);
	cr_assert(s->caps & ASTRA_STORE_CAP_VERSIONING);
	cr_assert(s->caps & ASTRA_STORE_CAP_OBJECT_LOCK);
	for (int i = 0; i < 3; i++)
		cr_assert_astra_ok(
		        astra__store_put(s, "sessions/x", "v", 1, NULL));
	cr_assert_astra_ok(astra__store_del(s, "sessions/x"));
	char pre[4400], target[4600];
	prefix_of(url, pre, sizeof(pre));
	const char *bucket = locked();
	snprintf(target, sizeof(target), "/%s?versions&prefix=%s/sessions/x",
	        bucket, pre + 2 + strlen(bucket));
	astra_buf b = ASTRA_BUF_INIT;
	const char *args[] = { "GET", target, NULL };
	cr_assert_eq(s3req(&b, args), 0);
	cr_assert_null(strstr(b.ptr, "<Version>"), "%s", b.ptr);
	cr_assert_null(strstr(b.ptr, "<DeleteMarker>"), "%s", b.ptr);
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Immutable vaults                                                    */
/* ------------------------------------------------------------------ */

Test(it_s3, immutability_needs_a_worm_bucket)
{
	char *url = url_for(plain(), "notworm", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(3, 0);
	cr_assert_astra_fail(
	        astra_vault_init(&v, url, &o), ASTRA_ENOTSUPPORTED);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "versioning is not enabled") &&
	                  strstr(m, "object lock is not enabled"),
	        "%s", m);
	/* nothing was written */
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	cr_assert_eq(astra__json_size(keys), 0);
	astra__json_free(keys);
	astra__store_free(s);
	free(url);
}

Test(it_s3, an_immutable_vault_locks_every_object_it_writes)
{
	char *url = url_for(locked(), "imm", NULL);
	char *src = make_src("src", 3, 700 << 10, 1);
	astra_vault *v = vinit(url, 2, 0);
	astra_data_backup_result r;
	vbackup(v, src, 0, &r);
	astra_buf info = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_info(v, &info));
	cr_assert(strstr(info.ptr, "\"immutability\""), "%s", info.ptr);
	astra_buf_dispose(&info);
	astra_vault_free(v);
	int64_t now = astra__wall_ns() / 1000000000LL;
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	size_t locked_n = 0;
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		int64_t until;
		char mode[32];
		int rc = retention_of(url, k, &until, mode, sizeof(mode));
		if (!strncmp(k, "sessions/", 9) || !strncmp(k, "gc/", 3)) {
			cr_assert_neq(rc, 0, "%s should not be locked", k);
			continue;
		}
		cr_assert_eq(rc, 0, "%s has no retention", k);
		cr_assert_str_eq(mode, "COMPLIANCE", "%s", k);
		cr_assert(until >= now + 2 * 86400 - 600 &&
		                  until <= now + 3 * 86400,
		        "%s retained until %lld (now %lld)", k,
		        (long long)until, (long long)now);
		locked_n++;
	}
	cr_assert_geq(locked_n, 5, "config, a key slot, packs, index, record");
	astra__json_free(keys);
	astra__store_free(s);
	free(src);
	free(url);
}

Test(it_s3, forgetting_before_expiry_is_refused_and_the_data_stays)
{
	char *url = url_for(locked(), "forget", NULL);
	char *src = make_src("src", 2, 500 << 10, 2);
	astra_vault *v = vinit(url, 1, ASTRA_VAULT_LOCK_COMPLIANCE);
	astra_data_backup_result r;
	vbackup(v, src, 0, &r);
	cr_assert_astra_fail(astra_vault_forget(v, r.id), ASTRA_EPOLICY);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, r.id) && strstr(m, "locked until"), "%s", m);
	cr_assert_eq(nsnapshots(v), 1);
	/* gc deletes nothing the snapshot needs */
	astra__json_free(vgc(v));
	astra__json_free(vgc(v));
	astra_vault_free(v);
	v = vopen(url);
	cr_assert_eq(nsnapshots(v), 1);
	vrestore_equal(v, r.id, src);
	cr_assert_astra_ok(vcheck(v));
	/* a password change cannot remove the old, locked key slot */
	astra_vault_options n = vopts(0, 0);
	n.password = "new secret";
	cr_assert_astra_fail(astra_vault_change_password(v, &n), ASTRA_EPOLICY);
	astra_vault_free(v);
	cr_assert_astra_ok(astra_vault_open(&v, url, &n));
	astra_vault_free(v);
	v = vopen(url); /* the old one still works, as the error said */
	astra_vault_free(v);
	free(src);
	free(url);
}

typedef struct {
	char key[128];
	int64_t until;
} kept_obj;

static size_t retentions(
        const char *url, const char *prefix, kept_obj *out, size_t max)
{
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, prefix);
	size_t n = 0;
	for (size_t i = 0; i < astra__json_size(keys) && n < max; i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		snprintf(out[n].key, sizeof(out[n].key), "%s", k);
		cr_assert_eq(retention_of(url, k, &out[n].until, NULL, 0), 0);
		n++;
	}
	astra__json_free(keys);
	astra__store_free(s);
	return n;
}

static void reuse_extends(const char *name, unsigned second_flags)
{
	char *url = url_for(locked(), name, NULL);
	char *src = make_src("src", 3, 600 << 10, 3);
	astra_vault *v = vinit(url, 1, ASTRA_VAULT_LOCK_GOVERNANCE);
	astra_data_backup_result r1, r2;
	vbackup(v, src, 0, &r1);
	kept_obj packs[256], idx[64], cfg[1];
	size_t np = retentions(url, "data/", packs, 256);
	size_t ni = retentions(url, "index/", idx, 64);
	retentions(url, "config", cfg, 1);
	cr_assert_gt(np, 2);
	sleep(2);
	int64_t t2 = astra__wall_ns() / 1000000000LL;
	vbackup(v, src, second_flags, &r2);
	cr_assert_lt(r2.bytes_new, 64u << 10, "the data was not reused");
	for (size_t i = 0; i < np; i++) {
		int64_t now;
		cr_assert_eq(retention_of(url, packs[i].key, &now, NULL, 0), 0);
		cr_assert_gt(now, packs[i].until,
		        "%s: the reused pack's retention was not extended",
		        packs[i].key);
		cr_assert_geq(now, t2 + 86400, "%s", packs[i].key);
	}
	for (size_t i = 0; i < ni; i++) {
		int64_t now;
		cr_assert_eq(retention_of(url, idx[i].key, &now, NULL, 0), 0);
		cr_assert_geq(now, t2 + 86400,
		        "%s: an index file of reused packs expires first",
		        idx[i].key);
	}
	int64_t c;
	cr_assert_eq(retention_of(url, "config", &c, NULL, 0), 0);
	cr_assert_geq(c, t2 + 86400, "config expires before the backup");
	/* the record of backup 2 is not locked longer than its data */
	char rec[64];
	snprintf(rec, sizeof(rec), "snapshots/%s", r2.id);
	int64_t ru;
	cr_assert_eq(retention_of(url, rec, &ru, NULL, 0), 0);
	for (size_t i = 0; i < np; i++) {
		int64_t now;
		retention_of(url, packs[i].key, &now, NULL, 0);
		cr_assert_geq(now, ru, "%s expires before the snapshot",
		        packs[i].key);
	}
	vrestore_equal(v, r2.id, src);
	astra_vault_free(v);
	free(src);
	free(url);
}

Test(it_s3, a_second_backup_extends_the_retention_of_unchanged_files)
{
	reuse_extends("reuse-parent", 0);
}

Test(it_s3, a_second_backup_extends_the_retention_of_deduplicated_chunks)
{
	reuse_extends("reuse-dedup", ASTRA_DATA_BACKUP_F_NO_PARENT);
}

static void expire_all(const char *url, int seconds)
{
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		if (strncmp(k, "sessions/", 9) && strncmp(k, "gc/", 3))
			expire_soon(url, k, seconds);
	}
	astra__json_free(keys);
	astra__store_free(s);
}

Test(it_s3, gc_keeps_locked_garbage_and_reclaims_it_after_expiry)
{
	char *url = url_for(locked(), "gc", NULL);
	char *a = make_src("a", 2, 800 << 10, 4);
	char *b = make_src("b", 2, 800 << 10, 5);
	astra_vault *v = vinit(url, 1, ASTRA_VAULT_LOCK_GOVERNANCE);
	astra_data_backup_result ra, rb;
	vbackup(v, a, 0, &ra);
	vbackup(v, b, 0, &rb);
	char rec[64];
	snprintf(rec, sizeof(rec), "snapshots/%s", ra.id);
	/* an administrator lifts the lock of snapshot a only */
	expire_soon(url, rec, 5);
	sleep(6);
	cr_assert_astra_ok(astra_vault_forget(v, ra.id));
	astra__store *s = open_store(url);
	astra__json *before = all_keys(s, "data/");
	astra__json_free(vgc(v)); /* marks a's packs */
	astra__json *rep = vgc(v); /* would sweep them: they are locked */
	cr_assert_eq(astra__json_size(astra__json_get(rep, "deleted_packs")), 0,
	        "locked packs were deleted");
	cr_assert_gt(astra__json_size(astra__json_get(rep, "locked_packs")), 0);
	astra__json_free(rep);
	astra__json *after = all_keys(s, "data/");
	cr_assert_eq(astra__json_size(after), astra__json_size(before));
	astra__json_free(after);
	cr_assert_astra_ok(vcheck(v));
	/* everything expires (as if the retention had run out) */
	expire_all(url, 5);
	sleep(6);
	astra__json_free(vgc(v)); /* marks again */
	rep = vgc(v); /* sweeps */
	cr_assert_gt(
	        astra__json_size(astra__json_get(rep, "deleted_packs")), 0);
	astra__json_free(rep);
	after = all_keys(s, "data/");
	cr_assert_lt(astra__json_size(after), astra__json_size(before));
	astra__json_free(after);
	astra__json_free(before);
	astra_vault_free(v);
	v = vopen(url);
	cr_assert_astra_ok(vcheck(v));
	vrestore_equal(v, rb.id, b);
	astra_vault_free(v);
	astra__store_free(s);
	free(a);
	free(b);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Faults (one proxy, one control file: run.sh runs these one by one)  */
/* ------------------------------------------------------------------ */

TestSuite(it_s3_faults, .init = setup, .fini = teardown, .timeout = 900);

/* Session credentials for mover Jobs (STS AssumeRole with a session
 * policy): they work below the vault's prefix and nowhere else in the
 * bucket, and they are not the process's keys. */
Test(it_s3, job_credentials_reach_only_the_vault_prefix)
{
	char *ua = url_for(plain(), "jobcred-a", NULL);
	char *ub = url_for(plain(), "jobcred-b", NULL);
	astra__store *admin_a = open_store(ua), *admin_b = open_store(ub);
	cr_assert_astra_ok(astra__store_put(admin_a, "data/x", "a", 1, NULL));
	cr_assert_astra_ok(astra__store_put(admin_b, "data/x", "b", 1, NULL));
	astra__json *env = astra__json_new_object();
	cr_assert_astra_ok(astra__store_job_creds(admin_a, 900, env));
	const char *ak = astra__json_str(env, "AWS_ACCESS_KEY_ID");
	const char *sk = astra__json_str(env, "AWS_SECRET_ACCESS_KEY");
	const char *tok = astra__json_str(env, "AWS_SESSION_TOKEN");
	cr_assert(ak && sk && tok && *tok);
	cr_assert_str_neq(ak, getenv("AWS_ACCESS_KEY_ID"));
	/* this test runs in its own process: its environment is its own */
	setenv("AWS_ACCESS_KEY_ID", ak, 1);
	setenv("AWS_SECRET_ACCESS_KEY", sk, 1);
	setenv("AWS_SESSION_TOKEN", tok, 1);
	astra__store *a = open_store(ua);
	astra_buf got = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(a, "data/x", 0, 0, &got));
	cr_assert_eq(got.size, 1);
	cr_assert_astra_ok(astra__store_put(a, "data/y", "y", 1, NULL));
	astra__json *keys = all_keys(a, "data/");
	cr_assert_eq(astra__json_size(keys), 2);
	astra__json_free(keys);
	cr_assert_astra_ok(astra__store_del(a, "data/y"));
	/* the other prefix of the same bucket: refused */
	astra__store *b = NULL;
	astra__store_opts so = { 0 };
	int orc = astra__store_open(&b, ub, &so);
	if (!orc) {
		astra_buf_dispose(&got);
		cr_assert_eq(astra__store_get(b, "data/x", 0, 0, &got),
		        ASTRA_EAUTH, "read outside the vault's prefix: %s",
		        astra_error_last()->message);
		cr_assert_eq(astra__store_put(b, "data/z", "z", 1, NULL),
		        ASTRA_EAUTH, "write outside the vault's prefix");
		astra__store_free(b);
	} else {
		cr_assert_eq(
		        orc, ASTRA_EAUTH, "%s", astra_error_last()->message);
	}
	astra_buf_dispose(&got);
	astra__store_free(a);
	astra__json_free(env);
	astra__store_free(admin_a);
	astra__store_free(admin_b);
	free(ua);
	free(ub);
}

static astra__json *vreplicate(astra_vault *v, const char *to, int want)
{
	astra_replicate_options o;
	astra_replicate_options_init(&o, ASTRA_REPLICATE_OPTIONS_VERSION);
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_replicate(v, to, &o, &b);
	cr_assert_eq(rc, want, "replicate to %s: %d %s", to, rc,
	        astra_error_last()->message);
	astra__json *j = NULL;
	if (b.ptr)
		cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "r"));
	astra_buf_dispose(&b);
	return j;
}

Test(it_s3, a_file_vault_replicates_to_s3_and_back)
{
	char *here = url_for(plain(), "replica", NULL);
	replicates_here_and_back(here);
	free(here);
}

Test(it_s3,
        an_immutable_vault_replicates_with_its_retention_only_to_a_worm_bucket)
{
	char *url = url_for(locked(), "rimm", NULL);
	char *rep_url = url_for(locked(), "rimm-replica", NULL);
	char *plain_url = url_for(plain(), "rimm-plain", NULL);
	char *src = make_src("rimsrc", 2, 600 << 10, 5);
	astra_vault *v = vinit(url, 2, 0);
	astra_data_backup_result r;
	vbackup(v, src, 0, &r);
	astra__json_free(vreplicate(v, plain_url, ASTRA_ENOTSUPPORTED));
	cr_assert(strstr(astra_error_last()->message, "object lock"), "%s",
	        astra_error_last()->message);
	astra__json_free(vreplicate(v, rep_url, 0));
	astra_vault_free(v);
	/* every replicated object keeps the source's retain-until date */
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	size_t same = 0;
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		if (!strncmp(k, "sessions/", 9) || !strncmp(k, "gc/", 3))
			continue;
		int64_t a, b;
		char ma[32], mb[32];
		cr_assert_eq(
		        retention_of(url, k, &a, ma, sizeof(ma)), 0, "%s", k);
		cr_assert_eq(retention_of(rep_url, k, &b, mb, sizeof(mb)), 0,
		        "replica %s has no retention", k);
		cr_assert_eq(a, b, "%s: retained until %lld, replica %lld", k,
		        (long long)a, (long long)b);
		cr_assert_str_eq(ma, mb);
		same++;
	}
	cr_assert_geq(same, 5);
	astra__json_free(keys);
	astra__store_free(s);
	astra_vault *rv = vopen(rep_url);
	vrestore_equal(rv, r.id, src);
	astra_vault_free(rv);
	free(src);
	free(url);
	free(rep_url);
	free(plain_url);
}

static char *proxy_url(const char *name, const char *extra)
{
	return url_at(env("ASTRA_IT_PROXY_ENDPOINT"), plain(), name, extra);
}

Test(it_s3_faults, backups_through_faults_complete_and_check_clean)
{
	faults("{}");
	char *url =
	        proxy_url("faults", "timeout=3&retries=10&retry-budget=120");
	char *src = make_src("src", 6, 3 << 20, 6);
	fst_make_rich_tree(src);
	astra_vault *v = vinit(url, 0, 0);
	faults("{\"slowdown\": 0.06, \"internal\": 0.03, \"reset\": 0.03, "
	       "\"reset_mid\": 0.03, \"stall\": 0.01, \"stall_seconds\": 5, "
	       "\"seed\": 7}");
	int64_t f0 = fault_stat("slowdown") + fault_stat("reset") +
	             fault_stat("reset_mid") + fault_stat("internal") +
	             fault_stat("stall");
	astra_data_backup_result r1, r2;
	vbackup(v, src, 0, &r1);
	char *f = path_in("src/f0.bin");
	fst_write_random(f, 3 << 20, 999);
	vbackup(v, src, 0, &r2);
	vrestore_equal(v, r2.id, src);
	cr_assert_astra_ok(vcheck(v));
	int64_t f1 = fault_stat("slowdown") + fault_stat("reset") +
	             fault_stat("reset_mid") + fault_stat("internal") +
	             fault_stat("stall");
	cr_assert_gt(f1 - f0, 10, "only %lld faults were injected",
	        (long long)(f1 - f0));
	faults("{}");
	astra_vault_free(v);
	v = vopen(url);
	cr_assert_eq(nsnapshots(v), 2);
	cr_assert_astra_ok(vcheck(v));
	astra_vault_free(v);
	free(f);
	free(src);
	free(url);
}

Test(it_s3_faults, persistent_faults_fail_a_backup_cleanly_and_lose_nothing)
{
	faults("{}");
	char *url =
	        proxy_url("persistent", "timeout=3&retries=3&retry-budget=4");
	char *src = make_src("src", 3, 2 << 20, 8);
	astra_vault *v = vinit(url, 0, 0);
	astra_data_backup_result r1;
	vbackup(v, src, 0, &r1);
	char *more = make_src("more", 3, 2 << 20, 9);
	faults("{\"slowdown\": 1.0}");
	astra_data_backup_options o;
	astra_data_backup_options_init(&o, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	int rc = astra_vault_backup_path(v, more, &o, NULL);
	cr_assert_eq(
	        rc, ASTRA_ENET, "got %d: %s", rc, astra_error_last()->message);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "SlowDown") && strstr(m, "request id FAULTPROXY"),
	        "%s", m);
	faults("{}");
	astra_vault_free(v);
	v = vopen(url);
	cr_assert_eq(nsnapshots(v), 1);
	cr_assert_astra_ok(vcheck(v));
	vrestore_equal(v, r1.id, src);
	astra_data_backup_result r2;
	vbackup(v, more, 0, &r2);
	vrestore_equal(v, r2.id, more);
	cr_assert_astra_ok(vcheck(v));
	astra_vault_free(v);
	free(src);
	free(more);
	free(url);
}

Test(it_s3_faults, complete_multipart_errors_in_a_200_are_retried_or_aborted)
{
	faults("{}");
	char *url = proxy_url("complete",
	        "part-size=5&multipart-threshold=5&retries=2&retry-budget=10");
	astra__store *s = open_store(url);
	size_t n = 11u << 20;
	char *data = malloc(n);
	fst_fill(data, n, 5);
	/* the first two completions answer "200 OK" with an <Error> */
	int64_t before = fault_stat("complete_error");
	faults("{\"complete_error_count\": 2}");
	cr_assert_astra_ok(astra__store_put(s, "obj", data, n, NULL));
	cr_assert_eq(fault_stat("complete_error") - before, 2);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "obj", 0, 0, &b));
	cr_assert(b.size == n && memcmp(b.ptr, data, n) == 0);
	astra_buf_dispose(&b);
	/* always failing: the upload fails, names the code, is aborted */
	faults("{\"complete_error\": 1.0}");
	int rc = astra__store_put(s, "obj2", data, n, NULL);
	cr_assert_lt(rc, 0);
	cr_assert(strstr(astra_error_last()->message, "InternalError"), "%s",
	        astra_error_last()->message);
	faults("{}");
	astra__obj_info info;
	cr_assert_astra_fail(
	        astra__store_head(s, "obj2", &info), ASTRA_ENOTFOUND);
	char target[4600];
	snprintf(target, sizeof(target), "/%s?uploads", plain());
	astra_buf l = ASTRA_BUF_INIT;
	const char *args[] = { "GET", target, NULL };
	cr_assert_eq(s3req(&l, args), 0);
	cr_assert_null(
	        strstr(l.ptr, "obj2"), "the upload was not aborted: %s", l.ptr);
	astra_buf_dispose(&l);
	astra__store_free(s);
	free(data);
	free(url);
}
