/*
 * Vault URLs (lib/store/url.c and the scheme table of store.c): splitting,
 * percent-decoding, prefixes, each backend's option table and the exact
 * messages for unknown options, bad values and unknown schemes. Every
 * URL here is refused (or answered) before any request is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "store/store.h"
#include "store/url.h"

static const char *msg(void)
{
	return astra_error_last()->message;
}

/* Opening url fails with code and exactly the message want. */
static void refused(const char *url, int code, const char *want)
{
	astra__store *s = NULL;
	cr_assert_astra_fail(astra__store_open(&s, url, NULL), code);
	cr_assert_null(s);
	cr_assert_str_eq(msg(), want);
}

Test(store_url, split)
{
	astra__url_parts u;
	cr_assert_eq(astra__url_split("s3://bkt/a/b?x=1&y", &u), 1);
	cr_assert_eq(u.scheme_len, 2);
	cr_assert(!strncmp(u.scheme, "s3", 2));
	cr_assert_eq(u.authority_len, 3);
	cr_assert(!strncmp(u.authority, "bkt", 3));
	cr_assert_eq(u.path_len, 4);
	cr_assert(!strncmp(u.path, "/a/b", 4));
	cr_assert_str_eq(u.query, "x=1&y");
	cr_assert_eq(astra__url_split("azure://c?account=a", &u), 1);
	cr_assert_eq(u.authority_len, 1);
	cr_assert_eq(u.path_len, 0);
	cr_assert_str_eq(u.query, "account=a");
	/* '#' ends the authority and stays in the path (refused there) */
	cr_assert_eq(astra__url_split("gs://b#frag/x", &u), 1);
	cr_assert_eq(u.authority_len, 1);
	cr_assert(!strncmp(u.path, "#frag/x", u.path_len));
	cr_assert_null(u.query);
	cr_assert_eq(astra__url_split("/plain/path", &u), 0);
}

Test(store_url, percent_decoding)
{
	char *d = astra__url_pct_decode("a%2Fb+c%41%zz%4", 15);
	cr_assert_str_eq(d, "a/b cA%zz%4");
	free(d);
	d = astra__url_pct_decode("%41BC", 2); /* only n bytes */
	cr_assert_str_eq(d, "%4");
	free(d);
	const char *q = "k%20one=v%3Dx&bare&=empty";
	char *k, *v;
	cr_assert_eq(astra__url_opt_next(&q, &k, &v), 1);
	cr_assert_str_eq(k, "k one");
	cr_assert_str_eq(v, "v=x");
	free(k);
	free(v);
	cr_assert_eq(astra__url_opt_next(&q, &k, &v), 1);
	cr_assert_str_eq(k, "bare");
	cr_assert_str_eq(v, "");
	free(k);
	free(v);
	cr_assert_eq(astra__url_opt_next(&q, &k, &v), 1);
	cr_assert_str_eq(k, "");
	cr_assert_str_eq(v, "empty");
	free(k);
	free(v);
	cr_assert_eq(astra__url_opt_next(&q, &k, &v), 0);
}

Test(store_url, prefix)
{
	char *p = NULL;
	const char *path = "//a%20b///c/";
	cr_assert_astra_ok(astra__url_prefix("U", path, strlen(path), &p));
	cr_assert_str_eq(p, "a b/c/");
	free(p);
	cr_assert_astra_ok(astra__url_prefix("U", "", 0, &p));
	cr_assert_str_eq(p, "");
	free(p);
	const char *bad[] = { "/a/../b", "/./b", "/a#b" };
	for (size_t i = 0; i < 3; i++) {
		cr_assert_astra_fail(
		        astra__url_prefix("U", bad[i], strlen(bad[i]), &p),
		        ASTRA_EINVALID);
		cr_assert_null(p);
		cr_assert_str_eq(msg(), "vault URL U: invalid prefix");
	}
	char *a, *pre;
	const char *q;
	cr_assert_astra_ok(astra__url_object(
	        "s3://bkt/x/y?z=1", "bucket", "s3://b/p", &a, &pre, &q));
	cr_assert_str_eq(a, "bkt");
	cr_assert_str_eq(pre, "x/y/");
	cr_assert_str_eq(q, "z=1");
	char *disp = astra__url_display("s3", a, pre);
	cr_assert_str_eq(disp, "s3://bkt/x/y");
	free(disp);
	free(a);
	free(pre);
	refused("s3://", ASTRA_EINVALID,
	        "vault URL s3://: no bucket (expected s3://bucket/prefix)");
	refused("gs://?x=1", ASTRA_EINVALID,
	        "vault URL gs://?x=1: no bucket (expected gs://bucket/prefix)");
	refused("azure:///p", ASTRA_EINVALID,
	        "vault URL azure:///p: no container (expected "
	        "azure://container/prefix?account=NAME)");
	refused("s3://bkt/a/../b", ASTRA_EINVALID,
	        "vault URL s3://bkt/a/../b: invalid prefix");
}

