/*
 * API Status mapping, discovery documents, exec credential plugins, and
 * small helpers: no API server needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "kube/exec.h"
#include "kube/kube.h"
#include "kube/util.h"

/* ------------------------------------------------------------------ */
/* Status mapping                                                      */
/* ------------------------------------------------------------------ */

static int status(long code, const char *body)
{
	return astra__kube_status_error("tb", code, body,
	        body ? strlen(body) : 0, "get",
	        "configmaps \"x\" in namespace \"ns\"");
}

Test(kube_status, maps_codes_and_reasons)
{
	cr_assert_eq(
	        status(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\","
	                    "\"message\":\"configmaps \\\"x\\\" not found\"}"),
	        ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert_str_eq(m, "cluster \"tb\": get configmaps \"x\" in namespace "
	                    "\"ns\": not found (HTTP 404 NotFound: configmaps "
	                    "\"x\" not found)");
	cr_assert_eq(
	        status(409, "{\"reason\":\"AlreadyExists\"}"), ASTRA_EEXISTS);
	cr_assert_eq(status(409, "{\"reason\":\"Conflict\"}"), ASTRA_ECONFLICT);
	cr_assert_eq(status(422, "{\"reason\":\"Invalid\"}"), ASTRA_EINVALID);
	cr_assert_eq(status(400, NULL), ASTRA_EINVALID);
	cr_assert_eq(status(401, "{}"), ASTRA_EAUTH);
	cr_assert_eq(status(410, "{\"reason\":\"Expired\"}"), ASTRA_ECONFLICT);
	cr_assert_eq(status(429, ""), ASTRA_EBUSY);
	cr_assert_eq(status(503, "<html>down</html>"), ASTRA_ENET);
	cr_assert(strstr(astra_error_last()->message, "<html>down</html>"));
	cr_assert_eq(status(504, NULL), ASTRA_ETIMEOUT);
	cr_assert_eq(status(500, NULL), ASTRA_ERROR);
	cr_assert_eq(status(405, NULL), ASTRA_ENOTSUPPORTED);
}

Test(kube_status, forbidden_carries_the_servers_reason)
{
	cr_assert_eq(
	        status(403,
	                "{\"kind\":\"Status\",\"status\":\"Failure\","
	                "\"reason\":\"Forbidden\",\"message\":\"secrets is "
	                "forbidden: User \\\"system:serviceaccount:a:b\\\" "
	                "cannot list resource \\\"secrets\\\"\",\"code\":403}"),
	        ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "get configmaps"), "%s", m);
	cr_assert(
	        strstr(m,
	                "forbidden (HTTP 403 Forbidden: secrets is forbidden"),
	        "%s", m);
	cr_assert(strstr(m, "system:serviceaccount:a:b"), "%s", m);
}

Test(kube_status, garbage_bodies_never_crash)
{
	const char *bodies[] = { "{", "null", "[1,2]", "{\"reason\":5}",
		"\x01\x02\xff", "{\"message\":null}", "", NULL };
	for (int i = 0; bodies[i]; i++) {
		int rc = status(418, bodies[i]);
		cr_assert_eq(rc, ASTRA_EINVALID);
	}
}

/* ------------------------------------------------------------------ */
/* Discovery documents                                                 */
/* ------------------------------------------------------------------ */

static const char *aggregated =
        "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":"
        "\"apidiscovery.k8s.io/v2\",\"items\":["
        "{\"metadata\":{\"name\":\"apps\"},\"versions\":["
        "{\"version\":\"v1\",\"resources\":["
        "{\"resource\":\"deployments\",\"responseKind\":{\"group\":\"\","
        "\"version\":\"\",\"kind\":\"Deployment\"},\"scope\":\"Namespaced\","
        "\"singularResource\":\"deployment\",\"verbs\":[\"create\",\"get\","
        "\"list\",\"watch\",\"delete\"],\"shortNames\":[\"deploy\"],"
        "\"categories\":[\"all\"],\"subresources\":[{\"subresource\":"
        "\"scale\"},{\"subresource\":\"status\"}]}]}]},"
        "{\"metadata\":{\"name\":\"example.com\"},\"versions\":["
        "{\"version\":\"v2\",\"resources\":[{\"resource\":\"widgets\","
        "\"responseKind\":{\"kind\":\"Widget\"},\"scope\":\"Cluster\"}]},"
        "{\"version\":\"v1\",\"resources\":[{\"resource\":\"widgets\","
        "\"responseKind\":{\"kind\":\"Widget\"},\"scope\":\"Cluster\"}]}]}]}";

