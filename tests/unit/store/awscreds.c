/*
 * AWS credential resolution: environment, shared credentials and config
 * files, and web identity (STS AssumeRoleWithWebIdentity) against a
 * loopback STS stand-in. Criterion runs each test in its own process, so
 * the tests may change the environment.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fmt/xml.h"
#include "fstree.h"
#include "store/awscreds.h"

static char *work;

static void setup(void)
{
	work = fst_tmpdir("awscreds");
	static const char *vars[] = { "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_SESSION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL_STS", "AWS_SHARED_CREDENTIALS_FILE",
		"AWS_CONFIG_FILE", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("HOME", work, 1);
}

static void teardown(void)
{
	fst_rmrf(work);
	free(work);
}

TestSuite(store_awscreds, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", work, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	cr_assert_eq(system(cmd), 0);
	*slash = '/';
	fst_write(path, text, strlen(text));
}

static const char creds_file[] = "# comment\n"
                                 "[default]\n"
                                 "aws_access_key_id = AKIDDEFAULT\n"
                                 "aws_secret_access_key=secret/default+key\n"
                                 "\n"
                                 "[prod]\n"
                                 "  ; indented comment\n"
                                 "aws_access_key_id=AKIDOLD\n"
                                 "aws_access_key_id =  AKIDPROD  \n"
                                 "aws_secret_access_key = prodsecret\n"
                                 "aws_session_token = prodtoken\n"
                                 "s3 =\n"
                                 "  region = ignored-nested\n"
                                 "[ spaced ]\n"
                                 "aws_access_key_id = AKIDSPACED\n";

Test(store_awscreds, ini_sections_keys_comments_and_nesting)
{
	char *v =
	        astra__aws_ini_get(creds_file, "default", "aws_access_key_id");
	cr_assert_str_eq(v, "AKIDDEFAULT");
	free(v);
	v = astra__aws_ini_get(creds_file, "default", "aws_secret_access_key");
	cr_assert_str_eq(v, "secret/default+key");
	free(v);
	v = astra__aws_ini_get(creds_file, "prod", "aws_access_key_id");
	cr_assert_str_eq(v, "AKIDPROD", "the last value wins, trimmed");
	free(v);
	cr_assert_null(astra__aws_ini_get(creds_file, "prod", "region"),
	        "nested settings are not the profile's");
	v = astra__aws_ini_get(creds_file, "spaced", "AWS_ACCESS_KEY_ID");
	cr_assert_str_eq(v, "AKIDSPACED");
	free(v);
	cr_assert_null(astra__aws_ini_get(creds_file, "nope", "x"));
	cr_assert_null(astra__aws_ini_get("", "default", "x"));
	cr_assert_null(astra__aws_ini_get("[default\nx=1\n", "default", "x"));
}

static void get_keys(astra__aws_keys *k)
{
	astra__aws_provider *p = NULL;
	cr_assert_astra_ok(astra__aws_provider_new(&p, NULL));
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, k));
	astra__aws_provider_free(p);
}

Test(store_awscreds, environment_wins_over_profiles)
{
	write_file(".aws/credentials", creds_file);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("AWS_PROFILE", "prod", 1);
	astra__aws_keys k;
	get_keys(&k);
	cr_assert_str_eq(k.access_key, "AKIDENV");
	cr_assert_str_eq(k.secret_key, "envsecret");
	cr_assert_str_eq(k.session_token, "envtoken");
	cr_assert_eq(k.expires, 0);
	astra__aws_keys_clear(&k);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	astra__aws_provider *p = NULL;
	cr_assert_astra_fail(astra__aws_provider_new(&p, NULL), ASTRA_EAUTH);
	cr_assert_not_null(
	        strstr(astra_error_last()->message, "AWS_SECRET_ACCESS_KEY"));
}

Test(store_awscreds, profile_from_the_shared_credentials_file)
{
	write_file(".aws/credentials", creds_file);
	astra__aws_keys k;
	get_keys(&k);
	cr_assert_str_eq(k.access_key, "AKIDDEFAULT");
	cr_assert_null(k.session_token);
	astra__aws_keys_clear(&k);
	setenv("AWS_PROFILE", "prod", 1);
	get_keys(&k);
	cr_assert_str_eq(k.access_key, "AKIDPROD");
	cr_assert_str_eq(k.session_token, "prodtoken");
	astra__aws_keys_clear(&k);
	/* an explicit profile (the URL's profile=) wins over the env keys */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	astra__aws_provider_opts o = { 0 };
	o.profile = "default";
	astra__aws_provider *p = NULL;
	cr_assert_astra_ok(astra__aws_provider_new(&p, &o));
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, &k));
	cr_assert_str_eq(k.access_key, "AKIDDEFAULT");
	astra__aws_keys_clear(&k);
	astra__aws_provider_free(p);
}

