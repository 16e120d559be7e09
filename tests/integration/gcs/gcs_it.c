/*
 * The gs:// store against a real GCS JSON API server: fake-gcs-server
 * (tests/testbed/gcs-up), started by tests/integration/gcs/run.sh on
 * loopback, once on its filesystem backend (bucket tb-plain) and once on
 * its memory backend (which has versioning: bucket tb-versioned), plus the
 * fault-injecting proxy of the S3 suite in front of the first. What the
 * store wrote is checked with an independent client (curl on the JSON
 * API) where it matters.
 *
 * Environment (from run.sh): ASTRA_TB_GCS_ENDPOINT, ASTRA_TB_GCS_PORT,
 * ASTRA_TB_GCS_BUCKET_PLAIN, ASTRA_IT_GCS_VERSIONED_ENDPOINT,
 * ASTRA_IT_GCS_BUCKET_VERSIONED, ASTRA_IT_PROXY_ENDPOINT +
 * ASTRA_IT_PROXY_CONTROL (fault proxy).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fstree.h"
#include "store/store.h"

#define STORE_IT_SUITE "gcs"
#include "store_it.h"

static void setup(void)
{
	store_it_setup("gcsit");
	static const char *vars[] = { "GOOGLE_APPLICATION_CREDENTIALS",
		"GOOGLE_OAUTH_ACCESS_TOKEN", "STORAGE_EMULATOR_HOST",
		"CLOUDSDK_CONFIG", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("HOME", work, 1);
}

static void teardown(void)
{
	astra_log_set_handler(NULL, 0, NULL);
	store_it_teardown();
}

TestSuite(it_gcs, .init = setup, .fini = teardown, .timeout = 600);

/* gs://bucket/it-<run>-name?endpoint=...&auth=none[&extra] */
static char *url_at(const char *endpoint, const char *bucket, const char *name,
        const char *extra)
{
	char *u = malloc(4400);
	snprintf(u, 4400, "gs://%s/it-%s-%s?endpoint=%s&auth=none%s%s", bucket,
	        run_id, name, endpoint, extra ? "&" : "", extra ? extra : "");
	return u;
}

static const char *plain(void)
{
	return env("ASTRA_TB_GCS_BUCKET_PLAIN");
}

static char *url_for(const char *name, const char *extra)
{
	return url_at(env("ASTRA_TB_GCS_ENDPOINT"), plain(), name, extra);
}

static char *versioned_url(const char *name, const char *extra)
{
	return url_at(env("ASTRA_IT_GCS_VERSIONED_ENDPOINT"),
	        env("ASTRA_IT_GCS_BUCKET_VERSIONED"), name, extra);
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

/* The independent client: curl GET of a JSON API URL, parsed. */
static astra__json *curl_json(const char *url)
{
	char *out = path_in("curl.json");
	cr_assert_eq(sh("curl -fsS -o '%s' '%s'", out, url), 0, "curl %s", url);
	FILE *f = fopen(out, "r");
	cr_assert_not_null(f);
	astra_buf b = ASTRA_BUF_INIT;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		astra__buf_put(&b, tmp, n);
	fclose(f);
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, url));
	astra_buf_dispose(&b);
	free(out);
	return j;
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

Test(it_gcs, objects_ranges_listing_pages_and_missing_keys)
{
	char *url = url_for("basics", NULL);
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
	cr_assert_astra_ok(astra__store_get(s, "a/b/c", 0, 0, &b));
	cr_assert_eq(b.size, 20);
	astra_buf_dispose(&b);
	cr_assert_astra_fail(
	        astra__store_get(s, "a/b/c", 15, 10, &b), ASTRA_ECORRUPT);
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "a/b/c", &info));
	cr_assert_eq(info.size, 20);
	cr_assert_gt(info.mtime_ns, (int64_t)1700000000 * 1000000000LL);
	cr_assert_eq(info.retain_until, 0);
	cr_assert_astra_fail(
	        astra__store_get(s, "nope", 0, 0, &b), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "nope"));
	cr_assert_astra_fail(
	        astra__store_head(s, "nope", &info), ASTRA_ENOTFOUND);
	cr_assert_astra_ok(astra__store_del(s, "nope"));
	/* 1100 objects: the object list needs two pages (pageToken) */
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

