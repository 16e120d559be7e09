/*
 * The Kubernetes client against real test-bed clusters (kube-apiserver,
 * etcd, controller-manager from tests/testbed). Run through
 * tests/integration/kube/run.sh, which starts two clusters and exports:
 *   KUBECONFIG, ASTRA_TB_* of the first cluster (tests/testbed/up's env);
 *   ASTRA_IT_KUBECONFIG2, ASTRA_IT_CONTEXT2, ASTRA_IT_CA2 of the second.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/cluster.h"
#include "astra_test.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "fmt/json.h"
#include "kube/kube.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v,
	        "%s is not set: run this suite through "
	        "tests/integration/kube/run.sh",
	        name);
	return v;
}

static char tmpdir[256];
static char rid[16]; /* makes names unique per test run */

/* Strings made by the helpers below live until the test ends. */
static void *garbage[1024];
static size_t ngarbage;

static char *keep(char *p)
{
	cr_assert_not_null(p);
	if (ngarbage < sizeof(garbage) / sizeof(garbage[0]))
		garbage[ngarbage++] = p;
	return p;
}

#define S(...) keep(astra__aprintf(__VA_ARGS__))

/* "base-<run id>": tests can be re-run against the same cluster */
static char *uniq(const char *base)
{
	return S("%s-%s", base, rid);
}

static void suite_init(void)
{
	cr_assert(astra_init() > 0);
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)(astra__wall_ns() / 1000 ^ (int64_t)getpid()) &
	                0xffffff);
	const char *base = getenv("ASTRA_IT_TMPDIR");
	if (!base || !*base)
		base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/astra-it-kube.XXXXXX",
	        base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void suite_fini(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		cr_log_warn("cannot remove %s", tmpdir);
	for (size_t i = 0; i < ngarbage; i++)
		free(garbage[i]);
	ngarbage = 0;
	astra_shutdown();
}

TestSuite(kube, .init = suite_init, .fini = suite_fini, .timeout = 300);

static char *write_tmp(const char *name, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static astra__json *J(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* Writes a file under the test's temporary directory. */
static char *write_tmp(const char *name, const char *fmt, ...)
{
	char *path = S("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	return path;
}

static char *slurp(const char *path)
{
	astra_buf b = ASTRA_BUF_INIT;
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot read %s", path);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		astra__buf_put(&b, tmp, n);
	fclose(f);
	while (b.size &&
	        (b.ptr[b.size - 1] == '\n' || b.ptr[b.size - 1] == ' '))
		b.ptr[--b.size] = 0;
	return keep(astra__buf_detach(&b));
}

static astra__json *J(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	astra__json *j;
	cr_assert_astra_ok(astra__json_parse(&j, buf, strlen(buf), "test"));
	return j;
}

static astra__kube *open_kube(const char *kubeconfig, const char *context,
        double qps, unsigned retry_budget_ms)
{
	astra__kube_options o;
	memset(&o, 0, sizeof(o));
	o.kubeconfig = kubeconfig;
	o.context = context;
	o.qps = qps;
	o.retry_budget_ms = retry_budget_ms;
	astra__kube *k;
	cr_assert_astra_ok(astra__kube_open(&k, &o));
	return k;
}

static astra__kube *admin(void)
{
	return open_kube(env("ASTRA_TB_KUBECONFIG"),
	        env("ASTRA_TB_CONTEXT_TOKEN"), -1, 0);
}

static void find(astra__kube *k, const char *group, const char *kind,
        astra__kube_resource *r)
{
	cr_assert_astra_ok(astra__kube_find_kind(k, group, NULL, kind, r));
}

/* Creates, accepting an object left by an earlier run on the same
 * cluster. */
static void create_or_exists(astra__kube *k, const astra__kube_resource *r,
        const char *ns, astra__json *o)
{
	int rc = astra__kube_create(k, r, ns, o, NULL, NULL);
	cr_assert(rc == 0 || rc == ASTRA_EEXISTS, "%s",
	        astra_error_last()->message);
	astra__json_free(o);
}

static void make_ns(astra__kube *k, const char *ns)
{
	astra__kube_resource r;
	find(k, "", "Namespace", &r);
	astra__json *o = J("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                   "\"metadata\":{\"name\":\"%s\"}}",
	        ns);
	int rc = astra__kube_create(k, &r, NULL, o, NULL, NULL);
	cr_assert(rc == 0 || rc == ASTRA_EEXISTS, "create namespace %s: %s", ns,
	        astra_error_last()->message);
	astra__json_free(o);
	astra__kube_resource_clear(&r);
}

/* A kubeconfig for the first cluster with the given user and cluster
 * extras (YAML fragments, already indented). */
static char *kubeconfig(
        const char *name, const char *cluster_extra, const char *user_yaml)
{
	return write_tmp(name,
	        "apiVersion: v1\n"
	        "kind: Config\n"
	        "current-context: it\n"
	        "clusters:\n"
	        "- name: it\n"
	        "  cluster:\n"
	        "    server: %s\n"
	        "%s"
	        "users:\n"
	        "- name: it-user\n"
	        "  user:\n"
	        "%s"
	        "contexts:\n"
	        "- name: it\n"
	        "  context: {cluster: it, user: it-user}\n",
	        env("ASTRA_TB_APISERVER"), cluster_extra, user_yaml);
}

static char *ca_line(void)
{
	return S("    certificate-authority: %s\n", env("ASTRA_TB_CA"));
}

/* ------------------------------------------------------------------ */
/* Public API and authentication                                       */
/* ------------------------------------------------------------------ */

static void expect_namespaces(astra_cluster *c)
{
	astra_strarray ns = ASTRA_STRARRAY_INIT;
	cr_assert_astra_ok(astra_cluster_namespaces(c, &ns));
	int have_default = 0, have_system = 0;
	for (size_t i = 0; i < ns.count; i++) {
		have_default |= !strcmp(ns.strings[i], "default");
		have_system |= !strcmp(ns.strings[i], "kube-system");
	}
	cr_assert(have_default && have_system, "namespaces: %zu", ns.count);
	astra_strarray_dispose(&ns);
}

Test(kube, public_api_version_and_namespaces_with_token_file)
{
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = env("ASTRA_TB_KUBECONFIG");
	o.context = env("ASTRA_TB_CONTEXT_TOKEN");
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	cr_assert_str_eq(astra_cluster_server(c), env("ASTRA_TB_APISERVER"));
	astra_buf v = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_cluster_server_version(c, &v));
	cr_assert(!strncmp(v.ptr, "v1.", 3), "version %s", v.ptr);
	cr_log_info("server version %s", v.ptr);
	astra_buf_dispose(&v);
	expect_namespaces(c);
	astra_cluster_free(c);
}

Test(kube, default_kubeconfig_from_environment)
{
	setenv("KUBECONFIG", env("ASTRA_TB_KUBECONFIG"), 1);
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, NULL));
	cr_assert_str_eq(
	        astra_cluster_context_name(c), env("ASTRA_TB_CONTEXT_TOKEN"));
	expect_namespaces(c);
	astra_cluster_free(c);
}

