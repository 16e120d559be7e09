/*
 * The gs:// store's pure logic: the service-account JWT (RS256), checked
 * independently with the openssl command line (signature verification and
 * a byte-for-byte comparison with `openssl dgst -sign`: PKCS#1 v1.5 is
 * deterministic); the parsing of bucket and object resources and of error
 * responses (examples shaped like the JSON API reference); and the URL
 * checks that need no server. The token exchange itself is not tested
 * here (there is no token endpoint in the test bed; see docs/gcs.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/base64.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"
#include "store/gcs.h"
#include "store/store.h"

static char *work;

static void setup(void)
{
	work = fst_tmpdir("gcs");
	static const char *vars[] = { "GOOGLE_APPLICATION_CREDENTIALS",
		"GOOGLE_OAUTH_ACCESS_TOKEN", "STORAGE_EMULATOR_HOST",
		"CLOUDSDK_CONFIG", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("HOME", work, 1);
}

static void teardown(void)
{
	fst_rmrf(work);
	free(work);
}

TestSuite(store_gcs, .init = setup, .fini = teardown, .timeout = 60);

static char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	char *b = malloc(1 << 20);
	*n = fread(b, 1, (1 << 20) - 1, f);
	b[*n] = '\0';
	fclose(f);
	return b;
}

/* base64url (no padding) to bytes */
static void b64url_decode(astra_buf *out, const char *s, size_t n)
{
	astra_buf t = ASTRA_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		astra__buf_putc(&t, s[i] == '-'   ? '+'
		                    : s[i] == '_' ? '/'
		                                  : s[i]);
	while (t.size % 4)
		astra__buf_putc(&t, '=');
	cr_assert_astra_ok(astra__base64_decode(out, t.ptr, t.size));
	astra_buf_dispose(&t);
}

Test(store_gcs, base64url_has_no_padding_and_url_safe_characters)
{
	astra_buf b = ASTRA_BUF_INIT;
	const unsigned char d[] = { 0xfb, 0xff, 0xbf };
	cr_assert_astra_ok(astra__gcs_b64url(&b, d, 3));
	cr_assert_str_eq(b.ptr, "-_-_");
	astra__buf_clear(&b);
	cr_assert_astra_ok(astra__gcs_b64url(&b, "a", 1));
	cr_assert_str_eq(b.ptr, "YQ");
	astra__buf_clear(&b);
	cr_assert_astra_ok(astra__gcs_b64url(&b, "ab", 2));
	cr_assert_str_eq(b.ptr, "YWI");
	astra_buf_dispose(&b);
}

