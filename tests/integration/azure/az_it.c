/*
 * The azure:// store and vaults against a real Azurite (started by
 * tests/integration/azure/run.sh with tests/testbed/azurite-up). Block
 * lists are checked with an independent client: tests/testbed/azreq.py
 * (python3 standard library, its own Shared Key signer).
 *
 * Environment (from run.sh): ASTRA_TB_AZ_ENDPOINT, ASTRA_TB_AZ_ACCOUNT,
 * ASTRA_TB_AZ_KEY, ASTRA_TB_AZ_CONTAINER_PLAIN, ASTRA_TB_AZ_SAS,
 * ASTRA_TB_AZ_CONNECTION_STRING, AZURE_STORAGE_KEY, ASTRA_IT_AZREQ,
 * ASTRA_IT_PROXY_ENDPOINT + ASTRA_IT_PROXY_CONTROL (fault proxy),
 * ASTRA_IT_TLS_ENDPOINT + ASTRA_IT_TLS_CA (TLS proxy, self-signed).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "core/buf.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fmt/xml.h"
#include "fstree.h"
#include "store/store.h"

#define STORE_IT_SUITE "azure"
#include "store_it.h"

static void setup(void)
{
	store_it_setup("azit");
}

static void teardown(void)
{
	store_it_teardown();
}

TestSuite(it_azure, .init = setup, .fini = teardown, .timeout = 600);

static const char *plain(void)
{
	return env("ASTRA_TB_AZ_CONTAINER_PLAIN");
}

/* azure://container/it-<run>-name?account=..&endpoint=..[&extra] */
static char *url_at(const char *endpoint, const char *container,
        const char *name, const char *extra)
{
	char *u = malloc(4400);
	snprintf(u, 4400, "azure://%s/it-%s-%s?account=%s&endpoint=%s%s%s",
	        container, run_id, name, env("ASTRA_TB_AZ_ACCOUNT"), endpoint,
	        extra ? "&" : "", extra ? extra : "");
	return u;
}

static char *url_for(const char *name, const char *extra)
{
	return url_at(env("ASTRA_TB_AZ_ENDPOINT"), plain(), name, extra);
}

/* Runs azreq.py (the independent client) with args; its exit status. */
static int azreq(astra_buf *out, const char *const *args)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[32];
		int n = 0;
		argv[n++] = "python3";
		argv[n++] = env("ASTRA_IT_AZREQ");
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

/* A store round trip used by the authentication tests. */
static void round_trip(const char *url)
{
	astra__store *s = open_store(url);
	cr_assert_astra_ok(
	        astra__store_put(s, "auth/x", "authorised", 10, NULL));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "auth/x", 2, 4, &b));
	cr_assert(b.size == 4 && !memcmp(b.ptr, "thor", 4));
	astra_buf_dispose(&b);
	astra__json *keys = all_keys(s, "auth/");
	cr_assert_eq(astra__json_size(keys), 1);
	astra__json_free(keys);
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "auth/x", &info));
	cr_assert_eq(info.size, 10);
	cr_assert_astra_ok(astra__store_del(s, "auth/x"));
	cr_assert_astra_fail(
	        astra__store_head(s, "auth/x", &info), ASTRA_ENOTFOUND);
	astra__store_free(s);
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