Test(kube_discovery, parses_aggregated_discovery)
{
	astra__kube_discovery d;
	memset(&d, 0, sizeof(d));
	cr_assert_astra_ok(astra__kube_parse_aggregated(
	        aggregated, strlen(aggregated), &d));
	cr_assert_eq(d.n, 3);
	astra__kube_resource *r = &d.resources[0];
	cr_assert_str_eq(r->group, "apps");
	cr_assert_str_eq(r->version, "v1");
	cr_assert_str_eq(r->resource, "deployments");
	cr_assert_str_eq(r->kind, "Deployment");
	cr_assert_eq(r->namespaced, 1);
	cr_assert_eq(r->preferred, 1);
	cr_assert(r->verbs & ASTRA_KUBE_VERB_WATCH);
	cr_assert_not(r->verbs & ASTRA_KUBE_VERB_PATCH);
	cr_assert_str_eq(r->short_names[0], "deploy");
	cr_assert_eq(r->nsubresources, 2);
	cr_assert_eq(d.resources[1].preferred, 1, "first version preferred");
	cr_assert_str_eq(d.resources[1].version, "v2");
	cr_assert_eq(d.resources[2].preferred, 0);
	cr_assert_eq(d.resources[2].namespaced, 0);
	astra__kube_discovery_clear(&d);
}

Test(kube_discovery, parses_classic_resource_lists)
{
	const char *list =
	        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\","
	        "\"resources\":[{\"name\":\"pods\",\"singularName\":\"pod\","
	        "\"namespaced\":true,\"kind\":\"Pod\",\"verbs\":[\"get\"]},"
	        "{\"name\":\"pods/log\",\"namespaced\":true,\"kind\":\"Pod\"},"
	        "{\"name\":\"nodes\",\"namespaced\":false,\"kind\":\"Node\"}]}";
	astra__kube_discovery d;
	memset(&d, 0, sizeof(d));
	cr_assert_astra_ok(astra__kube_parse_resource_list(
	        list, strlen(list), "", "v1", 1, &d));
	cr_assert_eq(d.n, 2);
	cr_assert_str_eq(d.resources[0].resource, "pods");
	cr_assert_eq(d.resources[0].nsubresources, 1);
	cr_assert_str_eq(d.resources[0].subresources[0], "log");
	cr_assert_eq(d.resources[1].namespaced, 0);
	astra__kube_discovery_clear(&d);
}

Test(kube_discovery, garbage_is_an_error_not_a_crash)
{
	const char *bad[] = { "", "{", "[]", "{\"kind\":\"Other\"}",
		"{\"kind\":\"APIGroupDiscoveryList\",\"items\":5}",
		"{\"kind\":\"APIGroupDiscoveryList\",\"items\":[1,{\"versions\":"
		"[{\"version\":2,\"resources\":[{}]}]}]}",
		NULL };
	for (int i = 0; bad[i]; i++) {
		astra__kube_discovery d;
		memset(&d, 0, sizeof(d));
		int rc = astra__kube_parse_aggregated(
		        bad[i], strlen(bad[i]), &d);
		cr_assert(rc == 0 || rc == ASTRA_EPARSE, "input %d: %d", i, rc);
		astra__kube_discovery_clear(&d);
		rc = astra__kube_parse_resource_list(
		        bad[i], strlen(bad[i]), "g", "v1", 0, &d);
		cr_assert(rc == 0 || rc == ASTRA_EPARSE, "input %d: %d", i, rc);
		astra__kube_discovery_clear(&d);
	}
}