/* Builds a JWT with the key in `keyfile` and checks it with openssl. */
static void check_jwt_with(const char *keyfile)
{
	size_t klen;
	char *key = slurp(keyfile, &klen);
	astra_buf jwt = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__gcs_jwt("sa@proj.iam.gserviceaccount.com",
	        "kid-123", key, klen,
	        "https://www.googleapis.com/auth/devstorage.read_write",
	        "https://oauth2.googleapis.com/token", 1795320000, 3600, &jwt));
	char *d1 = strchr(jwt.ptr, '.');
	cr_assert_not_null(d1);
	char *d2 = strchr(d1 + 1, '.');
	cr_assert_not_null(d2);
	cr_assert_null(strchr(jwt.ptr, '='));
	cr_assert_null(strchr(jwt.ptr, '+'));
	cr_assert_null(strchr(jwt.ptr, '/'));

	/* header and claims */
	astra_buf h = ASTRA_BUF_INIT, c = ASTRA_BUF_INIT, sig = ASTRA_BUF_INIT;
	b64url_decode(&h, jwt.ptr, (size_t)(d1 - jwt.ptr));
	b64url_decode(&c, d1 + 1, (size_t)(d2 - d1 - 1));
	b64url_decode(&sig, d2 + 1, strlen(d2 + 1));
	astra__json *hj = NULL, *cj = NULL;
	cr_assert_astra_ok(astra__json_parse(&hj, h.ptr, h.size, "header"));
	cr_assert_astra_ok(astra__json_parse(&cj, c.ptr, c.size, "claims"));
	cr_assert_str_eq(astra__json_str(hj, "alg"), "RS256");
	cr_assert_str_eq(astra__json_str(hj, "typ"), "JWT");
	cr_assert_str_eq(astra__json_str(hj, "kid"), "kid-123");
	cr_assert_str_eq(
	        astra__json_str(cj, "iss"), "sa@proj.iam.gserviceaccount.com");
	cr_assert_str_eq(astra__json_str(cj, "aud"),
	        "https://oauth2.googleapis.com/token");
	cr_assert_str_eq(astra__json_str(cj, "scope"),
	        "https://www.googleapis.com/auth/devstorage.read_write");
	cr_assert_eq(astra__json_int(cj, "iat", 0), 1795320000);
	cr_assert_eq(astra__json_int(cj, "exp", 0), 1795323600);
	cr_assert_eq(
	        sig.size, 256, "RSA-2048 signature of %zu bytes", sig.size);

	/* the signature verifies with the public key (openssl dgst) */
	char *in = path_in("input"), *sg = path_in("sig");
	char *pub = path_in("pub.pem"), *ref = path_in("ref.sig");
	fst_write(in, jwt.ptr, (size_t)(d2 - jwt.ptr));
	fst_write(sg, sig.ptr, sig.size);
	cr_assert_eq(sh("openssl pkey -in '%s' -pubout -out '%s' 2>/dev/null",
	                     keyfile, pub),
	        0);
	cr_assert_eq(sh("openssl dgst -sha256 -verify '%s' -signature '%s' "
	                "'%s' >/dev/null 2>&1",
	                     pub, sg, in),
	        0, "openssl does not verify the JWT signature");
	/* PKCS#1 v1.5 is deterministic: the same bytes as openssl's */
	cr_assert_eq(sh("openssl dgst -sha256 -sign '%s' -out '%s' '%s' "
	                "2>/dev/null",
	                     keyfile, ref, in),
	        0);
	size_t rn;
	char *rs = slurp(ref, &rn);
	cr_assert_eq(rn, sig.size);
	cr_assert(memcmp(rs, sig.ptr, rn) == 0, "signature differs");
	/* a changed claim does not verify */
	((char *)jwt.ptr)[d1 - jwt.ptr + 3] ^= 1;
	fst_write(in, jwt.ptr, (size_t)(d2 - jwt.ptr));
	cr_assert_neq(sh("openssl dgst -sha256 -verify '%s' -signature '%s' "
	                 "'%s' >/dev/null 2>&1",
	                      pub, sg, in),
	        0);
	free(rs);
	free(in);
	free(sg);
	free(pub);
	free(ref);
	astra__json_free(hj);
	astra__json_free(cj);
	astra_buf_dispose(&h);
	astra_buf_dispose(&c);
	astra_buf_dispose(&sig);
	astra_buf_dispose(&jwt);
	free(key);
}

Test(store_gcs, jwt_rs256_with_a_pkcs8_key_verifies_with_openssl)
{
	char *k = path_in("k8.pem");
	cr_assert_eq(sh("openssl genpkey -algorithm RSA -pkeyopt "
	                "rsa_keygen_bits:2048 -out '%s' 2>/dev/null",
	                     k),
	        0);
	check_jwt_with(k);
	free(k);
}

Test(store_gcs, jwt_rs256_with_a_pkcs1_key_verifies_with_openssl)
{
	char *k = path_in("k1.pem");
	cr_assert_eq(sh("openssl genrsa -traditional -out '%s' 2048 "
	                "2>/dev/null",
	                     k),
	        0);
	size_t n;
	char *t = slurp(k, &n);
	cr_assert(strstr(t, "BEGIN RSA PRIVATE KEY"));
	free(t);
	check_jwt_with(k);
	free(k);
}