Test(it_azure, objects_ranges_listing_pages_and_missing_keys)
{
	char *url = url_for("basics", "list-page=400");
	astra__store *s = open_store(url);
	cr_assert_eq(s->caps & ASTRA_STORE_CAP_OBJECT_LOCK, 0);
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
	cr_assert_astra_fail(
	        astra__store_get(s, "a/b/c", 30, 5, &b), ASTRA_ECORRUPT);
	/* an empty object, and keys that need escaping */
	cr_assert_astra_ok(astra__store_put(s, "empty", "", 0, NULL));
	cr_assert_astra_ok(astra__store_get(s, "empty", 0, 0, &b));
	cr_assert_eq(b.size, 0);
	astra_buf_dispose(&b);
	cr_assert_astra_ok(
	        astra__store_put(s, "odd/a b+c%d=e&f", "odd", 3, NULL));
	cr_assert_astra_ok(astra__store_get(s, "odd/a b+c%d=e&f", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "odd");
	astra_buf_dispose(&b);
	astra__json *keys = all_keys(s, "odd/");
	cr_assert_eq(astra__json_size(keys), 1);
	cr_assert_str_eq(astra__json_string_value(astra__json_at(keys, 0)),
	        "odd/a b+c%d=e&f");
	astra__json_free(keys);
	astra__obj_info info;
	cr_assert_astra_ok(astra__store_head(s, "a/b/c", &info));
	cr_assert_eq(info.size, 20);
	cr_assert_gt(info.mtime_ns, (int64_t)1700000000 * 1000000000LL);
	cr_assert_eq(info.retain_until, 0);
	cr_assert_astra_fail(
	        astra__store_get(s, "nope", 0, 0, &b), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "nope"));
	cr_assert(strstr(astra_error_last()->message, "BlobNotFound"), "%s",
	        astra_error_last()->message);
	cr_assert_astra_fail(
	        astra__store_head(s, "nope", &info), ASTRA_ENOTFOUND);
	cr_assert_astra_ok(astra__store_del(s, "nope"));
	/* 1000 objects: List Blobs needs three pages of 400 */
	for (int i = 0; i < 1000; i++) {
		char k[64];
		snprintf(k, sizeof(k), "many/%04d", i);
		cr_assert_astra_ok(astra__store_put(s, k, k, strlen(k), NULL));
	}
	keys = all_keys(s, "many/");
	cr_assert_eq(astra__json_size(keys), 1000);
	for (int i = 0; i < 1000; i++) {
		char k[64];
		snprintf(k, sizeof(k), "many/%04d", i);
		cr_assert_str_eq(astra__json_string_value(
		                         astra__json_at(keys, (size_t)i)),
		        k);
	}
	astra__json_free(keys);
	keys = all_keys(s, "");
	cr_assert_eq(astra__json_size(keys), 1003);
	astra__json_free(keys);
	cr_assert_astra_ok(astra__store_del(s, "a/b/c"));
	cr_assert_astra_fail(
	        astra__store_head(s, "a/b/c", &info), ASTRA_ENOTFOUND);
	astra__store_free(s);
	free(url);
}

Test(it_azure, conditional_create_refuses_an_existing_object)
{
	char *url = url_for("cond", "block-size=1&block-threshold=1");
	astra__store *s = open_store(url);
	astra__put_opts po = { ASTRA_PUT_IF_ABSENT, 0, 0 };
	cr_assert_astra_ok(astra__store_put(s, "config", "one", 3, &po));
	cr_assert_astra_fail(
	        astra__store_put(s, "config", "two", 3, &po), ASTRA_EEXISTS);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "config", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "one");
	astra_buf_dispose(&b);
	/* the same through Put Block List (above the 1 MiB threshold) */
	size_t n = (2u << 20) + 3;
	char *d1 = malloc(n), *d2 = malloc(n);
	fst_fill(d1, n, 1);
	fst_fill(d2, n, 2);
	cr_assert_astra_ok(astra__store_put(s, "big", d1, n, &po));
	cr_assert_astra_fail(
	        astra__store_put(s, "big", d2, n, &po), ASTRA_EEXISTS);
	cr_assert_astra_ok(astra__store_get(s, "big", 0, 0, &b));
	cr_assert(b.size == n && !memcmp(b.ptr, d1, n), "big was replaced");
	astra_buf_dispose(&b);
	/* without the flag, objects are replaced */
	cr_assert_astra_ok(astra__store_put(s, "config", "new", 3, NULL));
	cr_assert_astra_ok(astra__store_get(s, "config", 0, 0, &b));
	cr_assert_str_eq(b.ptr, "new");
	astra_buf_dispose(&b);
	free(d1);
	free(d2);
	astra__store_free(s);
	free(url);
}

Test(it_azure, a_large_object_goes_up_in_parallel_blocks)
{
	char *url = url_for(
	        "blocks", "block-size=1&block-threshold=2&concurrency=3");
	astra__store *s = open_store(url);
	size_t n = (9u << 20) + 12345;
	char *data = malloc(n);
	fst_fill(data, n, 77);
	uint64_t t0 = astra__mono_ns();
	cr_assert_astra_ok(astra__store_put(s, "data/big", data, n, NULL));
	double secs = (double)(astra__mono_ns() - t0) / 1e9;
	fprintf(stderr,
	        "azure: 9 MiB in 10 blocks of 1 MiB, 3 in parallel: "
	        "%.2f s\n",
	        secs);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(s, "data/big", 0, 0, &b));
	cr_assert_eq(b.size, n);
	cr_assert(memcmp(b.ptr, data, n) == 0, "the block blob differs");
	astra_buf_dispose(&b);
	cr_assert_astra_ok(
	        astra__store_get(s, "data/big", (5u << 20) - 7, 100, &b));
	cr_assert(memcmp(b.ptr, data + (5u << 20) - 7, 100) == 0);
	astra_buf_dispose(&b);
	/* the independent client sees ten committed blocks */
	char target[4600];
	const char *q = strchr(url, '?');
	const char *p = url + 8;
	snprintf(target, sizeof(target), "/%.*s/data/big?comp=blocklist",
	        (int)(q - p), p);
	const char *args[] = { "GET", target, NULL };
	cr_assert_eq(azreq(&b, args), 0, "%s", b.ptr ? b.ptr : "");
	astra__xml *x = NULL;
	cr_assert_astra_ok(astra__xml_parse(&x, b.ptr, b.size, "block list"));
	const astra__xml *c = astra__xml_child(x, "CommittedBlocks");
	cr_assert_not_null(c, "%s", b.ptr);
	int nb = 0;
	for (const astra__xml *bl = astra__xml_child(c, "Block"); bl;
	        bl = astra__xml_next(bl, "Block"))
		nb++;
	cr_assert_eq(nb, 10, "%s", b.ptr);
	astra__xml_free(x);
	astra_buf_dispose(&b);
	astra__store_free(s);
	free(data);
	free(url);
}