Test(kube_discovery, paths)
{
	astra__kube_resource r = { .group = "apps",
		.version = "v1",
		.resource = "deployments",
		.namespaced = 1 };
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__kube_path(&b, &r, "my ns", "web", "scale"));
	cr_assert_str_eq(b.ptr, "/apis/apps/v1/namespaces/my%20ns/deployments/"
	                        "web/scale");
	astra__buf_clear(&b);
	astra__kube_resource core = { .group = "",
		.version = "v1",
		.resource = "nodes",
		.namespaced = 0 };
	cr_assert_astra_ok(astra__kube_path(&b, &core, "ignored", NULL, NULL));
	cr_assert_str_eq(b.ptr, "/api/v1/nodes");
	astra_buf_dispose(&b);
}

/* ------------------------------------------------------------------ */
/* Exec credential plugins                                             */
/* ------------------------------------------------------------------ */

static char tmpdir[128];

static void exec_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/astra-exec.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void exec_fini(void)
{
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("cannot remove %s", tmpdir);
}

TestSuite(kube_exec, .init = exec_init, .fini = exec_fini);

static char *script(const char *name, const char *body)
{
	static char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	chmod(p, 0755);
	return p;
}

static astra__kubeconfig *exec_cfg(const char *cmd, const char *api)
{
	astra__kubeconfig *c = calloc(1, sizeof(*c));
	c->server = strdup("https://api.test");
	c->user_name = strdup("eks-user");
	c->ca_data = strdup("PEM");
	c->ca_data_len = 3;
	c->exec = calloc(1, sizeof(*c->exec));
	c->exec->command = strdup(cmd);
	c->exec->api_version = strdup(api);
	c->exec->interactive_mode = strdup("IfAvailable");
	c->exec->args = calloc(1, sizeof(char *));
	c->exec->args[0] = strdup("arg1");
	c->exec->nargs = 1;
	c->exec->env = calloc(1, sizeof(*c->exec->env));
	c->exec->env[0].name = strdup("MY_TOKEN");
	c->exec->env[0].value = strdup("tok-from-env");
	c->exec->nenv = 1;
	c->exec->provide_cluster_info = 1;
	return c;
}

Test(kube_exec, runs_the_plugin_with_env_and_exec_info)
{
	/* echoes back what it got: the arg, the env, and the exec info */
	char *p = script("plugin",
	        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s-%s\","
	        "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}' "
	        "\"$MY_TOKEN\" \"$1\"\n"
	        "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$(dirname $0)/info\"\n");
	astra__kubeconfig *c = exec_cfg(p, "client.authentication.k8s.io/v1");
	astra__kube_cred cred;
	cr_assert_astra_ok(astra__kube_exec_run(c, 5000, &cred));
	cr_assert_str_eq(cred.token, "tok-from-env-arg1");
	cr_assert_eq(cred.expiry, 1893553445);
	astra__kube_cred_clear(&cred);
	char ip[256];
	snprintf(ip, sizeof(ip), "%s/info", tmpdir);
	FILE *f = fopen(ip, "r");
	char info[2048] = "";
	cr_assert_not_null(f);
	cr_assert_gt(fread(info, 1, sizeof(info) - 1, f), 0);
	fclose(f);
	cr_assert(strstr(info, "\"kind\":\"ExecCredential\""), "%s", info);
	cr_assert(strstr(info, "\"interactive\":false"), "%s", info);
	cr_assert(strstr(info, "\"server\":\"https://api.test\""), "%s", info);
	cr_assert(strstr(info, "\"certificate-authority-data\":\"UEVN\""), "%s",
	        info);
	astra__kubeconfig_free(c);
}

static int env_has(const char *text, const char *entry)
{
	size_t n = strlen(entry);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, entry, n) && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