Test(kube, client_certificate_authentication)
{
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = env("ASTRA_TB_KUBECONFIG");
	o.context = env("ASTRA_TB_CONTEXT_CERT");
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	astra_cluster_free(c);
}

Test(kube, inline_token_and_certificate_data)
{
	char *tok = slurp(env("ASTRA_TB_TOKEN_FILE"));
	char *user = S("    token: %s\n", tok);
	char *kc = kubeconfig("token.kubeconfig", ca_line(), user);
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	astra_cluster_free(c);
}

Test(kube, wrong_token_is_eauth_with_the_servers_reason)
{
	char *kc = kubeconfig("bad-token.kubeconfig", ca_line(),
	        "    token: not-a-valid-token\n");
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	astra_strarray ns = ASTRA_STRARRAY_INIT;
	cr_assert_astra_fail(astra_cluster_namespaces(c, &ns), ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_log_info("%s", m);
	cr_assert(strstr(m, "list namespaces"), "%s", m);
	cr_assert(strstr(m, "HTTP 401 Unauthorized"), "%s", m);
	cr_assert(strstr(m, "user \"it-user\" (token) were rejected"), "%s", m);
	cr_assert_null(strstr(m, "not-a-valid-token"), "secret leaked: %s", m);
	astra_cluster_free(c);
}

static char *exec_user(const char *script_name, const char *body)
{
	char *counter = S("%s/%s.count", tmpdir, script_name);
	char *script = write_tmp(script_name,
	        "#!/bin/sh\n"
	        "echo run >> '%s'\n"
	        "n=$(wc -l < '%s')\n"
	        "%s",
	        counter, counter, body);
	chmod(script, 0755);
	return S("    exec:\n"
	         "      apiVersion: client.authentication.k8s.io/v1\n"
	         "      command: %s\n"
	         "      interactiveMode: Never\n",
	        script);
}

static int exec_count(const char *script_name)
{
	char *p = S("%s/%s.count", tmpdir, script_name);
	FILE *f = fopen(p, "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

Test(kube, exec_plugin_token_is_cached)
{
	char *body = S(
	        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%%s\"}}' "
	        "\"$(cat '%s')\"\n",
	        env("ASTRA_TB_TOKEN_FILE"));
	char *kc = kubeconfig(
	        "exec.kubeconfig", ca_line(), exec_user("plugin.sh", body));
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	cr_assert_eq(exec_count("plugin.sh"), 0, "open runs no plugin");
	for (int i = 0; i < 5; i++)
		expect_namespaces(c);
	cr_assert_eq(exec_count("plugin.sh"), 1, "the token is cached");
	astra_cluster_free(c);
}

/* review test 8: a kubeconfig-named plugin gets neither the vault password
 * nor cloud keys of this process, and does get its kubeconfig env */
Test(kube, exec_plugin_environment_is_scrubbed)
{
	cr_assert_eq(setenv("ASTRA_VAULT_PASSWORD", "VAULTPW", 1), 0);
	cr_assert_eq(setenv("AWS_SECRET_ACCESS_KEY", "AWSSECRET", 1), 0);
	cr_assert_eq(setenv("AZURE_STORAGE_KEY", "AZKEY", 1), 0);
	char *dump = S("%s/plugin-env", tmpdir);
	char *body = S("env > '%s'\n"
	               "printf '{\"apiVersion\":\"client.authentication.k8s.io/"
	               "v1\",\"kind\":\"ExecCredential\",\"status\":{"
	               "\"token\":\"%%s\"}}' \"$(cat '%s')\"\n",
	        dump, env("ASTRA_TB_TOKEN_FILE"));
	char *user = S("%s"
	               "      env:\n"
	               "      - {name: PLUGIN_REGION, value: eu-test-1}\n",
	        exec_user("envdump.sh", body));
	char *kc = kubeconfig("exec-env.kubeconfig", ca_line(), user);
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	astra_cluster_free(c);
	unsetenv("ASTRA_VAULT_PASSWORD");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AZURE_STORAGE_KEY");
	char *seen = slurp(dump);
	cr_assert_null(strstr(seen, "VAULTPW"), "vault password leaked");
	cr_assert_null(strstr(seen, "AWSSECRET"), "AWS key leaked");
	cr_assert_null(strstr(seen, "AZKEY"), "Azure key leaked");
	cr_assert_null(strstr(seen, "ASTRA_"), "ASTRA_* leaked");
	cr_assert(strstr(seen, "PLUGIN_REGION=eu-test-1"), "kubeconfig env "
	                                                   "missing");
	cr_assert(strstr(seen, "KUBERNETES_EXEC_INFO="), "exec info missing");
}

Test(kube, exec_plugin_client_certificate)
{
	char *body = S(
	        "cert=$(awk '{printf \"%%s\\\\n\", $0}' '%s')\n"
	        "key=$(awk '{printf \"%%s\\\\n\", $0}' '%s')\n"
	        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{"
	        "\"clientCertificateData\":\"%%s\",\"clientKeyData\":\"%%s\"}}' "
	        "\"$cert\" \"$key\"\n",
	        env("ASTRA_TB_CLIENT_CERT"), env("ASTRA_TB_CLIENT_KEY"));
	char *kc = kubeconfig(
	        "exec-cert.kubeconfig", ca_line(), exec_user("cert.sh", body));
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	cr_assert_eq(exec_count("cert.sh"), 1);
	astra_cluster_free(c);
}

Test(kube, exec_plugin_is_rerun_after_401)
{
	/* first run: a stale token; later runs: the real one */
	char *body = S(
	        "if [ \"$n\" -eq 1 ]; then t=stale; else t=$(cat '%s'); fi\n"
	        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
	        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%%s\","
	        "\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}' \"$t\"\n",
	        env("ASTRA_TB_TOKEN_FILE"));
	char *kc = kubeconfig(
	        "exec-401.kubeconfig", ca_line(), exec_user("rotate.sh", body));
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	cr_assert_eq(exec_count("rotate.sh"), 2);
	expect_namespaces(c);
	cr_assert_eq(exec_count("rotate.sh"), 2);
	astra_cluster_free(c);
}

Test(kube, failing_exec_plugin_is_eauth)
{
	char *kc = kubeconfig("exec-fail.kubeconfig", ca_line(),
	        exec_user("fail.sh", "echo 'session expired' >&2; exit 1\n"));
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	astra_buf v = ASTRA_BUF_INIT;
	cr_assert_astra_fail(astra_cluster_server_version(c, &v), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "session expired"), "%s",
	        astra_error_last()->message);
	astra_cluster_free(c);
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

Test(kube, wrong_ca_is_ecertificate)
{
	char *cl = S("    certificate-authority: %s\n", env("ASTRA_IT_CA2"));
	char *kc = kubeconfig(
	        "wrong-ca.kubeconfig", cl, "    token: irrelevant\n");
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	astra_buf v = ASTRA_BUF_INIT;
	cr_assert_astra_fail(
	        astra_cluster_server_version(c, &v), ASTRA_ECERTIFICATE);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, env("ASTRA_TB_APISERVER")), "%s", m);
	cr_log_info("%s", m);
	astra_cluster_free(c);
}

Test(kube, tls_server_name_and_insecure)
{
	char *tok = slurp(env("ASTRA_TB_TOKEN_FILE"));
	char *user = S("    token: %s\n", tok);
	char *good =
	        S("%s    tls-server-name: kubernetes.default\n", ca_line());
	char *kc = kubeconfig("tsn.kubeconfig", good, user);
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	astra_cluster_free(c);

	char *bad = S(
	        "%s    tls-server-name: not-in-the-cert.example\n", ca_line());
	kc = kubeconfig("tsn-bad.kubeconfig", bad, user);
	o.kubeconfig = kc;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	astra_strarray ns = ASTRA_STRARRAY_INIT;
	cr_assert_astra_fail(
	        astra_cluster_namespaces(c, &ns), ASTRA_ECERTIFICATE);
	astra_cluster_free(c);

	kc = kubeconfig("insecure.kubeconfig",
	        "    insecure-skip-tls-verify: true\n", user);
	o.kubeconfig = kc;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	expect_namespaces(c);
	astra_cluster_free(c);

	kc = kubeconfig("no-ca.kubeconfig", "", user);
	o.kubeconfig = kc;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	cr_assert_astra_fail(
	        astra_cluster_namespaces(c, &ns), ASTRA_ECERTIFICATE);
	astra_cluster_free(c);
}

Test(kube, unreachable_server_is_enet_after_a_bounded_time)
{
	char *kc = write_tmp("down.kubeconfig",
	        "clusters:\n- name: down\n  cluster: {server: "
	        "'https://127.0.0.1:1'}\n"
	        "contexts:\n- name: down\n  context: {cluster: down}\n");
	astra_cluster_options o = ASTRA_CLUSTER_OPTIONS_INIT;
	o.kubeconfig = kc;
	o.context = "down";
	o.retry_budget_ms = 2000;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	uint64_t t0 = astra__mono_ns();
	astra_buf v = ASTRA_BUF_INIT;
	cr_assert_astra_fail(astra_cluster_server_version(c, &v), ASTRA_ENET);
	uint64_t ms = (astra__mono_ns() - t0) / 1000000;
	cr_assert_lt(ms, 8000, "took %llu ms", (unsigned long long)ms);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "https://127.0.0.1:1/version"), "%s", m);
	cr_assert(strstr(m, "cluster \"down\""), "%s", m);
	astra_cluster_free(c);
}