Test(it_gcs, names_that_need_escaping_and_empty_objects)
{
	char *url = url_for("esc", NULL);
	astra__store *s = open_store(url);
	const char *names[] = { "sp ace/x+y", "pct%41/q?r#s",
		"caf\xc3\xa9/&=", NULL };
	for (int i = 0; names[i]; i++)
		cr_assert_astra_ok(astra__store_put(
		        s, names[i], names[i], strlen(names[i]), NULL));
	cr_assert_astra_ok(astra__store_put(s, "empty", "", 0, NULL));
	for (int i = 0; names[i]; i++) {
		astra_buf b = ASTRA_BUF_INIT;
		cr_assert_astra_ok(astra__store_get(s, names[i], 0, 0, &b));
		cr_assert_eq(b.size, strlen(names[i]));
		cr_assert(memcmp(b.ptr, names[i], b.size) == 0);
		astra_buf_dispose(&b);
		astra__json *k = all_keys(s, names[i]);
		cr_assert_eq(astra__json_size(k), 1, "listing %s", names[i]);
		cr_assert_str_eq(astra__json_string_value(astra__json_at(k, 0)),
		        names[i]);
		astra__json_free(k);
	}
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "empty", &info));
	cr_assert_eq(info.size, 0);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "empty", 0, 0, &b));
	cr_assert_eq(b.size, 0);
	astra_buf_dispose(&b);
	/* the independent client sees the names under the prefix */
	char q[4600];
	snprintf(q, sizeof(q), "%s/storage/v1/b/%s/o?prefix=it-%s-esc/",
	        env("ASTRA_TB_GCS_ENDPOINT"), plain(), run_id);
	astra__json *j = curl_json(q);
	cr_assert_eq(astra__json_size(astra__json_get(j, "items")), 4);
	astra__json_free(j);
	astra__store_free(s);
	free(url);
}

Test(it_gcs, conditional_create_refuses_an_existing_object)
{
	/* simple (multipart) uploads, and resumable ones above 1 MiB */
	char *url = url_for("cond", "resumable-threshold=1&chunk-size=1");
	astra__store *s = open_store(url);
	cr_assert(s->caps & ASTRA_STORE_CAP_CONDITIONAL);
	astra__put_opts po = { ASTRA_PUT_IF_ABSENT, 0, 0 };
	cr_assert_astra_ok(astra__store_put(s, "config", "one", 3, &po));
	cr_assert_astra_fail(
	        astra__store_put(s, "config", "two", 3, &po), ASTRA_EEXISTS);
	cr_assert(strstr(astra_error_last()->message, "already exists"));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "config", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "one");
	astra_buf_dispose(&b);
	size_t n = (3u << 20) + 7;
	char *big = malloc(n);
	fst_fill(big, n, 5);
	cr_assert_astra_ok(astra__store_put(s, "big", big, n, &po));
	big[0] ^= 1;
	cr_assert_astra_fail(
	        astra__store_put(s, "big", big, n, &po), ASTRA_EEXISTS);
	cr_assert_astra_ok(astra__store_get(s, "big", 0, 1, &b));
	cr_assert_eq(b.ptr[0], big[0] ^ 1, "the object was replaced");
	astra_buf_dispose(&b);
	/* without the flag the object is replaced */
	cr_assert_astra_ok(astra__store_put(s, "config", "two", 3, NULL));
	cr_assert_astra_ok(astra__store_get(s, "config", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "two");
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(big);
	free(url);
}