Test(store_url, unknown_options_list_the_known_ones)
{
	refused("s3://bkt/p?colour=red", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?colour=red: unknown option \"colour\" "
	        "(known: endpoint, region, path-style, ca, insecure-tls, "
	        "allow-plain-http, proxy, profile, checksum, payload, "
	        "part-size, "
	        "multipart-threshold, concurrency, timeout, retries, "
	        "retry-budget)");
	refused("azure://box/p?account=a&key=s", ASTRA_EINVALID,
	        "vault URL azure://box/p?account=a&key=s: unknown option "
	        "\"key\" (known: account, endpoint, endpoint-suffix, ca, "
	        "insecure-tls, allow-plain-http, proxy, block-size, "
	        "block-threshold, "
	        "concurrency, list-page, timeout, retries, retry-budget; "
	        "credentials never go in the URL)");
	refused("gs://bkt/p?colour%20x=1", ASTRA_EINVALID,
	        "vault URL gs://bkt/p?colour%20x=1: unknown option \"colour "
	        "x\" (known: endpoint, auth, credentials, token-file, scope, "
	        "ca, insecure-tls, allow-plain-http, proxy, "
	        "resumable-threshold, chunk-size, "
	        "timeout, retries, retry-budget)");
}

Test(store_url, bad_values_are_named)
{
	refused("s3://bkt/p?insecure-tls=maybe", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?insecure-tls=maybe: option insecure-tls "
	        "takes 0 or 1, not \"maybe\"");
	refused("s3://bkt/p?path-style=sometimes", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?path-style=sometimes: option path-style "
	        "takes 0 or 1, not \"sometimes\"");
	refused("s3://bkt/p?part-size=4", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?part-size=4: option part-size must be a "
	        "number from 5 to 5120, not \"4\"");
	refused("s3://bkt/p?checksum=crc32", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?checksum=crc32: checksum must be auto, "
	        "md5, sha256 or none, not \"crc32\"");
	refused("s3://bkt/p?payload=maybe", ASTRA_EINVALID,
	        "vault URL s3://bkt/p?payload=maybe: payload must be signed or "
	        "unsigned, not \"maybe\"");
	refused("azure://box/p?list-page=5001", ASTRA_EINVALID,
	        "vault URL azure://box/p?list-page=5001: option list-page "
	        "must be a number from 1 to 5000, not \"5001\"");
	refused("azure://box/p?timeout=1s", ASTRA_EINVALID,
	        "vault URL azure://box/p?timeout=1s: option timeout must be "
	        "a number from 1 to 86400, not \"1s\"");
	refused("gs://bkt/p?chunk-size=", ASTRA_EINVALID,
	        "vault URL gs://bkt/p?chunk-size=: option chunk-size must be "
	        "a number from 1 to 1024, not \"\"");
	refused("gs://bkt/p?retries=101", ASTRA_EINVALID,
	        "vault URL gs://bkt/p?retries=101: option retries must be a "
	        "number from 0 to 100, not \"101\"");
}

/* The table parser on its own: every type, a later value wins. */
typedef struct {
	char *name;
	int flag, tri, pick;
	long n;
} demo;

static const char *const picks[] = { "one", "two", "three", NULL };

static const astra__url_opt demo_opts[] = {
	ASTRA__URL_STR("name", demo, name, "a string"),
	ASTRA__URL_BOOL("flag", demo, flag, "a bool"),
	ASTRA__URL_AUTO_BOOL("tri", demo, tri, "auto or a bool"),
	ASTRA__URL_CHOICE("pick", demo, pick, picks, "a choice"),
	ASTRA__URL_LONG("n", demo, n, -2, 7, "a number"),
	ASTRA__URL_END,
};

static const astra__url_opt_table demo_table = { demo_opts, "; and so on" };