Test(store_gcs, a_bad_or_non_rsa_key_is_einvalid_without_the_key)
{
	astra_buf jwt = ASTRA_BUF_INIT;
	const char junk[] = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0"
	                    "\n-----END PRIVATE KEY-----\n";
	cr_assert_astra_fail(astra__gcs_jwt("a@b", NULL, junk, sizeof(junk) - 1,
	                             "s", "https://t", 1, 60, &jwt),
	        ASTRA_EINVALID);
	cr_assert_null(strstr(astra_error_last()->message, "c2VjcmV0"));
	char *k = path_in("ec.pem");
	cr_assert_eq(sh("openssl genpkey -algorithm EC -pkeyopt "
	                "ec_paramgen_curve:P-256 -out '%s' 2>/dev/null",
	                     k),
	        0);
	size_t n;
	char *t = slurp(k, &n);
	cr_assert_astra_fail(astra__gcs_jwt("a@b", NULL, t, n, "s", "https://t",
	                             1, 60, &jwt),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "not an RSA key"), "%s",
	        astra_error_last()->message);
	cr_assert_eq(jwt.size, 0);
	free(t);
	free(k);
}

static astra__json *js(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	return j;
}

Test(store_gcs, bucket_resources_give_versioning_and_retention)
{
	astra__gcs_bucket b;
	astra__json *j = js("{\"kind\":\"storage#bucket\",\"name\":\"b\","
	                    "\"versioning\":{\"enabled\":false}}");
	cr_assert_astra_ok(astra__gcs_parse_bucket(j, &b));
	cr_assert(!b.versioning && !b.object_retention && !b.retention_period &&
	          !b.retention_locked);
	astra__json_free(j);
	j = js("{\"name\":\"b\",\"versioning\":{\"enabled\":true},"
	       "\"retentionPolicy\":{\"retentionPeriod\":\"86400\","
	       "\"effectiveTime\":\"2026-01-01T00:00:00.000Z\","
	       "\"isLocked\":true},\"objectRetention\":{\"mode\":"
	       "\"Enabled\"}}");
	cr_assert_astra_ok(astra__gcs_parse_bucket(j, &b));
	cr_assert(b.versioning);
	cr_assert(b.object_retention);
	cr_assert_eq(b.retention_period, 86400);
	cr_assert(b.retention_locked);
	astra__json_free(j);
	j = js("{\"retentionPolicy\":{\"retentionPeriod\":\"soon\"}}");
	cr_assert_astra_fail(astra__gcs_parse_bucket(j, &b), ASTRA_EPARSE);
	astra__json_free(j);
}

Test(store_gcs, object_resources_give_size_time_retention_and_holds)
{
	astra__obj_info i;
	int64_t gen = 0;
	astra__json *j = js("{\"name\":\"v/config\",\"size\":\"1234\","
	                    "\"generation\":\"1795321210599568\","
	                    "\"updated\":\"2026-11-22T04:20:10.599Z\"}");
	cr_assert_astra_ok(astra__gcs_parse_object(j, &i, &gen));
	cr_assert_eq(i.size, 1234);
	cr_assert_eq(gen, 1795321210599568LL);
	cr_assert_eq(i.mtime_ns, 1795321210LL * 1000000000LL);
	cr_assert_eq(i.retain_until, 0);
	cr_assert_eq(i.lock_mode, 0);
	cr_assert_eq(i.legal_hold, 0);
	astra__json_free(j);
	/* object retention: Locked is compliance, Unlocked governance */
	j = js("{\"size\":\"1\",\"retention\":{\"mode\":\"Locked\","
	       "\"retainUntilTime\":\"2030-01-01T00:00:00Z\"}}");
	cr_assert_astra_ok(astra__gcs_parse_object(j, &i, NULL));
	cr_assert_eq(i.retain_until, 1893456000);
	cr_assert_eq(i.lock_mode, ASTRA_STORE_LOCK_COMPLIANCE);
	astra__json_free(j);
	j = js("{\"size\":\"1\",\"retention\":{\"mode\":\"Unlocked\","
	       "\"retainUntilTime\":\"2030-01-01T00:00:00.000Z\"},"
	       "\"retentionExpirationTime\":\"2029-01-01T00:00:00Z\"}");
	cr_assert_astra_ok(astra__gcs_parse_object(j, &i, NULL));
	cr_assert_eq(i.retain_until, 1893456000);
	cr_assert_eq(i.lock_mode, ASTRA_STORE_LOCK_GOVERNANCE);
	astra__json_free(j);
	/* a bucket retention policy's expiration, later than the object's */
	j = js("{\"size\":\"1\",\"retentionExpirationTime\":"
	       "\"2031-01-01T00:00:00Z\",\"temporaryHold\":true}");
	cr_assert_astra_ok(astra__gcs_parse_object(j, &i, NULL));
	cr_assert_eq(i.retain_until, 1924992000);
	cr_assert_eq(i.lock_mode, ASTRA_STORE_LOCK_COMPLIANCE);
	cr_assert_eq(i.legal_hold, 1);
	astra__json_free(j);
	j = js("{\"size\":\"1\",\"eventBasedHold\":true}");
	cr_assert_astra_ok(astra__gcs_parse_object(j, &i, NULL));
	cr_assert_eq(i.legal_hold, 1);
	astra__json_free(j);
	j = js("{\"name\":\"x\"}");
	cr_assert_astra_fail(
	        astra__gcs_parse_object(j, &i, NULL), ASTRA_EPARSE);
	astra__json_free(j);
}