/* ------------------------------------------------------------------ */
/* Least privilege                                                     */
/* ------------------------------------------------------------------ */

Test(kube, least_privilege_service_account_gets_a_clear_eauth)
{
	astra__kube *k = admin();
	const char *ns = uniq("it-sa");
	make_ns(k, ns);
	astra__kube_resource sa, role, rb, cm, secret;
	find(k, "", "ServiceAccount", &sa);
	find(k, "rbac.authorization.k8s.io", "Role", &role);
	find(k, "rbac.authorization.k8s.io", "RoleBinding", &rb);
	find(k, "", "ConfigMap", &cm);
	find(k, "", "Secret", &secret);
	create_or_exists(k, &sa, ns,
	        J("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
	          "\"metadata\":{\"name\":\"reader\"}}"));
	create_or_exists(k, &role, ns,
	        J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	          "\"Role\",\"metadata\":{\"name\":\"cm-reader\"},\"rules\":[{"
	          "\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
	          "\"verbs\":[\"get\",\"list\"]}]}"));
	create_or_exists(k, &rb, ns,
	        J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	          "\"RoleBinding\",\"metadata\":{\"name\":\"reader\"},"
	          "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
	          "\"kind\":\"Role\",\"name\":\"cm-reader\"},\"subjects\":[{"
	          "\"kind\":\"ServiceAccount\",\"name\":\"reader\","
	          "\"namespace\":\"%s\"}]}",
	                ns));

	/* a token through the TokenRequest API */
	astra_buf path = ASTRA_BUF_INIT, resp = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__kube_path(&path, &sa, ns, "reader", "token"));
	const char *treq = "{\"apiVersion\":\"authentication.k8s.io/v1\","
	                   "\"kind\":\"TokenRequest\",\"spec\":{"
	                   "\"expirationSeconds\":600}}";
	astra__kube_req rq = { .method = "POST",
		.path = path.ptr,
		.body = treq,
		.body_len = strlen(treq),
		.verb = "create",
		.what = "a token" };
	cr_assert_astra_ok(astra__kube_do(k, &rq, &resp, NULL));
	astra__json *tr = J("%s", resp.ptr);
	const char *token =
	        astra__json_str(astra__json_get(tr, "status"), "token");
	cr_assert_not_null(token);

	char *user = S("    token: %s\n", token);
	char *kc = kubeconfig("sa.kubeconfig", ca_line(), user);
	astra__kube *r = open_kube(kc, NULL, 0, 0);
	/* allowed: configmaps in its namespace */
	astra__json *items;
	cr_assert_astra_ok(astra__kube_list_all(r, &cm, ns, NULL, &items));
	astra__json_free(items);
	/* forbidden: secrets in kube-system */
	cr_assert_astra_fail(
	        astra__kube_list_all(r, &secret, "kube-system", NULL, &items),
	        ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_log_info("%s", m);
	cr_assert(strstr(m, "list secrets in namespace \"kube-system\": "
	                    "forbidden"),
	        "%s", m);
	cr_assert(strstr(m, "HTTP 403 Forbidden"), "%s", m);
	char *who = S("system:serviceaccount:%s:reader", ns);
	cr_assert(strstr(m, who), "%s", m);
	cr_assert_null(strstr(m, token), "token leaked");
	/* the public API says the same for namespaces */
	astra_cluster_options po = ASTRA_CLUSTER_OPTIONS_INIT;
	po.kubeconfig = kc;
	astra_cluster *c;
	cr_assert_astra_ok(astra_cluster_open(&c, &po));
	astra_strarray nsl = ASTRA_STRARRAY_INIT;
	cr_assert_astra_fail(astra_cluster_namespaces(c, &nsl), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "list namespaces"));
	astra_cluster_free(c);
	astra__kube_free(r);
	astra__json_free(tr);
	astra_buf_dispose(&path);
	astra_buf_dispose(&resp);
	astra__kube_resource_clear(&sa);
	astra__kube_resource_clear(&role);
	astra__kube_resource_clear(&rb);
	astra__kube_resource_clear(&cm);
	astra__kube_resource_clear(&secret);
	astra__kube_free(k);
}