Test(store_awscreds, config_file_profiles_and_region)
{
	write_file("conf/config", "[default]\nregion = eu-west-1\n"
	                          "[profile other]\nregion=ap-south-1\n"
	                          "aws_access_key_id = AKIDCONF\n"
	                          "aws_secret_access_key = confsecret\n");
	char path[4300];
	snprintf(path, sizeof(path), "%s/conf/config", work);
	setenv("AWS_CONFIG_FILE", path, 1);
	char *r = astra__aws_default_region(NULL);
	cr_assert_str_eq(r, "eu-west-1");
	free(r);
	r = astra__aws_default_region("other");
	cr_assert_str_eq(r, "ap-south-1");
	free(r);
	setenv("AWS_REGION", "us-west-2", 1);
	r = astra__aws_default_region("other");
	cr_assert_str_eq(r, "us-west-2", "the environment wins");
	free(r);
	setenv("AWS_PROFILE", "other", 1);
	astra__aws_keys k;
	get_keys(&k);
	cr_assert_str_eq(k.access_key, "AKIDCONF");
	astra__aws_keys_clear(&k);
}

Test(store_awscreds, nothing_configured_is_eauth_naming_the_profile)
{
	setenv("AWS_PROFILE", "missing-profile", 1);
	astra__aws_provider *p = NULL;
	cr_assert_astra_fail(astra__aws_provider_new(&p, NULL), ASTRA_EAUTH);
	cr_assert_not_null(
	        strstr(astra_error_last()->message, "missing-profile"));
	cr_assert_null(p);
	write_file(
	        ".aws/credentials", "[half]\naws_access_key_id = AKIDHALF\n");
	setenv("AWS_PROFILE", "half", 1);
	cr_assert_astra_fail(astra__aws_provider_new(&p, NULL), ASTRA_EAUTH);
	cr_assert_null(strstr(astra_error_last()->message, "AKIDHALF"));
}

Test(store_awscreds, dates_in_iso8601_and_http_form)
{
	int64_t t;
	cr_assert_astra_ok(astra__aws_parse_time("2013-05-24T00:00:00Z", &t));
	cr_assert_eq(t, 1369353600);
	cr_assert_astra_ok(
	        astra__aws_parse_time("2026-11-22T02:26:13.420Z", &t));
	cr_assert_eq(t, 1795314373);
	cr_assert_astra_ok(
	        astra__aws_parse_time("Fri, 24 May 2013 00:00:00 GMT", &t));
	cr_assert_eq(t, 1369353600);
	cr_assert_astra_ok(astra__aws_parse_time("2000-02-29T23:59:59Z", &t));
	cr_assert_eq(t, 951868799);
	static const char *bad[] = { "", "2013-05-24", "2013-13-01T00:00:00Z",
		"2013-05-24T00:00:00", "2013-05-24T00:00:00Zx",
		"Fri, 24 Foo 2013 00:00:00 GMT", "2013-05-24T00:00:00.Z",
		NULL };
	for (int i = 0; bad[i]; i++)
		cr_assert_astra_fail(
		        astra__aws_parse_time(bad[i], &t), ASTRA_EPARSE);
}

