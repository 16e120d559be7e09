/*
 * Trust boundaries of the kube client without an API server: the
 * impersonation headers built from a kubeconfig, the TLS-off switches and
 * credentials over plain HTTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "kube/internal.h"
#include "kube/kube.h"
#include "kube/kubeconfig.h"

/* A kubeconfig with one cluster (`cluster` lines) and one user (`user`
 * lines), both indented under their key. */
static char *kc_text(const char *cluster, const char *user)
{
	static char text[4096];
	snprintf(text, sizeof(text),
	        "apiVersion: v1\n"
	        "kind: Config\n"
	        "current-context: ctx\n"
	        "clusters:\n"
	        "- name: c1\n"
	        "  cluster:\n"
	        "%s"
	        "users:\n"
	        "- name: u1\n"
	        "  user:\n"
	        "%s"
	        "contexts:\n"
	        "- name: ctx\n"
	        "  context: {cluster: c1, user: u1}\n",
	        cluster, user);
	return text;
}

static int kc_open(astra__kube **k, const char *cluster, const char *user)
{
	astra__kubeconfig *cfg = NULL;
	const char *t = kc_text(cluster, user);
	int rc = astra__kubeconfig_parse(
	        &cfg, t, strlen(t), "test.kubeconfig", "/tmp", NULL);
	if (rc)
		return rc;
	return astra__kube_open_config(k, cfg, NULL);
}

static const char *https_server = "    server: https://api.example.test\n";

static int has_header(const astra__kube *k, const char *line)
{
	for (size_t i = 0; i < k->nextra_headers; i++)
		if (!strcmp(k->extra_headers[i], line))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Impersonation                                                       */
/* ------------------------------------------------------------------ */

Test(kube_trust, impersonation_headers_are_well_formed)
{
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, https_server,
	        "    token: abc\n"
	        "    as: alice\n"
	        "    as-uid: uid-1234\n"
	        "    as-groups: [dev, ops]\n"
	        "    as-user-extra:\n"
	        "      scopes: [view, edit]\n"
	        "      example.com/Reason Why: [audit]\n"));
	cr_assert(has_header(k, "Impersonate-User: alice"), "%s",
	        k->extra_headers[0]);
	cr_assert_eq(k->nextra_headers, 7);
	cr_assert(has_header(k, "Impersonate-Uid: uid-1234"));
	cr_assert(has_header(k, "Impersonate-Group: dev"));
	cr_assert(has_header(k, "Impersonate-Group: ops"));
	cr_assert(has_header(k, "Impersonate-Extra-scopes: view"));
	cr_assert(has_header(k, "Impersonate-Extra-scopes: edit"));
	cr_assert(has_header(
	        k, "Impersonate-Extra-example.com%2FReason%20Why: audit"));
	cr_assert_null(k->extra_headers[k->nextra_headers]);
	for (size_t i = 0; i < k->nextra_headers; i++)
		cr_assert_null(strstr(k->extra_headers[i], "%s"), "%s",
		        k->extra_headers[i]);
	astra__kube_free(k);
}

Test(kube_trust, no_impersonation_no_headers)
{
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, https_server, "    token: abc\n"));
	cr_assert_eq(k->nextra_headers, 0);
	astra__kube_free(k);
}

Test(kube_trust, impersonated_groups_need_a_user)
{
	astra__kube *k = NULL;
	cr_assert_astra_fail(kc_open(&k, https_server,
	                             "    token: abc\n"
	                             "    as-groups: [dev]\n"),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "need as"), "%s",
	        astra_error_last()->message);
	cr_assert_null(k);
}

Test(kube_trust, impersonation_value_cannot_inject_a_header)
{
	astra__kube *k = NULL;
	cr_assert_astra_fail(kc_open(&k, https_server,
	                             "    token: abc\n"
	                             "    as: \"alice\\r\\nX-Evil: 1\"\n"),
	        ASTRA_EINVALID);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "Impersonate-User") && strstr(m, "u1"), "%s", m);
	cr_assert_null(k);
}

/* ------------------------------------------------------------------ */
/* TLS off                                                             */
/* ------------------------------------------------------------------ */

static int nwarn;
static char warnings[8192];

static void log_cb(int level, const char *message, void *payload)
{
	(void)payload;
	if (level != ASTRA_LOG_WARN)
		return;
	nwarn++;
	size_t used = strlen(warnings);
	snprintf(warnings + used, sizeof(warnings) - used, "%s\n", message);
}

static void capture_warnings(void)
{
	nwarn = 0;
	warnings[0] = '\0';
	astra_log_set_handler(log_cb, ASTRA_LOG_WARN, NULL);
}

Test(kube_trust, insecure_with_a_ca_is_refused)
{
	static const char *const clusters[] = {
		"    server: https://api.example.test\n"
		"    insecure-skip-tls-verify: true\n"
		"    certificate-authority-data: UEVN\n",
		"    server: https://api.example.test\n"
		"    certificate-authority: /nonexistent/ca.crt\n"
		"    insecure-skip-tls-verify: true\n",
	};
	for (size_t i = 0; i < 2; i++) {
		astra__kube *k = NULL;
		cr_assert_astra_fail(
		        kc_open(&k, clusters[i], "    token: abc\n"),
		        ASTRA_EINVALID);
		const char *m = astra_error_last()->message;
		cr_assert(strstr(m, "test.kubeconfig") &&
		                  strstr(m, "cluster \"c1\"") &&
		                  strstr(m, "insecure-skip-tls-verify") &&
		                  strstr(m, i ? "certificate-authority:"
		                              : "certificate-authority-data"),
		        "%s", m);
		cr_assert_null(k);
	}
}

