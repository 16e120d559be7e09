/*
 * The transport rules of object-store endpoints (docs/security.md):
 * insecure-tls with a CA is refused, insecure-tls alone warns once per
 * process, credentials over plain http:// to a host not on loopback are
 * refused unless allow-plain-http=1, and the AWS STS call keeps its
 * certificate verification when the S3 endpoint turns it off. Refusals
 * need no network; 192.0.2.0/24 (TEST-NET-1) is never contacted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fstree.h"
#include "store/awscreds.h"
#include "store/store.h"

static char *work;
static pid_t tls_pid;

static void setup(void)
{
	work = fst_tmpdir("transport");
	static const char *vars[] = { "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT",
		"AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
		"GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
		"STORAGE_EMULATOR_HOST", "https_proxy", "HTTPS_PROXY",
		"http_proxy", "HTTP_PROXY", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("HOME", work, 1);
	setenv("AWS_REGION", "us-east-1", 1);
}

static void teardown(void)
{
	if (tls_pid > 0) {
		kill(tls_pid, SIGTERM);
		waitpid(tls_pid, NULL, 0);
		tls_pid = 0;
	}
	astra_log_set_handler(NULL, ASTRA_LOG_NONE, NULL);
	fst_rmrf(work);
	free(work);
}

TestSuite(store_transport, .init = setup, .fini = teardown, .timeout = 60);

static int nwarn;
static char warnings[8192];

static void log_cb(int level, const char *message, void *payload)
{
	(void)payload;
	if (level != ASTRA_LOG_WARN ||
	        !strstr(message, "verification is turned off"))
		return;
	nwarn++;
	size_t used = strlen(warnings);
	snprintf(warnings + used, sizeof(warnings) - used, "%s\n", message);
}

static void aws_keys(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDTRANSPORT", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-transport-key", 1);
}

static void azure_key(void)
{
	/* base64 of "azure-transport-secret-key!" */
	setenv("AZURE_STORAGE_KEY", "YXp1cmUtdHJhbnNwb3J0LXNlY3JldC1rZXkh", 1);
}

static int open_url(const char *url)
{
	astra__store *s = NULL;
	int rc = astra__store_open(&s, url, NULL);
	astra__store_free(s);
	return rc;
}

static void refused_naming(const char *url, const char *a, const char *b)
{
	cr_assert_astra_fail(open_url(url), ASTRA_EINVALID);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, a) && strstr(m, b), "%s: %s", url, m);
	cr_assert_null(strstr(m, "s3cr3t"), "secret in %s", m);
	cr_assert_null(strstr(m, "YXp1cmUt"), "secret in %s", m);
	cr_assert_null(strstr(m, "sig=secret"), "secret in %s", m);
	cr_assert_null(strstr(m, "ya29.secret"), "secret in %s", m);
}

Test(store_transport, insecure_tls_with_a_ca_is_refused)
{
	aws_keys();
	azure_key();
	refused_naming("s3://bkt/p?endpoint=https://127.0.0.1:1&"
	               "insecure-tls=1&ca=/nonexistent/ca.pem",
	        "insecure-tls=1", "/nonexistent/ca.pem");
	refused_naming("azure://box/p?account=acct&endpoint=https://"
	               "127.0.0.1:1/acct&insecure-tls=1&ca=/nonexistent/ca.pem",
	        "insecure-tls=1", "/nonexistent/ca.pem");
	refused_naming("gs://bkt/p?endpoint=https://127.0.0.1:1&auth=none&"
	               "insecure-tls=1&ca=/nonexistent/ca.pem",
	        "insecure-tls=1", "/nonexistent/ca.pem");
	/* the open options' CA counts as well */
	astra__store_opts so;
	memset(&so, 0, sizeof(so));
	so.ca_file = "/nonexistent/open-ca.pem";
	astra__store *s = NULL;
	cr_assert_astra_fail(
	        astra__store_open(&s,
	                "s3://bkt/p?endpoint=https://127.0.0.1:1&insecure-tls=1",
	                &so),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "open-ca.pem"), "%s",
	        astra_error_last()->message);
}