static int chunks_308;
static void count_308(int level, const char *message, void *payload)
{
	(void)level;
	(void)payload;
	if (strstr(message, "gcs: PUT -> 308"))
		__atomic_add_fetch(&chunks_308, 1, __ATOMIC_SEQ_CST);
}

Test(it_gcs, large_objects_go_up_in_resumable_chunks)
{
	char *url = url_for("large", "resumable-threshold=2&chunk-size=1");
	astra__store *s = open_store(url);
	size_t n = (5u << 20) + (300u << 10) + 123;
	char *data = malloc(n);
	fst_fill(data, n, 77);
	chunks_308 = 0;
	astra_log_set_handler(count_308, ASTRA_LOG_DEBUG, NULL);
	cr_assert_astra_ok(astra__store_put(s, "data/big", data, n, NULL));
	astra_log_set_handler(NULL, 0, NULL);
	/* 6 chunks of 1 MiB: 5 answered "308 Resume Incomplete" */
	cr_assert_eq(chunks_308, 5, "%d intermediate chunks", chunks_308);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "data/big", 0, 0, &b));
	cr_assert_eq(b.size, n);
	cr_assert(memcmp(b.ptr, data, n) == 0, "resumable object differs");
	astra_buf_dispose(&b);
	cr_assert_astra_ok(
	        astra__store_get(s, "data/big", (1u << 20) - 5, 10, &b));
	cr_assert(memcmp(b.ptr, data + (1u << 20) - 5, 10) == 0);
	astra_buf_dispose(&b);
	/* the independent client: size and MD5 as the server computed */
	char q[4600];
	snprintf(q, sizeof(q),
	        "%s/storage/v1/b/%s/o/it-%s-large%%2Fdata%%2Fbig",
	        env("ASTRA_TB_GCS_ENDPOINT"), plain(), run_id);
	astra__json *j = curl_json(q);
	cr_assert_eq(strtoull(astra__json_str(j, "size"), NULL, 10), n);
	uint8_t md5[16];
	astra__md5(data, n, md5);
	astra_buf m = ASTRA_BUF_INIT;
	astra__base64_encode(&m, md5, 16);
	cr_assert_str_eq(astra__json_str(j, "md5Hash"), m.ptr);
	astra_buf_dispose(&m);
	astra__json_free(j);
	/* below the threshold: one request, no 308 */
	chunks_308 = 0;
	astra_log_set_handler(count_308, ASTRA_LOG_DEBUG, NULL);
	cr_assert_astra_ok(
	        astra__store_put(s, "data/small", data, 1u << 20, NULL));
	astra_log_set_handler(NULL, 0, NULL);
	cr_assert_eq(chunks_308, 0);
	astra__store_free(s);
	free(data);
	free(url);
}

Test(it_gcs, a_missing_bucket_is_enotfound_naming_it)
{
	char *url = url_at(env("ASTRA_TB_GCS_ENDPOINT"), "astra-no-such-bucket",
	        "x", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "astra-no-such-bucket") && strstr(m, "notFound"),
	        "%s", m);
	free(url);
}