Test(kube_trust, insecure_alone_warns_once_naming_the_cluster)
{
	capture_warnings();
	const char *cl = "    server: https://api.example.test:6443\n"
	                 "    insecure-skip-tls-verify: true\n";
	for (int i = 0; i < 3; i++) {
		astra__kube *k = NULL;
		cr_assert_astra_ok(kc_open(&k, cl, "    token: abc\n"));
		astra__kube_free(k);
	}
	cr_assert_eq(nwarn, 1, "%s", warnings);
	cr_assert(strstr(warnings, "cluster \"c1\"") &&
	                  strstr(warnings, "https://api.example.test:6443") &&
	                  strstr(warnings, "verification is turned off"),
	        "%s", warnings);
	/* verification on: silent */
	nwarn = 0;
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, https_server, "    token: abc\n"));
	astra__kube_free(k);
	cr_assert_eq(nwarn, 0, "%s", warnings);
	astra_log_set_handler(NULL, ASTRA_LOG_NONE, NULL);
}

/* ------------------------------------------------------------------ */
/* Credentials over plain HTTP                                         */
/* ------------------------------------------------------------------ */

static const char *const credential_users[] = {
	"    token: abc\n",
	"    tokenFile: /dev/null\n",
	"    username: admin\n    password: pw\n",
	"    exec:\n"
	"      apiVersion: client.authentication.k8s.io/v1\n"
	"      command: get-token\n",
};

static char *server_line(const char *url)
{
	static char line[300];
	snprintf(line, sizeof(line), "    server: %s\n", url);
	return line;
}

Test(kube_trust, credentials_to_a_remote_plain_http_server_are_refused)
{
	static const char *const remote[] = {
		"http://10.1.2.3:8080",
		"http://api.example.test",
		"http://127.0.0.1.example.test:8080",
		"http://localhost@10.1.2.3",
		"http://[::ffff:10.1.2.3]:8080",
		"http://[::2]",
	};
	for (size_t s = 0; s < sizeof(remote) / sizeof(remote[0]); s++)
		for (size_t u = 0; u < 4; u++) {
			astra__kube *k = NULL;
			int rc = kc_open(&k, server_line(remote[s]),
			        credential_users[u]);
			cr_assert_eq(rc, ASTRA_EINVALID, "%s with user %zu: %d",
			        remote[s], u, rc);
			const char *m = astra_error_last()->message;
			cr_assert(strstr(m, remote[s]) &&
			                  strstr(m, "cluster \"c1\"") &&
			                  strstr(m, "user \"u1\"") &&
			                  strstr(m, "unencrypted") &&
			                  strstr(m, "astra.dev/plain-http"),
			        "%s", m);
			cr_assert_null(strstr(m, "pw"), "%s", m);
			cr_assert_null(k);
		}
}

Test(kube_trust, plain_http_on_loopback_or_without_credentials_is_allowed)
{
	static const char *const local[] = {
		"http://127.0.0.1:8080",
		"http://127.45.6.7",
		"http://localhost:1234/",
		"http://LOCALHOST",
		"http://[::1]:8080",
	};
	for (size_t s = 0; s < sizeof(local) / sizeof(local[0]); s++)
		for (size_t u = 0; u < 4; u++) {
			astra__kube *k = NULL;
			int rc = kc_open(
			        &k, server_line(local[s]), credential_users[u]);
			cr_assert_eq(rc, 0, "%s with user %zu: %s", local[s], u,
			        astra_error_last()->message);
			astra__kube_free(k);
		}
	/* anonymous, or a client certificate (which plain HTTP never
	 * sends) */
	astra__kube *k = NULL;
	cr_assert_astra_ok(
	        kc_open(&k, server_line("http://10.1.2.3:8080"), ""));
	astra__kube_free(k);
	cr_assert_astra_ok(kc_open(&k, server_line("http://10.1.2.3:8080"),
	        "    client-certificate-data: Y2VydA==\n"
	        "    client-key-data: a2V5\n"));
	astra__kube_free(k);
}

Test(kube_trust, plain_http_credentials_with_the_explicit_opt_in)
{
	capture_warnings();
	const char *cl = "    server: http://10.1.2.3:8080\n"
	                 "    extensions:\n"
	                 "    - name: example.com/other\n"
	                 "      extension: {x: 1}\n"
	                 "    - name: astra.dev/plain-http\n"
	                 "      extension:\n"
	                 "        allowCredentials: true\n";
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, cl, "    token: abc\n"));
	astra__kube_free(k);
	cr_assert_eq(nwarn, 1, "%s", warnings);
	cr_assert(strstr(warnings, "unencrypted") &&
	                  strstr(warnings, "http://10.1.2.3:8080"),
	        "%s", warnings);
	astra_log_set_handler(NULL, ASTRA_LOG_NONE, NULL);
	/* false, or a malformed extension, allows nothing */
	const char *off = "    server: http://10.1.2.3:8080\n"
	                  "    extensions:\n"
	                  "    - name: astra.dev/plain-http\n"
	                  "      extension: {allowCredentials: false}\n";
	cr_assert_astra_fail(
	        kc_open(&k, off, "    token: abc\n"), ASTRA_EINVALID);
	const char *bad = "    server: http://10.1.2.3:8080\n"
	                  "    extensions:\n"
	                  "    - name: astra.dev/plain-http\n"
	                  "      extension: {allowCredentials: \"yes\"}\n";
	cr_assert_astra_fail(
	        kc_open(&k, bad, "    token: abc\n"), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "allowCredentials"), "%s",
	        astra_error_last()->message);
}