/* ------------------------------------------------------------------ */
/* Impersonation                                                       */
/* ------------------------------------------------------------------ */

/* kubeconfig `as` / `as-groups`: the admin's token, acting as a user who
 * can only read ConfigMaps in one namespace (directly or through a
 * group): exactly that is allowed, and a 403 names the impersonated user */
Test(kube, impersonation_acts_as_the_named_user_and_groups)
{
	astra__kube *k = admin();
	const char *ns = uniq("it-imp");
	const char *who = uniq("imp-user");
	const char *grp = uniq("imp-readers");
	make_ns(k, ns);
	astra__kube_resource role, rb, cm, secret;
	find(k, "rbac.authorization.k8s.io", "Role", &role);
	find(k, "rbac.authorization.k8s.io", "RoleBinding", &rb);
	find(k, "", "ConfigMap", &cm);
	find(k, "", "Secret", &secret);
	create_or_exists(k, &role, ns,
	        J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	          "\"Role\",\"metadata\":{\"name\":\"cm-reader\"},\"rules\":[{"
	          "\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
	          "\"verbs\":[\"get\",\"list\"]}]}"));
	create_or_exists(k, &rb, ns,
	        J("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	          "\"RoleBinding\",\"metadata\":{\"name\":\"imp\"},"
	          "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
	          "\"kind\":\"Role\",\"name\":\"cm-reader\"},\"subjects\":["
	          "{\"kind\":\"User\",\"name\":\"%s\","
	          "\"apiGroup\":\"rbac.authorization.k8s.io\"},"
	          "{\"kind\":\"Group\",\"name\":\"%s\","
	          "\"apiGroup\":\"rbac.authorization.k8s.io\"}]}",
	                who, grp));
	char *tok = slurp(env("ASTRA_TB_TOKEN_FILE"));

	/* as the user */
	char *kc = kubeconfig("imp-user.kubeconfig", ca_line(),
	        S("    token: %s\n    as: %s\n", tok, who));
	astra__kube *r = open_kube(kc, NULL, 0, 0);
	astra__json *items = NULL;
	/* RBAC takes a moment to see a new binding */
	int rc = -1;
	for (int i = 0; i < 50 && rc; i++) {
		rc = astra__kube_list_all(r, &cm, ns, NULL, &items);
		if (rc)
			astra__sleep_ms(100);
	}
	cr_assert_astra_ok(rc);
	astra__json_free(items);
	cr_assert_astra_fail(astra__kube_list_all(r, &secret, ns, NULL, &items),
	        ASTRA_EAUTH);
	const char *m = astra_error_last()->message;
	cr_log_info("%s", m);
	cr_assert(strstr(m, "HTTP 403 Forbidden"), "%s", m);
	cr_assert(strstr(m, S("User \"%s\"", who)), "%s", m);
	cr_assert_null(strstr(m, tok), "token leaked");
	astra__kube_free(r);

	/* as a user without rights, in the group that has them */
	kc = kubeconfig("imp-group.kubeconfig", ca_line(),
	        S("    token: %s\n    as: %s\n    as-groups: [%s]\n", tok,
	                uniq("imp-nobody"), grp));
	r = open_kube(kc, NULL, 0, 0);
	cr_assert_astra_ok(astra__kube_list_all(r, &cm, ns, NULL, &items));
	astra__json_free(items);
	cr_assert_astra_fail(astra__kube_list_all(r, &secret, ns, NULL, &items),
	        ASTRA_EAUTH);
	m = astra_error_last()->message;
	cr_assert(strstr(m, S("User \"%s\"", uniq("imp-nobody"))), "%s", m);
	astra__kube_free(r);

	/* without `as`, the same token is the admin */
	kc = kubeconfig(
	        "imp-none.kubeconfig", ca_line(), S("    token: %s\n", tok));
	r = open_kube(kc, NULL, 0, 0);
	cr_assert_astra_ok(astra__kube_list_all(r, &secret, ns, NULL, &items));
	astra__json_free(items);
	astra__kube_free(r);

	astra__kube_resource_clear(&role);
	astra__kube_resource_clear(&rb);
	astra__kube_resource_clear(&cm);
	astra__kube_resource_clear(&secret);
	astra__kube_free(k);
}

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *name;
} crd_wait;