static const char sts_ok_fmt[] =
        "<AssumeRoleWithWebIdentityResponse "
        "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<AssumeRoleWithWebIdentityResult>"
        "<SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>"
        "<Credentials><AccessKeyId>ASIA%d</AccessKeyId>"
        "<SecretAccessKey>temp-secret-%d</SecretAccessKey>"
        "<SessionToken>session-%d</SessionToken>"
        "<Expiration>%s</Expiration></Credentials>"
        "</AssumeRoleWithWebIdentityResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        "</AssumeRoleWithWebIdentityResponse>";

Test(store_awscreds, sts_responses_parse_or_fail_cleanly)
{
	char xml[2048];
	snprintf(xml, sizeof(xml), sts_ok_fmt, 1, 1, 1, "2026-11-22T03:00:00Z");
	astra__aws_keys k;
	cr_assert_astra_ok(astra__aws_parse_sts(xml, strlen(xml), &k));
	cr_assert_str_eq(k.access_key, "ASIA1");
	cr_assert_str_eq(k.secret_key, "temp-secret-1");
	cr_assert_str_eq(k.session_token, "session-1");
	cr_assert_gt(k.expires, 0);
	astra__aws_keys_clear(&k);
	const char *err = "<ErrorResponse><Error><Code>AccessDenied</Code>"
	                  "</Error></ErrorResponse>";
	cr_assert_astra_fail(
	        astra__aws_parse_sts(err, strlen(err), &k), ASTRA_EPARSE);
	cr_assert_astra_fail(astra__aws_parse_sts(xml, 100, &k), ASTRA_EPARSE);
}

/* ---- a loopback STS stand-in ---- */

static int sts_fd = -1, sts_port;
static atomic_int sts_calls;
static char sts_last_body[4096];
static int sts_lifetime = 3600; /* seconds of the credentials it issues */
static int sts_fail; /* answer with an error */
static pthread_t sts_thread;