Test(store_transport, insecure_tls_warns_once_per_process_naming_the_endpoint)
{
	aws_keys();
	astra_log_set_handler(log_cb, ASTRA_LOG_WARN, NULL);
	/* nothing listens on port 1: each open fails after the check */
	const char *url = "s3://bkt/p?endpoint=https://127.0.0.1:1&"
	                  "insecure-tls=1&retries=0";
	for (int i = 0; i < 3; i++)
		cr_assert_neq(open_url(url), ASTRA_EINVALID, "%s",
		        astra_error_last()->message);
	cr_assert_eq(nwarn, 1, "%s", warnings);
	cr_assert(strstr(warnings, "https://127.0.0.1:1"), "%s", warnings);
	/* another endpoint is named once too; verification on is silent */
	cr_assert_neq(open_url("gs://bkt/p?endpoint=https://127.0.0.1:2&"
	                       "auth=none&insecure-tls=1&retries=0"),
	        ASTRA_EINVALID);
	cr_assert_neq(open_url("gs://bkt/p?endpoint=https://127.0.0.1:3&"
	                       "auth=none&retries=0"),
	        ASTRA_EINVALID);
	cr_assert_eq(nwarn, 2, "%s", warnings);
	cr_assert(strstr(warnings, "https://127.0.0.1:2"), "%s", warnings);
}

Test(store_transport, credentials_over_plain_http_to_a_remote_host_are_refused)
{
	aws_keys();
	refused_naming("s3://bkt/p?endpoint=http://192.0.2.10:9000",
	        "http://192.0.2.10:9000", "allow-plain-http=1");
	azure_key();
	refused_naming("azure://box/p?account=acct&endpoint=http://"
	               "192.0.2.10/acct",
	        "Shared Key", "allow-plain-http=1");
	unsetenv("AZURE_STORAGE_KEY");
	setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2020-01-01&sig=secret", 1);
	refused_naming("azure://box/p?account=acct&endpoint=http://"
	               "192.0.2.10/acct",
	        "SAS token", "allow-plain-http=1");
	setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.secret", 1);
	refused_naming("gs://bkt/p?endpoint=http://storage.example.test&"
	               "auth=token",
	        "bearer token", "http://storage.example.test");
}

/* Allowed: loopback, no credentials, or the explicit opt-in. The opens
 * then fail on the network (nothing listens), never on the rule. */
Test(store_transport, plain_http_on_loopback_without_credentials_or_opted_in)
{
	aws_keys();
	const char *ok[] = {
		"s3://bkt/p?endpoint=http://127.0.0.1:1&retries=0",
		"s3://bkt/p?endpoint=http://localhost:1&retries=0",
		"s3://bkt/p?endpoint=http://[::1]:1&retries=0",
		"gs://bkt/p?endpoint=http://192.0.2.10:1&auth=none&retries=0&"
		"timeout=1",
		"s3://bkt/p?endpoint=http://192.0.2.10:1&allow-plain-http=1&"
		"retries=0&timeout=1",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = open_url(ok[i]);
		cr_assert(rc != 0 && !strstr(astra_error_last()->message,
		                             "allow-plain-http"),
		        "%s: %d %s", ok[i], rc, astra_error_last()->message);
	}
}

static void web_identity_env(const char *sts)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/token", work);
	fst_write(path, "eyJhbGciOiJSUzI1NiJ9.transport-token", 36);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/astra", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
	setenv("AWS_ENDPOINT_URL_STS", sts, 1);
}

Test(store_transport, web_identity_token_over_plain_http_is_refused)
{
	web_identity_env("http://192.0.2.10/");
	astra__aws_provider *p = NULL;
	cr_assert_astra_fail(astra__aws_provider_new(&p, NULL), ASTRA_EINVALID);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "http://192.0.2.10/") &&
	                  strstr(m, "allow-plain-http=1"),
	        "%s", m);
	cr_assert_null(strstr(m, "transport-token"), "%s", m);
	astra__aws_provider_opts o;
	memset(&o, 0, sizeof(o));
	o.allow_plain_http = 1;
	cr_assert_astra_ok(astra__aws_provider_new(&p, &o));
	astra__aws_provider_free(p);
	/* and so through an s3:// vault URL */
	refused_naming("s3://bkt/p?endpoint=http://127.0.0.1:1",
	        "http://192.0.2.10/", "allow-plain-http=1");
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