Test(it_gcs, an_endpoint_that_is_down_is_enet_after_bounded_retries)
{
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

/* A service-account key file with a fresh RSA key; token_uri given. */
static char *sa_file(const char *token_uri, char **pem_out)
{
	char *key = path_in("sa.pem"), *f = path_in("sa.json");
	cr_assert_eq(sh("openssl genpkey -algorithm RSA -pkeyopt "
	                "rsa_keygen_bits:2048 -out '%s' 2>/dev/null",
	                     key),
	        0);
	FILE *kf = fopen(key, "r");
	char pem[8192];
	size_t n = fread(pem, 1, sizeof(pem) - 1, kf);
	pem[n] = '\0';
	fclose(kf);
	astra__json *j = astra__json_new_object();
	astra__json_set_str(j, "type", "service_account");
	astra__json_set_str(j, "project_id", "tb");
	astra__json_set_str(j, "private_key_id", "0123abcd");
	astra__json_set_str(j, "private_key", pem);
	astra__json_set_str(j, "client_email", "tb@tb.iam.gserviceaccount.com");
	astra__json_set_str(j, "token_uri", token_uri);
	char *text = NULL;
	astra__json_print(&text, j, 1);
	fst_write(f, text, strlen(text));
	free(text);
	astra__json_free(j);
	/* a line from the middle of the key, to look for in messages */
	char *mid = strchr(pem, '\n');
	cr_assert_not_null(mid);
	char *line = strndup(mid + 1, 40);
	*pem_out = line;
	free(key);
	return f;
}

Test(it_gcs, a_token_endpoint_that_refuses_is_eauth_without_secrets)
{
	/* the token exchange goes to the key's token_uri: here a path the
	 * emulator does not serve (404); no token server is faked */
	char tu[4400];
	snprintf(tu, sizeof(tu), "%s/token", env("ASTRA_TB_GCS_ENDPOINT"));
	char *pem_line = NULL;
	char *f = sa_file(tu, &pem_line);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", f, 1);
	char u[4600];
	snprintf(u, sizeof(u), "gs://%s/it-%s-sa?endpoint=%s", plain(), run_id,
	        env("ASTRA_TB_GCS_ENDPOINT"));
	astra__store *s = NULL;
	cr_assert_astra_fail(astra__store_open(&s, u, NULL), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, tu) && strstr(m, "HTTP 404") &&
	                  strstr(m, "tb@tb.iam.gserviceaccount.com"),
	        "%s", m);
	cr_assert_null(strstr(m, pem_line), "the key leaked: %s", m);
	/* auth=service-account with credentials= gives the same */
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	snprintf(u, sizeof(u),
	        "gs://%s/it-%s-sa?endpoint=%s&auth=service-account&"
	        "credentials=%s",
	        plain(), run_id, env("ASTRA_TB_GCS_ENDPOINT"), f);
	cr_assert_astra_fail(astra__store_open(&s, u, NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "credentials="));
	/* gcloud's authorized-user file: the refresh token is exchanged at
	 * its token_uri; neither it nor the client secret is named */
	char *uf = path_in("adc.json");
	char utext[4600];
	snprintf(utext, sizeof(utext),
	        "{\"type\": \"authorized_user\", \"client_id\": "
	        "\"123.apps.googleusercontent.com\", \"client_secret\": "
	        "\"shh-client-secret\", \"refresh_token\": "
	        "\"1//refresh-secret\", \"token_uri\": \"%s\"}",
	        tu);
	fst_write(uf, utext, strlen(utext));
	snprintf(u, sizeof(u),
	        "gs://%s/it-%s-sa?endpoint=%s&auth=user&"
	        "credentials=%s",
	        plain(), run_id, env("ASTRA_TB_GCS_ENDPOINT"), uf);
	cr_assert_astra_fail(astra__store_open(&s, u, NULL), ASTRA_EAUTH);
	m = astra_error_last()->message;
	cr_assert(
	        strstr(m, "authorized user") && strstr(m, "HTTP 404"), "%s", m);
	cr_assert_null(strstr(m, "refresh-secret"), "%s", m);
	cr_assert_null(strstr(m, "shh-client-secret"), "%s", m);
	/* auth=service-account refuses an authorized-user file */
	snprintf(u, sizeof(u),
	        "gs://%s/it-%s-sa?endpoint=%s&auth=service-account&"
	        "credentials=%s",
	        plain(), run_id, env("ASTRA_TB_GCS_ENDPOINT"), uf);
	cr_assert_astra_fail(astra__store_open(&s, u, NULL), ASTRA_EAUTH);
	free(uf);
	free(pem_line);
	free(f);
}