Test(it_azure, presigned_urls_work_without_credentials)
{
	char *url = url_for("presign", NULL);
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
	char *sig = strstr(signed_url, "sig=");
	sig[4] = sig[4] == 'A' ? 'B' : 'A';
	snprintf(cmd, sizeof(cmd), "curl -fsS -o /dev/null '%s' 2>/dev/null",
	        signed_url);
	cr_assert_neq(system(cmd), 0);
	free(signed_url);
	free(out);
	astra__store_free(s);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Credentials and errors                                              */
/* ------------------------------------------------------------------ */

Test(it_azure, wrong_key_is_eauth_naming_the_azure_code)
{
	char *url = url_for("auth", NULL);
	astra__store *s = NULL;
	/* a well-formed key of the right length, but not the account's */
	const char *bad =
	        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"
	        "cXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==";
	setenv("AZURE_STORAGE_KEY", bad, 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "Authorization") || strstr(m, "Authentication"),
	        "%s", m);
	cr_assert(strstr(m, "request id"), "%s", m);
	cr_assert_null(strstr(m, bad), "the key leaked: %s", m);
	cr_assert_null(
	        strstr(m, env("ASTRA_TB_AZ_KEY")), "the key leaked: %s", m);
	/* not base64 */
	setenv("AZURE_STORAGE_KEY", "not base64!", 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "AZURE_STORAGE_KEY"));
	cr_assert_null(strstr(astra_error_last()->message, "not base64!"));
	/* through the public API too */
	setenv("AZURE_STORAGE_KEY", bad, 1);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);
	/* no credentials at all */
	unsetenv("AZURE_STORAGE_KEY");
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	m = astra_error_last()->message;
	cr_assert(strstr(m, "AZURE_STORAGE_CONNECTION_STRING") &&
	                  strstr(m, "AZURE_STORAGE_SAS_TOKEN"),
	        "%s", m);
	free(url);
}

Test(it_azure, a_missing_container_is_enotfound_naming_it)
{
	char *url = url_at(env("ASTRA_TB_AZ_ENDPOINT"),
	        "astra-no-such-container", "x", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "astra-no-such-container") &&
	                  strstr(m, "ContainerNotFound"),
	        "%s", m);
	free(url);
}

Test(it_azure, a_sas_token_authorises_without_the_key)
{
	unsetenv("AZURE_STORAGE_KEY");
	setenv("AZURE_STORAGE_SAS_TOKEN", env("ASTRA_TB_AZ_SAS"), 1);
	char *url = url_for("sas", NULL);
	round_trip(url);
	/* with a leading '?', as the portal shows it */
	char q[4096];
	snprintf(q, sizeof(q), "?%s", env("ASTRA_TB_AZ_SAS"));
	setenv("AZURE_STORAGE_SAS_TOKEN", q, 1);
	round_trip(url);
	/* presigning needs the key */
	astra__store *s = open_store(url);
	char *signed_url = NULL;
	cr_assert_astra_fail(
	        astra__store_presign(s, "GET", "k", 60, &signed_url),
	        ASTRA_ENOTSUPPORTED);
	astra__store_free(s);
	/* a tampered signature */
	char bad[4096];
	snprintf(bad, sizeof(bad), "%s", env("ASTRA_TB_AZ_SAS"));
	char *sig = strstr(bad, "sig=");
	cr_assert_not_null(sig);
	sig[4] = sig[4] == 'A' ? 'B' : 'A';
	setenv("AZURE_STORAGE_SAS_TOKEN", bad, 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "Authorization") || strstr(m, "Authentication"),
	        "%s", m);
	cr_assert_null(strstr(m, sig + 4), "the signature leaked: %s", m);
	/* a SAS without a signature */
	setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2021-12-02&sp=r", 1);
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "sig="));
	free(url);
}