static int code_of(long status, const char *body, astra__gcs_err *e)
{
	astra__gcs_parse_error(body, strlen(body), e);
	return astra__gcs_error_code(status, e);
}

Test(store_gcs, error_responses_map_to_codes_naming_the_reason)
{
	astra__gcs_err e;
	cr_assert_eq(code_of(401,
	                     "{\"error\":{\"code\":401,\"message\":\"Invalid "
	                     "Credentials\",\"errors\":[{\"domain\":\"global\","
	                     "\"reason\":\"authError\",\"message\":\"Invalid "
	                     "Credentials\",\"locationType\":\"header\"}]}}",
	                     &e),
	        ASTRA_EAUTH);
	cr_assert_str_eq(e.reason, "authError");
	cr_assert_str_eq(e.message, "Invalid Credentials");
	cr_assert_eq(code_of(403,
	                     "{\"error\":{\"code\":403,\"message\":\"sa@p does "
	                     "not have storage.objects.get access\",\"errors\":"
	                     "[{\"reason\":\"forbidden\"}]}}",
	                     &e),
	        ASTRA_EAUTH);
	cr_assert_str_eq(e.reason, "forbidden");
	cr_assert_eq(code_of(403,
	                     "{\"error\":{\"code\":403,\"message\":\"Object "
	                     "'v/data/x' is subject to bucket's retention "
	                     "policy and cannot be deleted\",\"errors\":[{"
	                     "\"reason\":\"retentionPolicyNotMet\"}]}}",
	                     &e),
	        ASTRA_EPOLICY);
	cr_assert_eq(code_of(403,
	                     "{\"error\":{\"code\":403,\"message\":\"Object is "
	                     "under active Retention\",\"errors\":[{\"reason\":"
	                     "\"forbidden\"}]}}",
	                     &e),
	        ASTRA_EPOLICY);
	cr_assert_eq(code_of(404,
	                     "{\"error\":{\"code\":404,\"message\":\"The "
	                     "specified bucket does not exist.\",\"errors\":[{"
	                     "\"reason\":\"notFound\"}]}}",
	                     &e),
	        ASTRA_ENOTFOUND);
	cr_assert_eq(code_of(404, "Not Found\n", &e), ASTRA_ENOTFOUND);
	cr_assert_str_eq(e.message, "Not Found");
	cr_assert_str_eq(e.reason, "");
	cr_assert_eq(code_of(412,
	                     "{\"error\":{\"code\":412,\"message\":\"At least "
	                     "one of the pre-conditions you specified did not "
	                     "hold.\",\"errors\":[{\"reason\":"
	                     "\"conditionNotMet\"}]}}",
	                     &e),
	        ASTRA_EEXISTS);
	cr_assert_eq(code_of(429,
	                     "{\"error\":{\"code\":429,\"errors\":[{"
	                     "\"reason\":\"rateLimitExceeded\"}]}}",
	                     &e),
	        ASTRA_ENET);
	cr_assert_eq(code_of(503, "", &e), ASTRA_ENET);
	cr_assert_eq(code_of(416, "", &e), ASTRA_ECORRUPT);
	cr_assert_eq(code_of(400,
	                     "{\"error\":{\"code\":400,\"errors\":[{"
	                     "\"reason\":\"invalid\"}]}}",
	                     &e),
	        ASTRA_EINVALID);
	/* the OAuth 2.0 token endpoint's shape */
	cr_assert_eq(
	        code_of(400,
	                "{\"error\":\"invalid_grant\",\"error_description\":"
	                "\"Invalid JWT Signature.\"}",
	                &e),
	        ASTRA_EAUTH);
	cr_assert_str_eq(e.reason, "invalid_grant");
	cr_assert_str_eq(e.message, "Invalid JWT Signature.");
}