Test(it_gcs, tokens_and_the_emulator_variable_reach_the_server)
{
	/* auth=token from a file (the emulator accepts any token) */
	char *tf = path_in("token");
	fst_write(tf, "ya29.test-token\n", 16);
	char extra[4400];
	snprintf(extra, sizeof(extra), "token-file=%s", tf);
	char *url = url_for("tok", extra);
	/* url_for adds auth=none first; a later auth= wins */
	char u2[4600];
	snprintf(u2, sizeof(u2), "%s&auth=token", url);
	astra__store *s = open_store(u2);
	cr_assert_astra_ok(astra__store_put(s, "k", "v", 1, NULL));
	astra__store_free(s);
	/* STORAGE_EMULATOR_HOST (host:port, as Google's clients take it)
	 * gives the endpoint and no authentication */
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%s", env("ASTRA_TB_GCS_PORT"));
	setenv("STORAGE_EMULATOR_HOST", host, 1);
	char u3[4600];
	snprintf(u3, sizeof(u3), "gs://%s/it-%s-tok", plain(), run_id);
	s = open_store(u3);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "k", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "v");
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(url);
	free(tf);
}

Test(it_gcs, deleting_in_a_versioned_bucket_removes_every_generation)
{
	char *url = versioned_url("versions", NULL);
	astra__store *s = open_store(url);
	cr_assert(s->caps & ASTRA_STORE_CAP_VERSIONING);
	cr_assert_not(s->caps & ASTRA_STORE_CAP_OBJECT_LOCK);
	for (int i = 0; i < 3; i++)
		cr_assert_astra_ok(
		        astra__store_put(s, "sessions/x", "v", 1, NULL));
	cr_assert_astra_ok(astra__store_put(s, "sessions/xy", "w", 1, NULL));
	char q[4600];
	snprintf(q, sizeof(q),
	        "%s/storage/v1/b/%s/o?versions=true&prefix=it-%s-versions/"
	        "sessions/",
	        env("ASTRA_IT_GCS_VERSIONED_ENDPOINT"),
	        env("ASTRA_IT_GCS_BUCKET_VERSIONED"), run_id);
	astra__json *j = curl_json(q);
	cr_assert_eq(astra__json_size(astra__json_get(j, "items")), 4);
	astra__json_free(j);
	cr_assert_astra_ok(astra__store_del(s, "sessions/x"));
	/* no generation of x is left; xy (a longer name) is untouched */
	j = curl_json(q);
	astra__json *items = astra__json_get(j, "items");
	cr_assert_eq(items ? astra__json_size(items) : 0, 1);
	cr_assert(strstr(astra__json_str(astra__json_at(items, 0), "name"),
	        "sessions/xy"));
	astra__json_free(j);
	astra__store_free(s);
	free(url);
}

Test(it_gcs, a_vault_in_a_versioned_bucket_leaves_no_garbage_generations)
{
	char *url = versioned_url("vault", NULL);
	char *src = make_src("src", 4, 700 << 10, 3);
	astra_vault *v = vinit(url, 0, 0);
	astra_data_backup_result r1;
	vbackup(v, src, 0, &r1);
	vrestore_equal(v, r1.id, src);
	cr_assert_astra_ok(vcheck(v));
	cr_assert_astra_ok(astra_vault_forget(v, r1.id));
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_gc(v, &g, &b));
	astra_buf_dispose(&b);
	cr_assert_astra_ok(astra_vault_gc(v, &g, &b));
	astra_buf_dispose(&b);
	astra_vault_free(v);
	/* every data generation is gone, not only the live ones */
	char q[4600];
	snprintf(q, sizeof(q),
	        "%s/storage/v1/b/%s/o?versions=true&prefix=it-%s-vault/data/",
	        env("ASTRA_IT_GCS_VERSIONED_ENDPOINT"),
	        env("ASTRA_IT_GCS_BUCKET_VERSIONED"), run_id);
	astra__json *j = curl_json(q);
	astra__json *items = astra__json_get(j, "items");
	cr_assert_eq(items ? astra__json_size(items) : 0, 0,
	        "%zu data generations left", astra__json_size(items));
	astra__json_free(j);
	v = vopen(url);
	cr_assert_astra_ok(vcheck(v));
	astra_vault_free(v);
	free(src);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Immutability                                                        */