Test(it_azure, a_connection_string_gives_account_key_and_endpoint)
{
	unsetenv("AZURE_STORAGE_KEY");
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	        env("ASTRA_TB_AZ_CONNECTION_STRING"), 1);
	char url[512];
	snprintf(url, sizeof(url), "azure://%s/it-%s-cs", plain(), run_id);
	round_trip(url);
	/* it wins over a wrong key in the environment */
	setenv("AZURE_STORAGE_KEY", "QUJD", 1);
	round_trip(url);
	/* a SAS in a connection string */
	char cs[4096];
	snprintf(cs, sizeof(cs), "BlobEndpoint=%s;SharedAccessSignature=%s",
	        env("ASTRA_TB_AZ_ENDPOINT"), env("ASTRA_TB_AZ_SAS"));
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	snprintf(url, sizeof(url), "azure://%s/it-%s-cs?account=%s", plain(),
	        run_id, env("ASTRA_TB_AZ_ACCOUNT"));
	round_trip(url);
	/* another account than the connection string's */
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	        env("ASTRA_TB_AZ_CONNECTION_STRING"), 1);
	snprintf(url, sizeof(url), "azure://%s/x?account=someoneelse", plain());
	astra__store *s = NULL;
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "someoneelse"));
	/* without a key or SAS */
	setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=abc;", 1);
	snprintf(url, sizeof(url), "azure://%s/x", plain());
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EAUTH);
}

Test(it_azure, bad_urls_are_refused_naming_the_cause)
{
	astra__store *s = NULL;
	char *url = url_for("x", "colour=blue");
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "colour"));
	free(url);
	url = url_for("x", "block-size=0");
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), ASTRA_EINVALID);
	free(url);
	cr_assert_astra_fail(
	        astra__store_open(&s, "azure://Bad_Name/x?account=abc", NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "Bad_Name"));
	cr_assert_astra_fail(
	        astra__store_open(&s, "azure:///x?account=abc", NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__store_open(&s, "azure://c0ntainer/x?account=ABC", NULL),
	        ASTRA_EINVALID);
	unsetenv("AZURE_STORAGE_ACCOUNT");
	cr_assert_astra_fail(astra__store_open(&s, "azure://c0ntainer/x", NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "account"));
	cr_assert_astra_fail(astra__store_open(&s,
	                             "azure://c0ntainer/x?account=abc&"
	                             "endpoint=ftp://h",
	                             NULL),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra__store_open(
	                &s, "azure://c0ntainer/../x?account=abc", NULL),
	        ASTRA_EINVALID);
}

Test(it_azure, an_endpoint_that_is_down_is_enet_after_bounded_retries)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	char ep[64];
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/acct", ntohs(a.sin_port));
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

Test(it_azure, an_untrusted_certificate_is_ecertificate_unless_a_ca_is_given)
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

/* ------------------------------------------------------------------ */
/* Immutability (Azurite has none: refusals only)                      */
/* ------------------------------------------------------------------ */

Test(it_azure, immutability_needs_a_container_with_version_level_worm)
{
	char *url = url_for("notworm", NULL);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(3, 0);
	cr_assert_astra_fail(
	        astra_vault_init(&v, url, &o), ASTRA_ENOTSUPPORTED);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "version-level immutability"), "%s", m);
	astra__store *s = open_store(url);
	astra__json *keys = all_keys(s, "");
	cr_assert_eq(astra__json_size(keys), 0, "something was written");
	astra__json_free(keys);
	/* the store refuses per-object retention too */
	astra__put_opts po = { 0, astra__wall_ns() / 1000000000LL + 60,
		ASTRA_STORE_LOCK_GOVERNANCE };
	cr_assert_astra_fail(
	        astra__store_put(s, "k", "v", 1, &po), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(astra_error_last()->message, "immutability"));
	cr_assert_astra_fail(
	        astra__store_retain(s, "k", 1, 0), ASTRA_ENOTSUPPORTED);
	astra__store_free(s);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Vaults                                                              */
/* ------------------------------------------------------------------ */

