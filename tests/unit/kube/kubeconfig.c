/*
 * kubeconfig loading, merging and resolution; in-cluster configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/cluster.h"
#include "astra_test.h"
#include "kube/kubeconfig.h"

static char dir[256];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/astra-kc.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
}

static void rm_tmp(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

TestSuite(kube_kubeconfig, .init = mkdir_tmp, .fini = rm_tmp);

static char *write_file(const char *name, const char *text)
{
	static char paths[8][300];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 300, "%s/%s", dir, name);
	char *slash = strrchr(p, '/');
	*slash = 0;
	mkdir(p, 0700);
	*slash = '/';
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* "Y2VydA==" is base64("cert"), "a2V5" is base64("key"). */
static const char *basic_cfg =
        "apiVersion: v1\n"
        "kind: Config\n"
        "current-context: dev\n"
        "clusters:\n"
        "- name: c1\n"
        "  cluster:\n"
        "    server: https://api.example.test:6443/\n"
        "    certificate-authority: pki/ca.crt\n"
        "    tls-server-name: kubernetes.default\n"
        "    proxy-url: http://proxy.test:3128\n"
        "- name: c2\n"
        "  cluster:\n"
        "    server: https://10.0.0.2\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n"
        "- name: u-token\n"
        "  user:\n"
        "    token: s3cr3t\n"
        "- name: u-cert\n"
        "  user:\n"
        "    client-certificate-data: Y2VydA==\n"
        "    client-key-data: a2V5\n"
        "- name: u-file\n"
        "  user:\n"
        "    tokenFile: tok\n"
        "    as: someone\n"
        "    as-groups: [g1, g2]\n"
        "contexts:\n"
        "- name: dev\n"
        "  context: {cluster: c1, user: u-token, namespace: team}\n"
        "- name: prod\n"
        "  context: {cluster: c2, user: u-cert}\n"
        "- name: files\n"
        "  context: {cluster: c2, user: u-file}\n";

Test(kube_kubeconfig, resolves_the_current_context)
{
	write_file("pki/ca.crt", "-----BEGIN CERTIFICATE-----\n");
	char *p = write_file("config", basic_cfg);
	astra__kubeconfig *c;
	cr_assert_astra_ok(astra__kubeconfig_load(&c, p, NULL));
	cr_assert_str_eq(c->context, "dev");
	cr_assert_str_eq(c->namespace, "team");
	cr_assert_str_eq(c->server, "https://api.example.test:6443");
	char want[400];
	snprintf(want, sizeof(want), "%s/pki/ca.crt", dir);
	cr_assert_str_eq(c->ca_file, want, "relative CA path resolved");
	cr_assert_str_eq(c->ca_data, "-----BEGIN CERTIFICATE-----\n");
	cr_assert_str_eq(c->tls_server_name, "kubernetes.default");
	cr_assert_str_eq(c->proxy_url, "http://proxy.test:3128");
	cr_assert_str_eq(c->token, "s3cr3t");
	cr_assert_eq(c->ncontexts, 3);
	cr_assert_str_eq(c->contexts[0], "dev");
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, selects_a_named_context_with_certificate_data)
{
	char *p = write_file("config", basic_cfg);
	astra__kubeconfig *c;
	cr_assert_astra_ok(astra__kubeconfig_load(&c, p, "prod"));
	cr_assert_str_eq(c->server, "https://10.0.0.2");
	cr_assert_eq(c->insecure, 1);
	cr_assert_eq(c->cert_data_len, 4);
	cr_assert_eq(memcmp(c->cert_data, "cert", 4), 0);
	cr_assert_eq(memcmp(c->key_data, "key", 3), 0);
	cr_assert_null(c->namespace);
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, token_file_and_impersonation)
{
	write_file("tok", "abc\n");
	char *p = write_file("config", basic_cfg);
	astra__kubeconfig *c;
	cr_assert_astra_ok(astra__kubeconfig_load(&c, p, "files"));
	char want[400];
	snprintf(want, sizeof(want), "%s/tok", dir);
	cr_assert_str_eq(c->token_file, want);
	cr_assert_str_eq(c->impersonate_user, "someone");
	cr_assert_eq(c->nimpersonate_groups, 2);
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, unknown_context_lists_the_known_ones)
{
	char *p = write_file("config", basic_cfg);
	astra__kubeconfig *c = NULL;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "staging"), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "context \"staging\" not found"), "%s", m);
	cr_assert(strstr(m, "dev, files, prod"), "%s", m);
	cr_assert(strstr(m, p), "%s", m);
	cr_assert_null(c);
}