static int crd_established(void *p, const char *type, astra__json *obj)
{
	crd_wait *w = p;
	const char *name =
	        astra__json_str(astra__json_get(obj, "metadata"), "name");
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
		return 0;
	if (!name || strcmp(name, w->name))
		return 0;
	const astra__json *conds = astra__json_path(obj, "status.conditions");
	for (size_t i = 0; i < astra__json_size(conds); i++) {
		const astra__json *c = astra__json_at(conds, i);
		const char *t = astra__json_str(c, "type");
		const char *s = astra__json_str(c, "status");
		if (t && s && !strcmp(t, "Established") && !strcmp(s, "True"))
			return 1;
	}
	return 0;
}

Test(kube, discovery_finds_a_freshly_installed_crd)
{
	astra__kube *k = admin();
	const astra__kube_discovery *d;
	cr_assert_astra_ok(astra__kube_discovery_get(k, 0, &d));
	cr_assert_eq(d->aggregated, 1, "v1.36 serves aggregated discovery");
	cr_assert_gt(d->n, 40);
	cr_log_info("aggregated discovery: %zu resources", d->n);
	astra__kube_discovery_release(k, d);

	astra__kube_resource r, crd;
	char *group = S("it%s.astra.test", rid);
	char *crdname = S("widgets.%s", group);
	cr_assert_astra_fail(
	        astra__kube_find_kind(k, group, NULL, "Widget", &r),
	        ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "CRD installed"));

	find(k, "apiextensions.k8s.io", "CustomResourceDefinition", &crd);
	cr_assert_eq(crd.namespaced, 0);
	astra__json *o =
	        J("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
	          "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
	          "\"%s\"},\"spec\":{\"group\":"
	          "\"%s\",\"scope\":\"Namespaced\",\"names\":{"
	          "\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":"
	          "\"Widget\",\"shortNames\":[\"wdg\"]},\"versions\":["
	          "{\"name\":\"v1beta1\",\"served\":true,\"storage\":false,"
	          "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
	          "\"x-kubernetes-preserve-unknown-fields\":true}}},"
	          "{\"name\":\"v1\",\"served\":true,\"storage\":true,"
	          "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
	          "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}",
	                crdname, group);
	char *rv = NULL;
	astra__json *items;
	cr_assert_astra_ok(astra__kube_list_all(k, &crd, NULL, NULL, &items));
	astra__json_free(items);
	char *fs = S("metadata.name=%s", crdname);
	astra__kube_list_options lo = { .field_selector = fs,
		.timeout_seconds = 60 };
	cr_assert_astra_ok(astra__kube_create(k, &crd, NULL, o, NULL, NULL));
	crd_wait w = { crdname };
	cr_assert_astra_ok(astra__kube_watch(
	        k, &crd, NULL, &lo, crd_established, &w, &rv));
	free(rv);

	/* discovery may lag the Established condition briefly */
	int rc = -1;
	uint64_t t0 = astra__mono_ns();
	for (int i = 0; i < 40 && rc; i++) {
		rc = astra__kube_find_kind(k, group, NULL, "Widget", &r);
		if (rc)
			astra__sleep_ms(250);
	}
	cr_assert_eq(rc, 0, "%s", astra_error_last()->message);
	cr_log_info("CRD discovered %llu ms after Established",
	        (unsigned long long)((astra__mono_ns() - t0) / 1000000));
	cr_assert_str_eq(r.resource, "widgets");
	cr_assert_str_eq(r.version, "v1", "the storage version is preferred");
	cr_assert_eq(r.namespaced, 1);
	cr_assert(r.verbs & ASTRA_KUBE_VERB_WATCH);

	/* short name and plural.group forms */
	astra__kube_resource r2;
	cr_assert_astra_ok(astra__kube_find_resource(k, "wdg", &r2));
	cr_assert_str_eq(r2.kind, "Widget");
	astra__kube_resource_clear(&r2);
	char *vg = S("widgets.v1beta1.%s", group);
	cr_assert_astra_ok(astra__kube_find_resource(k, vg, &r2));
	cr_assert_str_eq(r2.version, "v1beta1");
	astra__kube_resource_clear(&r2);
	cr_assert_astra_ok(astra__kube_find_resource(k, "deploy", &r2));
	cr_assert_str_eq(r2.group, "apps");
	astra__kube_resource_clear(&r2);

	/* a custom object */
	char *crns = uniq("it-crd");
	make_ns(k, crns);
	astra__json *wj = J("{\"apiVersion\":\"%s/v1\",\"kind\":"
	                    "\"Widget\",\"metadata\":{\"name\":\"w1\"},"
	                    "\"spec\":{\"size\":3}}",
	        group);
	astra__kube_resource wr;
	cr_assert_astra_ok(astra__kube_find_object(k, wj, &wr));
	cr_assert_astra_ok(astra__kube_create(k, &wr, crns, wj, NULL, NULL));
	astra__json *got;
	cr_assert_astra_ok(astra__kube_get(k, &wr, crns, "w1", &got));
	cr_assert_eq(
	        astra__json_int(astra__json_get(got, "spec"), "size", 0), 3);
	astra__json_free(got);

	/* classic discovery finds it too */
	astra__kube_discovery_force_classic(k, 1);
	cr_assert_astra_ok(astra__kube_discovery_get(k, 0, &d));
	cr_assert_eq(d->aggregated, 0);
	int found = 0;
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->resources[i].kind, "Widget") &&
		        d->resources[i].preferred)
			found = !strcmp(d->resources[i].version, "v1");
	cr_assert(found, "classic discovery lists Widget v1 as preferred");
	astra__kube_discovery_release(k, d);

	astra__json_free(wj);
	astra__json_free(o);
	astra__kube_resource_clear(&wr);
	astra__kube_resource_clear(&r);
	astra__kube_resource_clear(&crd);
	astra__kube_free(k);
}