Test(it_azure, a_vault_backs_up_restores_checks_and_collects_garbage)
{
	char *url = url_for("vault", "block-size=1&block-threshold=1");
	char *a = make_src("a", 3, 900 << 10, 1);
	char *b = make_src("b", 2, 700 << 10, 2);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	o.pack_size = 2 << 20; /* packs above the block threshold */
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	astra_data_backup_result ra = {
		.version = ASTRA_DATA_BACKUP_RESULT_VERSION
	};
	astra_data_backup_result rb = {
		.version = ASTRA_DATA_BACKUP_RESULT_VERSION
	};
	cr_assert_astra_ok(astra_vault_backup_path(v, a, &bo, &ra));
	cr_assert_astra_ok(astra_vault_backup_path(v, b, &bo, &rb));
	astra_vault_free(v);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	char *dst = path_in("restore-a");
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, ra.id, dst, NULL, NULL, NULL));
	cr_assert_eq(fst_compare(a, dst), 0);
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_check(v, &co, &rep));
	astra_buf_dispose(&rep);
	/* forget a, collect: b still restores, fewer packs remain */
	astra__store *s = open_store(url);
	astra__json *before = all_keys(s, "data/");
	cr_assert_astra_ok(astra_vault_forget(v, ra.id));
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	cr_assert_astra_ok(astra_vault_gc(v, &g, &rep));
	astra_buf_dispose(&rep);
	cr_assert_astra_ok(astra_vault_gc(v, &g, &rep));
	astra_buf_dispose(&rep);
	astra__json *after = all_keys(s, "data/");
	cr_assert_lt(astra__json_size(after), astra__json_size(before),
	        "gc deleted no pack (%zu before, %zu after)",
	        astra__json_size(before), astra__json_size(after));
	astra__json_free(before);
	astra__json_free(after);
	char *dst2 = path_in("restore-b");
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, rb.id, dst2, NULL, NULL, NULL));
	cr_assert_eq(fst_compare(b, dst2), 0);
	cr_assert_astra_ok(astra_vault_check(v, &co, &rep));
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	astra__store_free(s);
	free(dst);
	free(dst2);
	free(a);
	free(b);
	free(url);
}

/* ------------------------------------------------------------------ */
/* Faults (tests/integration/s3/faultproxy.py in front of Azurite)     */
/* ------------------------------------------------------------------ */

TestSuite(it_azure_faults, .init = setup, .fini = teardown, .timeout = 900);

/* Replication through Azurite: file -> here -> file, each replica opens
 * with the vault's password, checks clean and restores. */
Test(it_azure, a_file_vault_replicates_here_and_back)
{
	char *here = url_for("replica", NULL);
	replicates_here_and_back(here);
	free(here);
}

static char *proxy_url(const char *name, const char *extra)
{
	return url_at(env("ASTRA_IT_PROXY_ENDPOINT"), plain(), name, extra);
}

Test(it_azure_faults, backups_through_faults_complete_and_check_clean)
{
	faults("{}");
	/* blocks of 1 MiB above 1 MiB: packs go up as block lists */
	char *url = proxy_url("faults",
	        "timeout=3&retries=10&retry-budget=120&block-size=1&"
	        "block-threshold=1");
	char *src = make_src("src", 5, 3 << 20, 6);
	fst_make_rich_tree(src);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	o.pack_size = 2 << 20;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	faults("{\"slowdown\": 0.06, \"internal\": 0.03, \"reset\": 0.03, "
	       "\"reset_mid\": 0.03, \"stall\": 0.01, \"stall_seconds\": 5, "
	       "\"seed\": 7}");
	int64_t f0 = all_faults();
	astra_data_backup_result r1, r2;
	vbackup(v, src, 0, &r1);
	cr_assert_str_neq(r1.id, "");
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
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	cr_assert_astra_ok(vcheck(v));
	vrestore_equal(v, r2.id, src);
	astra_vault_free(v);
	free(f);
	free(src);
	free(url);
}

Test(it_azure_faults, persistent_faults_fail_cleanly_naming_the_cause)
{
	faults("{}");
	char *url =
	        proxy_url("persistent", "timeout=3&retries=3&retry-budget=4");
	char *src = make_src("src", 2, 1 << 20, 8);
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_data_backup_result r1;
	vbackup(v, src, 0, &r1);
	char *more = make_src("more", 2, 1 << 20, 9);
	faults("{\"internal\": 1.0}");
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	int rc = astra_vault_backup_path(v, more, &bo, NULL);
	cr_assert_eq(
	        rc, ASTRA_ENET, "got %d: %s", rc, astra_error_last()->message);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "InternalError") && strstr(m, "HTTP 500") &&
	                  strstr(m, "retried"),
	        "%s", m);
	faults("{}");
	astra_vault_free(v);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	cr_assert_astra_ok(vcheck(v));
	vrestore_equal(v, r1.id, src);
	astra_data_backup_result r2;
	vbackup(v, more, 0, &r2);
	vrestore_equal(v, r2.id, more);
	astra_vault_free(v);
	free(src);
	free(more);
	free(url);
}