Test(kube_exec, plugin_gets_a_scrubbed_environment)
{
	/* secrets of this process that a kubeconfig-named binary must not
	 * see, next to variables a plugin needs to find its own config */
	cr_assert_eq(setenv("ASTRA_VAULT_PASSWORD", "VAULTPW", 1), 0);
	cr_assert_eq(setenv("ASTRA_ANYTHING", "astra-internal", 1), 0);
	cr_assert_eq(setenv("AWS_SECRET_ACCESS_KEY", "AWSSECRET", 1), 0);
	cr_assert_eq(setenv("AWS_ACCESS_KEY_ID", "AKIDXYZ", 1), 0);
	cr_assert_eq(setenv("AWS_SESSION_TOKEN", "AWSSESSION", 1), 0);
	cr_assert_eq(setenv("AZURE_STORAGE_KEY", "AZKEY", 1), 0);
	cr_assert_eq(setenv("AZURE_STORAGE_SAS_TOKEN", "AZSAS", 1), 0);
	cr_assert_eq(setenv("SOME_OTHER_SECRET", "OTHER", 1), 0);
	cr_assert_eq(setenv("AWS_PROFILE", "prod-eks", 1), 0);
	cr_assert_eq(setenv("CLOUDSDK_CONFIG", "/etc/gcloud-cfg", 1), 0);
	cr_assert_eq(setenv("LC_TIME", "C", 1), 0);
	/* a kubeconfig env entry overrides the process's value */
	cr_assert_eq(setenv("MY_TOKEN", "from-the-process", 1), 0);
	char *p = script("envdump",
	        "env > \"$(dirname $0)/plugin-env\"\n"
	        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n");
	astra__kubeconfig *c = exec_cfg(p, "client.authentication.k8s.io/v1");
	astra__kube_cred cred;
	cr_assert_astra_ok(astra__kube_exec_run(c, 5000, &cred));
	astra__kube_cred_clear(&cred);
	astra__kubeconfig_free(c);
	char ep[256];
	snprintf(ep, sizeof(ep), "%s/plugin-env", tmpdir);
	FILE *f = fopen(ep, "r");
	cr_assert_not_null(f);
	static char envtxt[65536];
	size_t got = fread(envtxt, 1, sizeof(envtxt) - 1, f);
	envtxt[got] = '\0';
	fclose(f);
	cr_assert_gt(got, 0);
	static const char *const gone[] = { "VAULTPW", "astra-internal",
		"AWSSECRET", "AKIDXYZ", "AWSSESSION", "AZKEY", "AZSAS", "OTHER",
		"from-the-process", "ASTRA_" };
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		cr_assert_null(strstr(envtxt, gone[i]), "the plugin saw \"%s\"",
		        gone[i]);
	cr_assert(env_has(envtxt, "MY_TOKEN=tok-from-env"), "%s", envtxt);
	cr_assert(env_has(envtxt, "AWS_PROFILE=prod-eks"), "%s", envtxt);
	cr_assert(env_has(envtxt, "CLOUDSDK_CONFIG=/etc/gcloud-cfg"), "%s",
	        envtxt);
	cr_assert(env_has(envtxt, "LC_TIME=C"), "%s", envtxt);
	cr_assert(strstr(envtxt, "KUBERNETES_EXEC_INFO={"), "%s", envtxt);
	const char *path = getenv("PATH");
	if (path) {
		char want[4096];
		snprintf(want, sizeof(want), "PATH=%s", path);
		cr_assert(env_has(envtxt, want), "%s", envtxt);
	}
}

Test(kube_exec, failing_plugin_reports_exit_status_and_stderr)
{
	char *p = script("fail", "echo 'first line' >&2\n"
	                         "echo 'token expired: run aws sso login' >&2\n"
	                         "exit 3\n");
	astra__kubeconfig *c = exec_cfg(p, "client.authentication.k8s.io/v1");
	astra__kube_cred cred;
	cr_assert_astra_fail(astra__kube_exec_run(c, 5000, &cred), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "exit status 3: token expired: run aws sso login"),
	        "%s", m);
	cr_assert(strstr(m, "eks-user"), "%s", m);
	astra__kubeconfig_free(c);
}

Test(kube_exec, missing_command_shows_the_install_hint)
{
	astra__kubeconfig *c = exec_cfg(
	        "no-such-plugin-xyz", "client.authentication.k8s.io/v1");
	c->exec->install_hint = strdup("install it with: apt install xyz");
	astra__kube_cred cred;
	cr_assert_astra_fail(
	        astra__kube_exec_run(c, 5000, &cred), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "apt install xyz"));
	astra__kubeconfig_free(c);
}