/* ------------------------------------------------------------------ */
/* Listing 5,000 objects                                               */
/* ------------------------------------------------------------------ */

#define NCM 5000
#define NTHREADS 8

typedef struct {
	astra__kube *k;
	const astra__kube_resource *r;
	const char *ns;
	int from, to, rc;
	char msg[512];
} create_job;

static void *create_range(void *p)
{
	create_job *j = p;
	for (int i = j->from; i < j->to && !j->rc; i++) {
		char buf[512];
		snprintf(buf, sizeof(buf),
		        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		        "\"metadata\":{\"name\":\"cm-%05d\",\"labels\":{"
		        "\"half\":\"%s\"}},\"data\":{\"i\":\"%d\"}}",
		        i, i % 2 ? "odd" : "even", i);
		astra__json *o;
		j->rc = astra__json_parse(&o, buf, strlen(buf), "cm");
		if (!j->rc)
			j->rc = astra__kube_create(
			        j->k, j->r, j->ns, o, NULL, NULL);
		astra__json_free(o);
		if (j->rc)
			snprintf(j->msg, sizeof(j->msg), "%s",
			        astra_error_last()->message);
	}
	return NULL;
}

static int count_pages;
static void count_requests(int level, const char *msg, void *p)
{
	(void)level;
	(void)p;
	if (strstr(msg, "http: GET") && strstr(msg, "/configmaps?limit="))
		count_pages++;
}

typedef struct {
	char seen[NCM];
	int n, dup;
} seen_set;

static int mark(void *p, astra__json *item)
{
	seen_set *s = p;
	const char *name =
	        astra__json_str(astra__json_get(item, "metadata"), "name");
	int i;
	if (name && sscanf(name, "cm-%d", &i) == 1 && i >= 0 && i < NCM) {
		s->dup += s->seen[i];
		s->seen[i] = 1;
		s->n++;
	}
	cr_assert_str_eq(astra__json_str(item, "kind"), "ConfigMap");
	cr_assert_str_eq(astra__json_str(item, "apiVersion"), "v1");
	return 0;
}