/* A TLS server with a self-signed certificate (openssl s_server) that
 * answers every request with 200 and an HTML page. */
static int start_tls_server(void)
{
	char cmd[9000];
	snprintf(cmd, sizeof(cmd),
	        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
	        "/CN=127.0.0.1 -keyout '%s/key.pem' -out '%s/cert.pem' "
	        ">/dev/null 2>&1",
	        work, work);
	cr_assert_eq(system(cmd), 0, "openssl req");
	int port = free_port();
	char cert[4300], key[4300], accept[32];
	snprintf(cert, sizeof(cert), "%s/cert.pem", work);
	snprintf(key, sizeof(key), "%s/key.pem", work);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	tls_pid = fork();
	if (tls_pid == 0) {
		/* never outlives the test, even one killed by a timeout */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execlp("openssl", "openssl", "s_server", "-accept", accept,
		        "-cert", cert, "-key", key, "-www", "-quiet",
		        (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* wait until it listens */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { 0 };
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)port);
		int c = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (c == 0)
			return port;
		usleep(50000);
	}
	cr_assert_fail("openssl s_server did not start");
	return 0;
}

Test(store_transport, sts_keeps_verification_when_s3_turns_it_off)
{
	int port = start_tls_server();
	char sts[64];
	snprintf(sts, sizeof(sts), "https://127.0.0.1:%d/", port);
	web_identity_env(sts);
	/* the S3 endpoint: nothing listens; the STS call comes first */
	int rc = open_url("s3://bkt/p?endpoint=http://127.0.0.1:1&"
	                  "insecure-tls=1&retries=0");
	cr_assert_neq(rc, 0);
	const char *m = astra_error_last()->message;
	cr_assert(rc == ASTRA_ECERTIFICATE || strstr(m, "certificate"),
	        "the STS call did not verify the certificate: %d %s", rc, m);
}

Test(store_transport, gcs_key_file_grant_over_plain_http_is_refused)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/sa.json", work);
	const char sa[] = "{\"type\":\"service_account\",\"client_email\":"
	                  "\"a@b.test\",\"private_key\":\"not parsed yet\","
	                  "\"token_uri\":\"http://192.0.2.10/token\"}";
	fst_write(path, sa, sizeof(sa) - 1);
	char url[4600];
	snprintf(url, sizeof(url),
	        "gs://bkt/p?endpoint=https://127.0.0.1:1&credentials=%s", path);
	refused_naming(url, "http://192.0.2.10/token", "allow-plain-http=1");
	cr_assert_null(strstr(astra_error_last()->message, "not parsed yet"));
	const char user[] = "{\"type\":\"authorized_user\",\"client_id\":"
	                    "\"id\",\"client_secret\":\"s3cr3t-client\","
	                    "\"refresh_token\":\"ya29.secret-refresh\","
	                    "\"token_uri\":\"http://192.0.2.10/token\"}";
	fst_write(path, user, sizeof(user) - 1);
	refused_naming(url, "http://192.0.2.10/token", "allow-plain-http=1");
	/* on loopback it is allowed (the open then fails on the network) */
	const char lo[] = "{\"type\":\"service_account\",\"client_email\":"
	                  "\"a@b.test\",\"private_key\":\"not parsed yet\","
	                  "\"token_uri\":\"http://127.0.0.1:1/token\"}";
	fst_write(path, lo, sizeof(lo) - 1);
	snprintf(url, sizeof(url),
	        "gs://bkt/p?endpoint=https://127.0.0.1:1&credentials=%s&"
	        "retries=0",
	        path);
	int rc = open_url(url);
	cr_assert(rc != 0 && !strstr(astra_error_last()->message,
	                             "allow-plain-http"),
	        "%d %s", rc, astra_error_last()->message);
}