/* ------------------------------------------------------------------ */

Test(it_gcs, immutability_needs_a_bucket_with_object_retention)
{
	char *url = url_for("notworm", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(3, 0);
	cr_assert_astra_fail(
	        astra_vault_init(&v, url, &o), ASTRA_ENOTSUPPORTED);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "object retention is not enabled"), "%s", m);
	/* a versioned bucket is not enough either */
	char *vurl = versioned_url("notworm", NULL);
	cr_assert_astra_fail(
	        astra_vault_init(&v, vurl, &o), ASTRA_ENOTSUPPORTED);
	/* nothing was written */
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	cr_assert_eq(astra__json_size(keys), 0);
	astra__json_free(keys);
	/* the store refuses retention itself */
	astra__put_opts po = { 0, astra__wall_ns() / 1000000000LL + 60,
		ASTRA_STORE_LOCK_GOVERNANCE };
	cr_assert_astra_fail(
	        astra__store_put(s, "x", "y", 1, &po), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(astra_error_last()->message, "object retention"));
	cr_assert_astra_ok(astra__store_put(s, "x", "y", 1, NULL));
	cr_assert_astra_fail(astra__store_retain(s, "x",
	                             astra__wall_ns() / 1000000000LL + 60,
	                             ASTRA_STORE_LOCK_GOVERNANCE),
	        ASTRA_ENOTSUPPORTED);
	astra__store_free(s);
	free(vurl);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Faults (the S3 suite's proxy in front of the emulator)              */
/* ------------------------------------------------------------------ */

TestSuite(it_gcs_faults, .init = setup, .fini = teardown, .timeout = 900);

Test(it_gcs_faults, backups_through_faults_complete_and_check_clean)
{
	faults("{}");
	char *url = url_at(env("ASTRA_IT_PROXY_ENDPOINT"), plain(), "faults",
	        "timeout=3&retries=10&retry-budget=120");
	char *src = make_src("src", 6, 3 << 20, 6);
	fst_make_rich_tree(src);
	astra_vault *v = vinit(url, 0, 0);
	faults("{\"slowdown\": 0.06, \"internal\": 0.03, \"reset\": 0.03, "
	       "\"reset_mid\": 0.03, \"stall\": 0.01, \"stall_seconds\": 5, "
	       "\"seed\": 11}");
	int64_t f0 = all_faults();
	astra_data_backup_result r1, r2;
	vbackup(v, src, 0, &r1);
	char *f = path_in("src/f0.bin");
	fst_write_random(f, 3 << 20, 999);
	vbackup(v, src, 0, &r2);
	vrestore_equal(v, r2.id, src);
	cr_assert_astra_ok(vcheck(v));
	int64_t f1 = all_faults();
	cr_assert_gt(f1 - f0, 10, "only %lld faults were injected",
	        (long long)(f1 - f0));
	faults("{}");
	astra_vault_free(v);
	v = vopen(url);
	cr_assert_astra_ok(vcheck(v));
	vrestore_equal(v, r2.id, src);
	astra_vault_free(v);
	free(f);
	free(src);
	free(url);
}

Test(it_gcs_faults, persistent_faults_fail_a_backup_cleanly_and_lose_nothing)
{
	faults("{}");
	char *url = url_at(env("ASTRA_IT_PROXY_ENDPOINT"), plain(),
	        "persistent", "timeout=3&retries=3&retry-budget=4");
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
	cr_assert(strstr(m, "HTTP 503") && strstr(m, "retried"), "%s", m);
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

/* Replication through the GCS emulator: file -> here -> file, each replica
 * opens with the vault's password, checks clean and restores. */
Test(it_gcs, a_file_vault_replicates_here_and_back)
{
	char *here = url_for("replica", NULL);
	replicates_here_and_back(here);
	free(here);
}