Test(kube_exec, hanging_plugin_times_out)
{
	char *p = script("hang", "exec sleep 30\n");
	astra__kubeconfig *c = exec_cfg(p, "client.authentication.k8s.io/v1");
	astra__kube_cred cred;
	cr_assert_astra_fail(
	        astra__kube_exec_run(c, 300, &cred), ASTRA_ETIMEOUT);
	astra__kubeconfig_free(c);
}

Test(kube_exec, output_is_validated)
{
	astra__kube_cred cred;
	const char *v1 = "client.authentication.k8s.io/v1";
	const char *ok = "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	                 "\"kind\":\"ExecCredential\",\"status\":{"
	                 "\"clientCertificateData\":\"CERT\","
	                 "\"clientKeyData\":\"KEY\"}}";
	cr_assert_astra_ok(
	        astra__kube_exec_parse(ok, strlen(ok), v1, "p", &cred));
	cr_assert_str_eq(cred.cert_pem, "CERT");
	cr_assert_str_eq(cred.key_pem, "KEY");
	cr_assert_null(cred.token);
	astra__kube_cred_clear(&cred);
	const char *beta = "{\"apiVersion\":\"client.authentication.k8s.io/"
	                   "v1beta1\",\"kind\":\"ExecCredential\","
	                   "\"status\":{\"token\":\"t\"}}";
	cr_assert_astra_fail(
	        astra__kube_exec_parse(beta, strlen(beta), v1, "p", &cred),
	        ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "was requested"));
	const char *none =
	        "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{}}";
	cr_assert_astra_fail(
	        astra__kube_exec_parse(none, strlen(none), v1, "p", &cred),
	        ASTRA_EAUTH);
	cr_assert_astra_fail(
	        astra__kube_exec_parse("garbage", 7, v1, "p", &cred),
	        ASTRA_EPARSE);
	const char *badtime =
	        "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\","
	        "\"expirationTimestamp\":\"tomorrow\"}}";
	cr_assert_astra_fail(astra__kube_exec_parse(
	                             badtime, strlen(badtime), v1, "p", &cred),
	        ASTRA_EPARSE);
}

Test(kube_exec, interactive_always_is_refused)
{
	astra__kubeconfig *c =
	        exec_cfg("/bin/true", "client.authentication.k8s.io/v1");
	free(c->exec->interactive_mode);
	c->exec->interactive_mode = strdup("Always");
	astra__kube_cred cred;
	cr_assert_astra_fail(astra__kube_exec_run(c, 1000, &cred), ASTRA_EAUTH);
	cr_assert(
	        strstr(astra_error_last()->message, "interactiveMode Always"));
	astra__kubeconfig_free(c);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

Test(kube_util, base64_round_trip_and_errors)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__kube_b64encode(&b, "hello!?", 7));
	cr_assert_str_eq(b.ptr, "aGVsbG8hPw==");
	astra_buf d = ASTRA_BUF_INIT;
	cr_assert_eq(astra__kube_b64decode(&d, b.ptr, b.size), 0);
	cr_assert_str_eq(d.ptr, "hello!?");
	astra__buf_clear(&d);
	cr_assert_eq(astra__kube_b64decode(&d, "aGVs\nbG8=", 9), 0);
	cr_assert_str_eq(d.ptr, "hello");
	astra__buf_clear(&d);
	cr_assert_eq(astra__kube_b64decode(&d, "a$b=", 4), -1);
	astra__buf_clear(&d);
	cr_assert_eq(astra__kube_b64decode(&d, "aGk=x", 5), -1);
	astra_buf_dispose(&b);
	astra_buf_dispose(&d);
}

Test(kube_util, rfc3339_times)
{
	int64_t t;
	cr_assert_eq(astra__kube_parse_time("1970-01-01T00:00:10Z", &t), 0);
	cr_assert_eq(t, 10);
	cr_assert_eq(
	        astra__kube_parse_time("2026-11-22T01:02:03.123456Z", &t), 0);
	cr_assert_eq(
	        astra__kube_parse_time("1970-01-01T01:00:00+01:00", &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(astra__kube_parse_time("1970-01-01 00:00:00", &t), -1);
	cr_assert_eq(astra__kube_parse_time("yesterday", &t), -1);
	cr_assert_eq(astra__kube_parse_time(NULL, &t), -1);
}