Test(store_url, option_table)
{
	demo d = { 0 };
	cr_assert_astra_ok(astra__url_opts_parse("U",
	        "name=a&flag=no&tri=auto&pick=three&n=-2&name=b%21",
	        &demo_table, &d));
	cr_assert_str_eq(d.name, "b!");
	cr_assert_eq(d.flag, 0);
	cr_assert_eq(d.tri, -1);
	cr_assert_eq(d.pick, 2);
	cr_assert_eq(d.n, -2);
	cr_assert_astra_ok(
	        astra__url_opts_parse("U", "flag&tri=yes", &demo_table, &d));
	cr_assert_eq(d.flag, 1);
	cr_assert_eq(d.tri, 1);
	cr_assert_astra_ok(astra__url_opts_parse("U", NULL, &demo_table, &d));
	cr_assert_astra_fail(
	        astra__url_opts_parse("U", "n=1&x=2", &demo_table, &d),
	        ASTRA_EINVALID);
	cr_assert_str_eq(msg(), "vault URL U: unknown option \"x\" (known: "
	                        "name, flag, tri, pick, n; and so on)");
	cr_assert_eq(d.n, 1);
	cr_assert_astra_fail(
	        astra__url_opts_parse("U", "pick=four", &demo_table, &d),
	        ASTRA_EINVALID);
	cr_assert_str_eq(msg(), "vault URL U: pick must be one, two or three, "
	                        "not \"four\"");
	cr_assert_astra_fail(astra__url_opts_parse("U", "n=8", &demo_table, &d),
	        ASTRA_EINVALID);
	cr_assert_str_eq(msg(), "vault URL U: option n must be a number from "
	                        "-2 to 7, not \"8\"");
	cr_assert_astra_fail(
	        astra__url_opts_parse("U", "flag=2", &demo_table, &d),
	        ASTRA_EINVALID);
	cr_assert_str_eq(msg(), "vault URL U: option flag takes 0 or 1, not "
	                        "\"2\"");
	astra__url_opts_free(&demo_table, &d);
	cr_assert_null(d.name);
}

/* Every backend's table: names unique, help given, option set works. */
Test(store_url, backend_tables)
{
	const astra__store_backend *b[] = { &astra__store_s3_backend,
		&astra__store_azure_backend, &astra__store_gcs_backend };
	for (size_t i = 0; i < 3; i++) {
		const astra__url_opt_table *t = b[i]->options;
		cr_assert_not_null(t, "%s", b[i]->scheme);
		size_t n = 0;
		for (const astra__url_opt *o = t->opts; o->name; o++, n++) {
			cr_assert(o->help && *o->help, "%s", o->name);
			cr_assert_eq(astra__url_opt_find(t->opts, o->name), o,
			        "%s%s twice", b[i]->scheme, o->name);
			if (o->type == ASTRA__URL_OPT_LONG)
				cr_assert(o->lo <= o->hi, "%s", o->name);
			if (o->type == ASTRA__URL_OPT_CHOICE)
				cr_assert_not_null(o->choices, "%s", o->name);
		}
		cr_assert_geq(n, 13, "%s", b[i]->scheme);
		/* the network options are in every one */
		const char *net[] = { "ca", "proxy", "insecure-tls",
			"allow-plain-http", "timeout", "retries",
			"retry-budget" };
		for (size_t j = 0; j < 7; j++)
			cr_assert_not_null(astra__url_opt_find(t->opts, net[j]),
			        "%s%s", b[i]->scheme, net[j]);
	}
	cr_assert_null(astra__store_fs_backend.options);
}

Test(store_url, schemes)
{
	refused("ftp://h/x", ASTRA_ENOTSUPPORTED,
	        "vault URL ftp://h/x: unsupported scheme \"ftp\" (supported: "
	        "file://, s3://, azure://, gs://)");
	refused("S3://b/x", ASTRA_ENOTSUPPORTED,
	        "vault URL S3://b/x: unsupported scheme \"S3\" (supported: "
	        "file://, s3://, azure://, gs://)");
	refused("vault", ASTRA_EINVALID,
	        "vault URL vault: not a URL (expected file:///dir or "
	        "s3://bucket/prefix)");
	refused("file://dir", ASTRA_EINVALID,
	        "vault URL file://dir: a file:// URL needs an absolute path "
	        "(file:///dir)");
	cr_assert_eq(
	        astra__store_backend_of("s3://b"), &astra__store_s3_backend);
	cr_assert_eq(
	        astra__store_backend_of("gs://b"), &astra__store_gcs_backend);
	cr_assert_eq(astra__store_backend_of("azure://c"),
	        &astra__store_azure_backend);
	cr_assert_eq(
	        astra__store_backend_of("file:///x"), &astra__store_fs_backend);
	cr_assert_null(astra__store_backend_of("/x"));
	cr_assert_null(astra__store_backend_of("gcs://b"));
}