Test(kube_kubeconfig, malformed_yaml_names_file_and_line)
{
	char *p = write_file("config", "apiVersion: v1\nclusters:\n- name: x\n"
	                               "  cluster: {server: [\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, NULL), ASTRA_EPARSE);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, p), "%s", m);
	cr_assert(strstr(m, "line 5"), "%s", m);
}

Test(kube_kubeconfig, wrong_types_name_the_line)
{
	char *p = write_file("config", "apiVersion: v1\n"
	                               "current-context: a\n"
	                               "clusters:\n"
	                               "- name: c\n"
	                               "  cluster:\n"
	                               "    server: [1, 2]\n"
	                               "contexts:\n"
	                               "- name: a\n"
	                               "  context: {cluster: c}\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, NULL), ASTRA_EPARSE);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "line 6"), "%s", m);
	cr_assert(strstr(m, "server must be a string"), "%s", m);

	p = write_file("config2", "clusters: {a: b}\n");
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, NULL), ASTRA_EPARSE);
	m = astra_error_last()->message;
	cr_assert(strstr(m, "line 1: clusters must be a list"), "%s", m);

	p = write_file("config3", "users:\n- name: u\n  user:\n"
	                          "    client-key-data: '%%%'\n"
	                          "clusters:\n- name: c\n"
	                          "  cluster: {server: 'https://x'}\n"
	                          "contexts:\n- name: a\n"
	                          "  context: {cluster: c, user: u}\n");
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, "a"), ASTRA_EPARSE);
	m = astra_error_last()->message;
	cr_assert(strstr(m, "line 4"), "%s", m);
	cr_assert(strstr(m, "not valid base64"), "%s", m);
}

Test(kube_kubeconfig, duplicate_names_in_one_file_are_errors)
{
	char *p = write_file("config",
	        "clusters:\n"
	        "- name: c\n  cluster: {server: 'https://a'}\n"
	        "- name: c\n  cluster: {server: 'https://b'}\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, "x"), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "line 4"), "%s",
	        astra_error_last()->message);
}

Test(kube_kubeconfig, missing_cluster_user_and_server)
{
	char *p = write_file("config",
	        "contexts:\n"
	        "- name: a\n  context: {cluster: nope}\n"
	        "- name: b\n  context: {cluster: c, user: who}\n"
	        "- name: d\n  context: {cluster: e}\n"
	        "clusters:\n"
	        "- name: c\n  cluster: {server: 'https://c'}\n"
	        "- name: e\n  cluster: {}\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "a"), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message,
	        "cluster \"nope\" was not found for context \"a\""));
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "b"), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message,
	        "user \"who\" was not found for context \"b\""));
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "d"), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "has no server"));
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, NULL), ASTRA_ENOTFOUND);
	cr_assert(strstr(
	        astra_error_last()->message, "current-context is not set"));
}

Test(kube_kubeconfig, missing_certificate_file_is_named)
{
	char *p = write_file("config",
	        "clusters:\n- name: c\n  cluster:\n"
	        "    server: https://x\n"
	        "    certificate-authority: /nonexistent/ca.crt\n"
	        "contexts:\n- name: a\n  context: {cluster: c}\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "a"), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "/nonexistent/ca.crt"), "%s", m);
	cr_assert(strstr(m, "cluster \"c\""), "%s", m);
}

Test(kube_kubeconfig, kubeconfig_env_merges_first_wins)
{
	char *a = write_file("a/config",
	        "current-context: ctx-b\n"
	        "clusters:\n- name: shared\n  cluster: {server: 'https://from-a'}\n"
	        "users:\n- name: u\n  user: {token: from-a}\n"
	        "contexts:\n- name: ctx-a\n  context: {cluster: shared, user: u}\n");
	char *b = write_file("b/config",
	        "current-context: ignored\n"
	        "clusters:\n- name: shared\n  cluster: {server: 'https://from-b'}\n"
	        "- name: only-b\n  cluster:\n    server: 'https://b'\n"
	        "    certificate-authority: ca.crt\n"
	        "users:\n- name: u\n  user: {token: from-b}\n"
	        "contexts:\n- name: ctx-b\n  context: {cluster: only-b, user: u}\n"
	        "- name: ctx-a\n  context: {cluster: only-b}\n");
	write_file("b/ca.crt", "B-CA");
	char env[1000];
	snprintf(env, sizeof(env), "%s:%s/missing:%s", a, dir, b);
	setenv("KUBECONFIG", env, 1);

	astra__kubeconfig *c;
	cr_assert_astra_ok(astra__kubeconfig_load(&c, NULL, NULL));
	/* current-context from the first file that sets it */
	cr_assert_str_eq(c->context, "ctx-b");
	cr_assert_str_eq(c->server, "https://b");
	/* the user comes from the first file */
	cr_assert_str_eq(c->token, "from-a");
	/* paths resolve against the file that defined the cluster */
	char want[400];
	snprintf(want, sizeof(want), "%s/b/ca.crt", dir);
	cr_assert_str_eq(c->ca_file, want);
	astra__kubeconfig_free(c);

	cr_assert_astra_ok(astra__kubeconfig_load(&c, NULL, "ctx-a"));
	cr_assert_str_eq(c->server, "https://from-a");
	cr_assert_str_eq(c->source, a);
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, explicit_path_must_exist)
{
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, "/nonexistent/kc", NULL),
	        ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "/nonexistent/kc"));
}