Test(store_gcs, urls_and_credentials_are_checked_before_any_request)
{
	astra__store *s = NULL;
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://", NULL), ASTRA_EINVALID);
	cr_assert_astra_fail(astra__store_open(&s, "gs://Bad_Bucket/x", NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "Bad_Bucket"));
	cr_assert_astra_fail(astra__store_open(&s, "gs://bucket/../x", NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x?colour=red", NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "colour"));
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x?auth=magic", NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x?endpoint=ftp://h", NULL),
	        ASTRA_EINVALID);
	/* no credentials anywhere: EAUTH naming what was tried */
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x", NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message,
	                  "GOOGLE_APPLICATION_CREDENTIALS"),
	        "%s", astra_error_last()->message);
	/* a key file that is missing, of an unknown type, without a key */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json", 1);
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x", NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "/nonexistent/sa.json"));
	char *f = path_in("cred.json");
	const char ext[] = "{\"type\":\"external_account\"}";
	fst_write(f, ext, sizeof(ext) - 1);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", f, 1);
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x", NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "external_account"));
	const char nokey[] = "{\"type\":\"service_account\",\"client_email\":"
	                     "\"a@b\"}";
	fst_write(f, nokey, sizeof(nokey) - 1);
	cr_assert_astra_fail(
	        astra__store_open(&s, "gs://bucket/x", NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "private_key"));
	free(f);
}

/* The object resource of an upload: name, type, MD5 (checked against
 * openssl's: echo -n abc | openssl dgst -md5 -binary | base64) and the
 * retention of a locked object. */
Test(store_gcs, upload_metadata)
{
	char *text = NULL;
	astra__json *j = NULL;
	astra__put_opts po = { 0 };
	po.retain_until = 1795309323; /* 2026-11-22T01:02:03Z */
	po.lock_mode = ASTRA_STORE_LOCK_GOVERNANCE;
	cr_assert_astra_ok(
	        astra__gcs_object_meta("p/data/ab", "abc", 3, &po, &text));
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "meta"));
	cr_assert_str_eq(astra__json_str(j, "name"), "p/data/ab");
	cr_assert_str_eq(
	        astra__json_str(j, "contentType"), "application/octet-stream");
	cr_assert_str_eq(
	        astra__json_str(j, "md5Hash"), "kAFQmDzST7DWlj99KOF/cg==");
	const astra__json *r = astra__json_get(j, "retention");
	cr_assert_not_null(r, "%s", text);
	cr_assert_str_eq(astra__json_str(r, "mode"), "Unlocked");
	cr_assert_str_eq(
	        astra__json_str(r, "retainUntilTime"), "2026-11-22T01:02:03Z");
	astra__json_free(j);
	free(text);
	/* compliance is Locked; no data: no md5Hash; no retention */
	po.lock_mode = ASTRA_STORE_LOCK_COMPLIANCE;
	cr_assert_astra_ok(astra__gcs_object_meta("k", NULL, 0, &po, &text));
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "meta"));
	cr_assert_null(astra__json_get(j, "md5Hash"));
	cr_assert_str_eq(
	        astra__json_str(astra__json_get(j, "retention"), "mode"),
	        "Locked");
	astra__json_free(j);
	free(text);
	cr_assert_astra_ok(astra__gcs_object_meta("k", "", 0, NULL, &text));
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "meta"));
	cr_assert_null(astra__json_get(j, "retention"));
	cr_assert_str_eq(
	        astra__json_str(j, "md5Hash"), "1B2M2Y8AsgTpgAmY7PhCfg==");
	astra__json_free(j);
	free(text);
}