Test(kube, lists_5000_configmaps_through_pagination)
{
	astra__kube *k = admin();
	const char *ns = uniq("it-page");
	make_ns(k, ns);
	astra__kube_resource r;
	find(k, "", "ConfigMap", &r);
	uint64_t t0 = astra__mono_ns();
	pthread_t th[NTHREADS];
	create_job jobs[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		jobs[i] = (create_job){ k, &r, ns, i * NCM / NTHREADS,
			(i + 1) * NCM / NTHREADS, 0, "" };
		pthread_create(&th[i], NULL, create_range, &jobs[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(jobs[i].rc, 0, "%s", jobs[i].msg);
	}
	cr_log_info("created %d ConfigMaps in %llu ms (%d threads)", NCM,
	        (unsigned long long)((astra__mono_ns() - t0) / 1000000),
	        NTHREADS);

	astra_log_set_handler(count_requests, ASTRA_LOG_DEBUG, NULL);
	seen_set *s = calloc(1, sizeof(*s));
	astra__kube_list_options lo = { .limit = 500 };
	char *rv = NULL;
	t0 = astra__mono_ns();
	cr_assert_astra_ok(astra__kube_list(k, &r, ns, &lo, mark, s, &rv));
	cr_log_info("listed %d ConfigMaps in %d pages in %llu ms", s->n,
	        count_pages,
	        (unsigned long long)((astra__mono_ns() - t0) / 1000000));
	cr_assert_eq(s->n, NCM);
	cr_assert_eq(s->dup, 0);
	/* 10 pages, and an empty 11th when the server could not know that
	 * the 10th was the last */
	cr_assert(count_pages == NCM / 500 || count_pages == NCM / 500 + 1,
	        "pages: %d", count_pages);
	cr_assert_not_null(rv);
	free(rv);
	astra_log_set_handler(NULL, 0, NULL);

	/* selectors reach the server on every page */
	memset(s, 0, sizeof(*s));
	lo.label_selector = "half=odd";
	lo.limit = 300;
	cr_assert_astra_ok(astra__kube_list(k, &r, ns, &lo, mark, s, NULL));
	cr_assert_eq(s->n, NCM / 2);
	memset(s, 0, sizeof(*s));
	lo.label_selector = "half in (odd,even),half!=even";
	cr_assert_astra_ok(astra__kube_list(k, &r, ns, &lo, mark, s, NULL));
	cr_assert_eq(s->n, NCM / 2);
	memset(s, 0, sizeof(*s));
	lo.label_selector = NULL;
	lo.field_selector = "metadata.name=cm-00042";
	cr_assert_astra_ok(astra__kube_list(k, &r, ns, &lo, mark, s, NULL));
	cr_assert_eq(s->n, 1);
	cr_assert(s->seen[42]);
	/* a bad selector is the server's 400 */
	lo.field_selector = NULL;
	lo.label_selector = "a in (";
	cr_assert_astra_fail(astra__kube_list(k, &r, ns, &lo, mark, s, NULL),
	        ASTRA_EINVALID);
	free(s);
	astra__kube_resource_clear(&r);
	astra__kube_free(k);
}

/* ------------------------------------------------------------------ */
/* Create, update, patch, apply, delete, watch                          */
/* ------------------------------------------------------------------ */

static const char *data_of(astra__json *o, const char *key)
{
	return astra__json_str(astra__json_get(o, "data"), key);
}

Test(kube, create_update_patch_apply_delete)
{
	astra__kube *k = admin();
	const char *ns = uniq("it-crud");
	make_ns(k, ns);
	astra__kube_resource r;
	find(k, "", "ConfigMap", &r);
	astra__json *o = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                   "\"metadata\":{\"name\":\"obj\"},\"data\":{\"a\":"
	                   "\"1\"}}");
	astra__json *out;
	cr_assert_astra_ok(astra__kube_create(k, &r, ns, o, NULL, &out));
	cr_assert_str_eq(data_of(out, "a"), "1");
	astra__json *first = out;
	cr_assert_astra_fail(
	        astra__kube_create(k, &r, ns, o, NULL, NULL), ASTRA_EEXISTS);
	cr_assert(strstr(astra_error_last()->message, "already exists"));

	/* merge patch */
	const char *mp = "{\"data\":{\"b\":\"2\"}}";
	cr_assert_astra_ok(astra__kube_patch(k, &r, ns, "obj",
	        ASTRA_KUBE_PATCH_MERGE, mp, strlen(mp), NULL, &out));
	cr_assert_str_eq(data_of(out, "b"), "2");
	astra__json_free(out);
	/* JSON patch */
	const char *jp = "[{\"op\":\"replace\",\"path\":\"/data/a\","
	                 "\"value\":\"x\"}]";
	cr_assert_astra_ok(astra__kube_patch(k, &r, ns, "obj",
	        ASTRA_KUBE_PATCH_JSON, jp, strlen(jp), NULL, &out));
	cr_assert_str_eq(data_of(out, "a"), "x");
	astra__json_free(out);
	/* strategic merge patch on a built-in type */
	const char *sp = "{\"data\":{\"c\":\"3\"}}";
	cr_assert_astra_ok(astra__kube_patch(k, &r, ns, "obj",
	        ASTRA_KUBE_PATCH_STRATEGIC, sp, strlen(sp), NULL, &out));
	cr_assert_str_eq(data_of(out, "c"), "3");
	astra__json_free(out);

	/* update with a stale resourceVersion conflicts */
	cr_assert_astra_fail(astra__kube_update(k, &r, ns, first, NULL, NULL),
	        ASTRA_ECONFLICT);
	cr_assert(strstr(astra_error_last()->message, "conflict"), "%s",
	        astra_error_last()->message);
	astra__json_free(first);
	cr_assert_astra_ok(astra__kube_get(k, &r, ns, "obj", &out));
	astra__json_set_str(astra__json_get(out, "data"), "d", "4");
	astra__json *upd;
	cr_assert_astra_ok(astra__kube_update(k, &r, ns, out, NULL, &upd));
	cr_assert_str_eq(data_of(upd, "d"), "4");
	astra__json_free(upd);
	astra__json_free(out);

	/* server-side apply with field managers */
	astra__json *a = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                   "\"metadata\":{\"name\":\"ssa\",\"namespace\":"
	                   "\"%s\"},\"data\":{\"x\":\"1\"}}",
	        ns);
	astra__kube_write_options wa = { .field_manager = "mgr-a" };
	cr_assert_astra_ok(astra__kube_apply(k, &r, NULL, a, &wa, &out));
	cr_assert_str_eq(data_of(out, "x"), "1");
	astra__json_free(out);
	astra__json_set_str(astra__json_get(a, "data"), "x", "2");
	astra__kube_write_options wb = { .field_manager = "mgr-b" };
	cr_assert_astra_fail(
	        astra__kube_apply(k, &r, NULL, a, &wb, NULL), ASTRA_ECONFLICT);
	cr_assert(strstr(astra_error_last()->message, "mgr-a"), "%s",
	        astra_error_last()->message);
	wb.force = 1;
	cr_assert_astra_ok(astra__kube_apply(k, &r, NULL, a, &wb, &out));
	cr_assert_str_eq(data_of(out, "x"), "2");
	astra__json_free(out);
	/* dry run changes nothing */
	astra__json_set_str(astra__json_get(a, "data"), "x", "3");
	wb.dry_run = 1;
	cr_assert_astra_ok(astra__kube_apply(k, &r, NULL, a, &wb, &out));
	cr_assert_str_eq(data_of(out, "x"), "3");
	astra__json_free(out);
	cr_assert_astra_ok(astra__kube_get(k, &r, ns, "ssa", &out));
	cr_assert_str_eq(data_of(out, "x"), "2");
	astra__json_free(out);
	astra__json_free(a);

	/* invalid objects are EINVALID with the server's message */
	astra__json *bad = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                     "\"metadata\":{\"name\":\"Bad_Name\"}}");
	cr_assert_astra_fail(
	        astra__kube_create(k, &r, ns, bad, NULL, NULL), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "Bad_Name"));
	astra__json_free(bad);

	/* delete with a propagation policy */
	astra__kube_write_options wd = { .propagation = "Background",
		.grace_period_seconds = ASTRA_KUBE_GRACE_NOW };
	cr_assert_astra_ok(astra__kube_delete(k, &r, ns, "obj", &wd));
	cr_assert_astra_fail(
	        astra__kube_get(k, &r, ns, "obj", &out), ASTRA_ENOTFOUND);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "get configmaps \"obj\" in namespace \"it-crud-"),
	        "%s", m);
	cr_assert_astra_fail(
	        astra__kube_delete(k, &r, ns, "obj", NULL), ASTRA_ENOTFOUND);
	astra__json_free(o);
	astra__kube_resource_clear(&r);
	astra__kube_free(k);
}

typedef struct {
	astra__kube *k;
	astra__kube_resource *r;
	const char *ns;
	char *rv;
	char types[16][16];
	int n, rc;
	char msg[512];
	astra__op *op;
} watch_ctx;

static int on_event(void *p, const char *type, astra__json *obj)
{
	watch_ctx *w = p;
	const char *name =
	        astra__json_str(astra__json_get(obj, "metadata"), "name");
	if (!name || strcmp(name, "watched"))
		return 0;
	if (w->n < 16)
		snprintf(w->types[w->n++], 16, "%s", type);
	return strcmp(type, "DELETED") == 0;
}

static void *watch_main(void *p)
{
	watch_ctx *w = p;
	astra__kube_list_options lo = { .resource_version = w->rv,
		.timeout_seconds = 60,
		.allow_bookmarks = 1,
		.op = w->op };
	w->rc = astra__kube_watch(w->k, w->r, w->ns, &lo, on_event, w, NULL);
	if (w->rc)
		snprintf(w->msg, sizeof(w->msg), "%s",
		        astra_error_last()->message);
	return NULL;
}

static int ignore(void *p, astra__json *item)
{
	(void)p;
	(void)item;
	return 0;
}