Test(kube_kubeconfig, home_default_and_nothing_found)
{
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, NULL, NULL), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "no kubeconfig found"), "%s", m);
	cr_assert(strstr(m, ".kube/config"), "%s", m);
	write_file(".kube/config",
	        "clusters:\n- name: c\n  cluster: {server: 'http://h'}\n"
	        "contexts:\n- name: a\n  context: {cluster: c}\n"
	        "current-context: a\n");
	cr_assert_astra_ok(astra__kubeconfig_load(&c, NULL, NULL));
	cr_assert_str_eq(c->server, "http://h");
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, exec_plugin_settings)
{
	char *p = write_file("config",
	        "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
	        "users:\n- name: eks\n  user:\n    exec:\n"
	        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
	        "      command: ./bin/get-token\n"
	        "      args: [eks, get-token, --cluster-name, prod]\n"
	        "      env: [{name: AWS_PROFILE, value: prod}]\n"
	        "      provideClusterInfo: true\n"
	        "      interactiveMode: Never\n"
	        "      installHint: install the aws CLI\n"
	        "contexts:\n- name: a\n  context: {cluster: c, user: eks}\n");
	astra__kubeconfig *c;
	cr_assert_astra_ok(astra__kubeconfig_load(&c, p, "a"));
	cr_assert_not_null(c->exec);
	char want[400];
	snprintf(want, sizeof(want), "%s/./bin/get-token", dir);
	cr_assert_str_eq(c->exec->command, want);
	cr_assert_eq(c->exec->nargs, 4);
	cr_assert_str_eq(c->exec->args[3], "prod");
	cr_assert_str_eq(c->exec->env[0].name, "AWS_PROFILE");
	cr_assert_eq(c->exec->provide_cluster_info, 1);
	cr_assert_str_eq(c->exec->interactive_mode, "Never");
	astra__kubeconfig_free(c);

	p = write_file("config2",
	        "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
	        "users:\n- name: e\n  user:\n    exec: {command: x, "
	        "apiVersion: client.authentication.k8s.io/v1alpha1}\n"
	        "contexts:\n- name: a\n  context: {cluster: c, user: e}\n");
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, "a"), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "v1alpha1"));
}

Test(kube_kubeconfig, unsupported_auth_provider_is_explained)
{
	char *p = write_file("config",
	        "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
	        "users:\n- name: g\n  user:\n    auth-provider: {name: gcp}\n"
	        "contexts:\n- name: a\n  context: {cluster: c, user: g}\n");
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, "a"), ASTRA_ENOTSUPPORTED);
	cr_assert(
	        strstr(astra_error_last()->message, "gke-gcloud-auth-plugin"));
}

Test(kube_kubeconfig, empty_and_non_mapping_documents)
{
	char *p = write_file("config", "");
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_load(&c, p, NULL), ASTRA_ENOTFOUND);
	p = write_file("config2", "- just\n- a list\n");
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, NULL), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "must be a mapping"));
	p = write_file("config3", "kind: Pod\n");
	cr_assert_astra_fail(astra__kubeconfig_load(&c, p, NULL), ASTRA_EPARSE);
}

Test(kube_kubeconfig, in_cluster_service_account)
{
	write_file("sa/token", "sa-token\n");
	write_file("sa/ca.crt", "CA");
	write_file("sa/namespace", "apps\n");
	char sa[300];
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	astra__kubeconfig *c;
	cr_assert_astra_fail(
	        astra__kubeconfig_in_cluster(&c, sa), ASTRA_ENOTFOUND);
	cr_assert(
	        strstr(astra_error_last()->message, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	cr_assert_astra_ok(astra__kubeconfig_in_cluster(&c, sa));
	cr_assert_str_eq(c->server, "https://[fd00::1]:443");
	cr_assert_str_eq(c->namespace, "apps");
	cr_assert_str_eq(c->ca_data, "CA");
	cr_assert(strstr(c->token_file, "/sa/token"));
	astra__kubeconfig_free(c);
}

Test(kube_kubeconfig, public_open_reports_the_same_errors)
{
	char *p = write_file("config", basic_cfg);
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = p;
	o.context = "nope";
	astra_cluster *cl = NULL;
	cr_assert_astra_fail(astra_cluster_open(&cl, &o), ASTRA_ENOTFOUND);
	cr_assert_null(cl);
	o.context = "prod";
	cr_assert_astra_ok(astra_cluster_open(&cl, &o));
	cr_assert_str_eq(astra_cluster_context_name(cl), "prod");
	cr_assert_str_eq(astra_cluster_server(cl), "https://10.0.0.2");
	cr_assert_str_eq(astra_cluster_namespace(cl), "default");
	astra_cluster_free(cl);
	astra_cluster_free(NULL);
	o.version = 99;
	cr_assert_astra_fail(astra_cluster_open(&cl, &o), ASTRA_EVERSION);
	astra_cluster_options o2;
	cr_assert_astra_ok(
	        astra_cluster_options_init(&o2, ASTRA_CLUSTER_OPTIONS_VERSION));
	cr_assert_eq(o2.version, ASTRA_CLUSTER_OPTIONS_VERSION);
}