/* What the repository and the mover ask about a URL without opening it. */
Test(store_url, backend_knowledge)
{
	cr_assert(astra__store_url_can_lock("s3://b/p"));
	cr_assert(astra__store_url_can_lock("azure://c/p"));
	cr_assert(astra__store_url_can_lock("gs://b"));
	cr_assert_not(astra__store_url_can_lock("file:///x"));
	cr_assert_not(astra__store_url_can_lock("/x"));
	cr_assert_str_eq(astra__store_lock_schemes(), "s3://, azure://, gs://");
	const char *const *env = astra__store_url_job_env("s3://b/p");
	size_t n = 0;
	for (; env[n]; n++)
		cr_assert(!strncmp(env[n], "AWS_", 4), "%s", env[n]);
	cr_assert_eq(n, 7);
	cr_assert_str_eq(env[0], "AWS_ACCESS_KEY_ID");
	cr_assert_null(astra__store_url_job_env("file:///x")[0]);
	cr_assert_null(astra__store_url_job_env("gs://b")[0]);
	cr_assert_null(astra__store_url_job_env("azure://c")[0]);
	char *dir = NULL;
	cr_assert_astra_ok(astra__store_url_local_dir("file:///srv/v", &dir));
	cr_assert_str_eq(dir, "/srv/v");
	free(dir);
	cr_assert_astra_ok(
	        astra__store_url_local_dir("file://localhost/srv/v", &dir));
	cr_assert_str_eq(dir, "/srv/v");
	free(dir);
	cr_assert_astra_ok(astra__store_url_local_dir("file://rel", &dir));
	cr_assert_null(dir);
	cr_assert_astra_ok(astra__store_url_local_dir("s3://b/p", &dir));
	cr_assert_null(dir);
	cr_assert_astra_ok(astra__store_url_local_dir("/srv/v", &dir));
	cr_assert_null(dir);
}

/* What s3:// and gs:// buckets need for an immutable vault (the messages
 * repo.c's check_worm wrote before the backends owned them). */
Test(store_url, worm_checks)
{
	astra__store st = { 0 };
	char url[] = "s3://b/p";
	st.url = url;
	int (*s3)(astra__store *, int) =
	        astra__store_s3_backend.ops->worm_check;
	int (*gcs)(astra__store *, int) =
	        astra__store_gcs_backend.ops->worm_check;
	cr_assert_not_null(s3);
	cr_assert_not_null(gcs);
	cr_assert_not_null(astra__store_azure_backend.ops->worm_check);
	cr_assert_null(astra__store_fs_backend.ops->worm_check);
	cr_assert_astra_fail(s3(&st, ASTRA_ERROR_REPO), ASTRA_ENOTSUPPORTED);
	cr_assert_eq(astra_error_last()->klass, ASTRA_ERROR_REPO);
	cr_assert_str_eq(msg(), "vault s3://b/p: the bucket is not a WORM "
	                        "bucket: versioning is not enabled and object "
	                        "lock is not enabled; create a bucket with "
	                        "object lock enabled (which also enables "
	                        "versioning) for an immutable vault");
	st.caps = ASTRA_STORE_CAP_VERSIONING;
	cr_assert_astra_fail(s3(&st, ASTRA_ERROR_REPO), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(msg(), "bucket: object lock is not enabled;"), "%s",
	        msg());
	st.caps = ASTRA_STORE_CAP_OBJECT_LOCK;
	cr_assert_astra_fail(s3(&st, ASTRA_ERROR_REPO), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(msg(), "bucket: versioning is not enabled;"), "%s",
	        msg());
	st.caps = ASTRA_STORE_CAP_OBJECT_LOCK | ASTRA_STORE_CAP_VERSIONING;
	cr_assert_astra_ok(s3(&st, ASTRA_ERROR_REPO));
	/* GCS: object retention is what counts, versioning does not */
	char gurl[] = "gs://b";
	st.url = gurl;
	st.caps = ASTRA_STORE_CAP_VERSIONING;
	cr_assert_astra_fail(gcs(&st, ASTRA_ERROR_REPO), ASTRA_ENOTSUPPORTED);
	cr_assert_str_eq(msg(), "vault gs://b: the bucket is not a WORM "
	                        "bucket: object retention is not enabled; "
	                        "create the bucket with object retention "
	                        "(gcloud storage buckets create "
	                        "--enable-per-object-retention) for an "
	                        "immutable vault");
	st.caps = ASTRA_STORE_CAP_OBJECT_LOCK;
	cr_assert_astra_ok(gcs(&st, ASTRA_ERROR_REPO));
}