static void *sts_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(sts_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		char buf[16384];
		size_t have = 0;
		char *end = NULL;
		while (!end && have < sizeof(buf) - 1) {
			ssize_t r =
			        read(fd, buf + have, sizeof(buf) - 1 - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			buf[have] = 0;
			end = strstr(buf, "\r\n\r\n");
		}
		if (!end) {
			close(fd);
			continue;
		}
		const char *cl = strcasestr(buf, "Content-Length:");
		size_t clen = cl ? (size_t)atol(cl + 15) : 0;
		size_t hlen = (size_t)(end - buf) + 4;
		while (have < hlen + clen && have < sizeof(buf) - 1) {
			ssize_t r =
			        read(fd, buf + have, sizeof(buf) - 1 - have);
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		buf[have] = 0;
		snprintf(
		        sts_last_body, sizeof(sts_last_body), "%s", buf + hlen);
		int n = atomic_fetch_add(&sts_calls, 1) + 1;
		char body[4096], when[32], head[256];
		time_t exp = time(NULL) + sts_lifetime;
		struct tm tm;
		gmtime_r(&exp, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		int status = 200;
		if (sts_fail) {
			status = 403;
			snprintf(body, sizeof(body),
			        "<ErrorResponse><Error><Type>Sender</Type><Code>"
			        "InvalidIdentityToken</Code><Message>token "
			        "rejected</Message></Error></ErrorResponse>");
		} else {
			snprintf(body, sizeof(body), sts_ok_fmt, n, n, n, when);
		}
		int hn = snprintf(head, sizeof(head),
		        "HTTP/1.1 %d X\r\nContent-Type: text/xml\r\n"
		        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		        status, strlen(body));
		write(fd, head, (size_t)hn);
		write(fd, body, strlen(body));
		close(fd);
	}
}

static void sts_start(void)
{
	sts_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(sts_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(sts_fd, (struct sockaddr *)&a, &l);
	sts_port = ntohs(a.sin_port);
	listen(sts_fd, 16);
	pthread_create(&sts_thread, NULL, sts_main, NULL);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sts_port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
}

static void web_identity_env(void)
{
	write_file("token", "eyJhbGciOiJSUzI1NiJ9.first-token\n");
	char path[4300];
	snprintf(path, sizeof(path), "%s/token", work);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/astra", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
	setenv("AWS_ROLE_SESSION_NAME", "astra-test", 1);
}

Test(store_awscreds, web_identity_assumes_the_role_and_refreshes)
{
	sts_start();
	web_identity_env();
	astra__aws_provider *p = NULL;
	cr_assert_astra_ok(astra__aws_provider_new(&p, NULL));
	cr_assert_not_null(
	        strstr(astra__aws_provider_source(p), "web identity"));
	cr_assert_eq(atomic_load(&sts_calls), 0, "STS is called lazily");
	astra__aws_keys k;
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, &k));
	cr_assert_str_eq(k.access_key, "ASIA1");
	cr_assert_str_eq(k.session_token, "session-1");
	astra__aws_keys_clear(&k);
	cr_assert_not_null(
	        strstr(sts_last_body, "Action=AssumeRoleWithWebIdentity"));
	cr_assert_not_null(strstr(sts_last_body,
	        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fastra"));
	cr_assert_not_null(strstr(sts_last_body, "RoleSessionName=astra-test"));
	cr_assert_not_null(strstr(sts_last_body,
	        "WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.first-token"));
	/* still valid: cached */
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, &k));
	cr_assert_str_eq(k.access_key, "ASIA1");
	astra__aws_keys_clear(&k);
	cr_assert_eq(atomic_load(&sts_calls), 1);
	/* forced (after ExpiredToken): a new token file is read */
	write_file("token", "second-token");
	cr_assert_astra_ok(astra__aws_provider_get(p, 1, &k));
	cr_assert_str_eq(k.access_key, "ASIA2");
	astra__aws_keys_clear(&k);
	cr_assert_not_null(
	        strstr(sts_last_body, "WebIdentityToken=second-token"));
	astra__aws_provider_free(p);

	/* credentials that expire within the margin are refreshed first */
	sts_lifetime = 120;
	cr_assert_astra_ok(astra__aws_provider_new(&p, NULL));
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, &k));
	astra__aws_keys_clear(&k);
	int before = atomic_load(&sts_calls);
	cr_assert_astra_ok(astra__aws_provider_get(p, 0, &k));
	astra__aws_keys_clear(&k);
	cr_assert_eq(atomic_load(&sts_calls), before + 1,
	        "credentials 2 minutes from expiry were not refreshed");
	astra__aws_provider_free(p);
}

Test(store_awscreds, web_identity_refusal_is_eauth_with_the_sts_code)
{
	sts_start();
	web_identity_env();
	sts_fail = 1;
	astra__aws_provider *p = NULL;
	cr_assert_astra_ok(astra__aws_provider_new(&p, NULL));
	astra__aws_keys k;
	cr_assert_astra_fail(astra__aws_provider_get(p, 0, &k), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert_not_null(strstr(m, "InvalidIdentityToken"), "%s", m);
	cr_assert_not_null(strstr(m, "arn:aws:iam::123456789012:role/astra"));
	cr_assert_null(strstr(m, "first-token"), "the token leaked: %s", m);
	astra__aws_provider_free(p);
	/* a missing token file is named */
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	cr_assert_astra_ok(astra__aws_provider_new(&p, NULL));
	cr_assert_astra_fail(astra__aws_provider_get(p, 0, &k), ASTRA_EAUTH);
	cr_assert_not_null(
	        strstr(astra_error_last()->message, "/nonexistent/token"));
	astra__aws_provider_free(p);
}