Test(kube, watch_streams_events_from_a_resource_version)
{
	astra__kube *k = admin();
	const char *ns = uniq("it-watch");
	make_ns(k, ns);
	astra__kube_resource r;
	find(k, "", "ConfigMap", &r);
	watch_ctx w = { .k = k, .r = &r, .ns = ns };
	cr_assert_astra_ok(
	        astra__kube_list(k, &r, ns, NULL, ignore, NULL, &w.rv));
	pthread_t t;
	pthread_create(&t, NULL, watch_main, &w);
	astra__sleep_ms(200);
	astra__json *o = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                   "\"metadata\":{\"name\":\"watched\"}}");
	cr_assert_astra_ok(astra__kube_create(k, &r, ns, o, NULL, NULL));
	const char *mp = "{\"data\":{\"k\":\"v\"}}";
	cr_assert_astra_ok(astra__kube_patch(k, &r, ns, "watched",
	        ASTRA_KUBE_PATCH_MERGE, mp, strlen(mp), NULL, NULL));
	cr_assert_astra_ok(astra__kube_delete(k, &r, ns, "watched", NULL));
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, 0, "%s", w.msg);
	cr_assert_eq(w.n, 3);
	cr_assert_str_eq(w.types[0], "ADDED");
	cr_assert_str_eq(w.types[1], "MODIFIED");
	cr_assert_str_eq(w.types[2], "DELETED");
	free(w.rv);
	astra__json_free(o);
	astra__kube_resource_clear(&r);
	astra__kube_free(k);
}

Test(kube, watch_ends_at_its_timeout_and_can_be_cancelled)
{
	astra__kube *k = admin();
	astra__kube_resource r;
	find(k, "", "ConfigMap", &r);
	char *quiet = uniq("it-watch-quiet");
	make_ns(k, quiet);
	astra__kube_list_options lo = { .timeout_seconds = 2 };
	uint64_t t0 = astra__mono_ns();
	watch_ctx w = { 0 };
	cr_assert_astra_ok(
	        astra__kube_watch(k, &r, quiet, &lo, on_event, &w, NULL));
	uint64_t ms = (astra__mono_ns() - t0) / 1000000;
	cr_assert(ms >= 1500 && ms < 10000, "watch took %llu ms",
	        (unsigned long long)ms);

	astra_cancel *tok;
	cr_assert_astra_ok(astra_cancel_new(&tok));
	astra__op op;
	astra__op_init(&op, NULL, NULL, tok);
	watch_ctx wc = { .k = k, .r = &r, .ns = quiet, .op = &op };
	pthread_t t;
	t0 = astra__mono_ns();
	pthread_create(&t, NULL, watch_main, &wc);
	astra__sleep_ms(300);
	astra_cancel_request(tok);
	pthread_join(t, NULL);
	cr_assert_eq(wc.rc, ASTRA_ECANCELLED, "%d %s", wc.rc, wc.msg);
	cr_assert_lt((astra__mono_ns() - t0) / 1000000, 3000);
	astra_cancel_free(tok);
	astra__kube_resource_clear(&r);
	astra__kube_free(k);
}

/* ------------------------------------------------------------------ */
/* Two clusters                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	astra_cluster *c;
	int rc;
	char msg[512];
} ns_job;

static void *list_ns_many(void *p)
{
	ns_job *j = p;
	for (int i = 0; i < 20 && !j->rc; i++) {
		astra_strarray a = ASTRA_STRARRAY_INIT;
		j->rc = astra_cluster_namespaces(j->c, &a);
		astra_strarray_dispose(&a);
	}
	if (j->rc)
		snprintf(j->msg, sizeof(j->msg), "%s",
		        astra_error_last()->message);
	return NULL;
}

Test(kube, two_clusters_at_once)
{
	astra__kube *k1 = admin();
	astra__kube *k2 = open_kube(
	        env("ASTRA_IT_KUBECONFIG2"), env("ASTRA_IT_CONTEXT2"), -1, 0);
	cr_assert_str_neq(
	        astra__kube_config(k1)->server, astra__kube_config(k2)->server);
	astra__kube_resource r;
	find(k1, "", "ConfigMap", &r);
	char *ns = uniq("it-twin");
	make_ns(k1, ns);
	make_ns(k2, ns);
	for (int i = 1; i <= 2; i++) {
		astra__kube *k = i == 1 ? k1 : k2;
		astra__json *o =
		        J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		          "\"metadata\":{\"name\":\"twin\"},\"data\":{"
		          "\"cluster\":\"%d\"}}",
		                i);
		cr_assert_astra_ok(
		        astra__kube_create(k, &r, ns, o, NULL, NULL));
		astra__json_free(o);
	}
	for (int i = 1; i <= 2; i++) {
		astra__json *got;
		cr_assert_astra_ok(astra__kube_get(
		        i == 1 ? k1 : k2, &r, ns, "twin", &got));
		char want[4];
		snprintf(want, sizeof(want), "%d", i);
		cr_assert_str_eq(data_of(got, "cluster"), want);
		astra__json_free(got);
	}

	/* the public handles, used from two threads at once */
	astra_cluster_options o1 = ASTRA_CLUSTER_OPTIONS_INIT,
	                      o2 = ASTRA_CLUSTER_OPTIONS_INIT;
	o1.kubeconfig = env("ASTRA_TB_KUBECONFIG");
	o2.kubeconfig = env("ASTRA_IT_KUBECONFIG2");
	ns_job j1 = { 0 }, j2 = { 0 };
	cr_assert_astra_ok(astra_cluster_open(&j1.c, &o1));
	cr_assert_astra_ok(astra_cluster_open(&j2.c, &o2));
	cr_assert_str_neq(astra_cluster_context_name(j1.c),
	        astra_cluster_context_name(j2.c));
	pthread_t t1, t2;
	pthread_create(&t1, NULL, list_ns_many, &j1);
	pthread_create(&t2, NULL, list_ns_many, &j2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	cr_assert_eq(j1.rc, 0, "%s", j1.msg);
	cr_assert_eq(j2.rc, 0, "%s", j2.msg);
	astra_cluster_free(j1.c);
	astra_cluster_free(j2.c);
	astra__kube_resource_clear(&r);
	astra__kube_free(k1);
	astra__kube_free(k2);
}
