/*
 * Applications on a real test-bed cluster (kube-apiserver, etcd,
 * controller-manager, CSI; helm from tests/testbed). Run through
 * tests/integration/app/run.sh, which exports KUBECONFIG and ASTRA_TB_*.
 * Every test works in namespaces of its own, so tests run in parallel.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astra.h"
#include "astra_test.h"
#include "it_helpers.h"
#include "core/clock.h"
#include "fmt/json.h"

static char rid[16];

static void suite_init(void)
{
	cr_assert(astra_init() > 0);
	cr_assert(getenv("KUBECONFIG"),
	        "run through tests/integration/app/run.sh");
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
}

static void suite_fini(void)
{
	astra_shutdown();
}

TestSuite(app_it, .init = suite_init, .fini = suite_fini, .timeout = 180);

/* Runs a shell command (kubectl, helm); fails the test on error. */
static void name(char *out, size_t n, const char *base)
{
	snprintf(out, n, "%s-%s", base, rid);
}

static void make_ns_objects(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-cfg, namespace: %s, labels: {tier: web}}\ndata: {a: '1'}\n"
	   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-cfg, namespace: %s, labels: {tier: db}}\ndata: {b: '2'}\n"
	   "---\napiVersion: v1\nkind: Secret\nmetadata: {name: db-pass, namespace: %s, labels: {tier: db}}\nstringData: {p: x}\n"
	   "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: db-data, namespace: %s, labels: {tier: db}}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: %s}\n"
	   "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: %s, labels: {tier: web}}\n"
	   "spec: {selector: {tier: web}, ports: [{port: 80}]}\n"
	   "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web-sa, namespace: %s, labels: {tier: web}}\n"
	   "EOF",
	        ns, ns, ns, ns, getenv("ASTRA_TB_STORAGECLASS"), ns, ns);
}

/* The resources JSON of an app. */
static astra__json *resources(astra_app *app)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_app_resources(app, &b));
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "resources"));
	astra_buf_dispose(&b);
	return j;
}

static int has(const astra__json *res, const char *kind, const char *ns,
        const char *nm)
{
	const astra__json *arr = astra__json_get(res, "resources");
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const astra__json *e = astra__json_at(arr, i);
		const char *k = astra__json_str(e, "kind");
		const char *n = astra__json_str(e, "name");
		const char *s = astra__json_str(e, "namespace");
		if (!strcmp(k, kind) && !strcmp(n, nm) &&
		        ((!ns && !s) || (ns && s && !strcmp(ns, s))))
			return 1;
	}
	return 0;
}

static size_t count_in(const astra__json *res, const char *ns)
{
	const astra__json *arr = astra__json_get(res, "resources");
	size_t n = 0;
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const char *s =
		        astra__json_str(astra__json_at(arr, i), "namespace");
		n += s && !strcmp(s, ns);
	}
	return n;
}

/* Objects of namespace ns the restore creates itself (not through their
 * owner). */
static size_t count_restored_in(const astra__json *res, const char *ns)
{
	const astra__json *arr = astra__json_get(res, "resources");
	size_t n = 0;
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const astra__json *e = astra__json_at(arr, i);
		const char *s = astra__json_str(e, "namespace");
		n += s && !strcmp(s, ns) &&
		     strcmp(astra__json_str(e, "restore"), "owner");
	}
	return n;
}

static astra_app *define(astra_cluster *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static astra_app *define(astra_cluster *c, const char *fmt, ...)
{
	char json[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, json, 0));
	return a;
}

Test(app_it, whole_namespace_app_captures_everything_and_its_dependencies)
{
	char ns[64], app[64];
	name(ns, sizeof(ns), "whole");
	name(app, sizeof(app), "whole");
	make_ns_objects(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra__json *r = resources(a);
	cr_assert(has(r, "ConfigMap", ns, "web-cfg"));
	cr_assert(has(r, "ConfigMap", ns, "db-cfg"));
	cr_assert(has(r, "Secret", ns, "db-pass"));
	cr_assert(has(r, "PersistentVolumeClaim", ns, "db-data"));
	cr_assert(has(r, "Service", ns, "web"));
	cr_assert(has(r, "ServiceAccount", ns, "web-sa"));
	cr_assert(has(r, "Namespace", NULL, ns));
	cr_assert(
	        has(r, "StorageClass", NULL, getenv("ASTRA_TB_STORAGECLASS")));
	/* skipped by rule: the root CA ConfigMap, the default SA */
	cr_assert(!has(r, "ConfigMap", ns, "kube-root-ca.crt"));
	cr_assert(!has(r, "ServiceAccount", ns, "default"));
	/* the bound PV of the PVC comes along */
	const astra__json *arr = astra__json_get(r, "resources");
	int pv = 0;
	for (size_t i = 0; i < astra__json_size(arr); i++)
		pv |= !strcmp(astra__json_str(astra__json_at(arr, i), "kind"),
		        "PersistentVolume");
	cr_assert(pv, "the PV bound to the PVC is missing");
	astra__json_free(r);
	astra_app_free(a);
	cr_assert_astra_ok(astra_app_remove(c, app));
	/* removing the app never touches its resources */
	sh("kubectl -n %s get configmap web-cfg >/dev/null", ns);
	astra_cluster_free(c);
}

Test(app_it, label_selected_apps_sharing_a_namespace_capture_only_their_own)
{
	char ns[64], web[64], db[64];
	name(ns, sizeof(ns), "shared");
	name(web, sizeof(web), "web");
	name(db, sizeof(db), "db");
	make_ns_objects(ns);
	astra_cluster *c = cluster();
	astra_app *w = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\",\"selector\":\"tier=web\"}]}",
	        web, ns);
	astra_app *d = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\",\"selector\":\"tier in (db)\"}]}",
	        db, ns);
	astra__json *rw = resources(w), *rd = resources(d);
	cr_assert(has(rw, "ConfigMap", ns, "web-cfg"));
	cr_assert(has(rw, "Service", ns, "web"));
	cr_assert(!has(rw, "ConfigMap", ns, "db-cfg"));
	cr_assert(!has(rw, "Secret", ns, "db-pass"));
	cr_assert(has(rd, "ConfigMap", ns, "db-cfg"));
	cr_assert(has(rd, "Secret", ns, "db-pass"));
	cr_assert(has(rd, "PersistentVolumeClaim", ns, "db-data"));
	cr_assert(!has(rd, "ConfigMap", ns, "web-cfg"));
	cr_assert_eq(
	        count_in(rw, ns), 3, "web app: %zu objects", count_in(rw, ns));
	cr_assert_eq(
	        count_in(rd, ns), 3, "db app: %zu objects", count_in(rd, ns));
	cr_assert_eq(astra__json_size(astra__json_get(rw, "warnings")), 0);
	astra__json_free(rw);
	astra__json_free(rd);
	/* a third app claiming the whole namespace: warnings name both */
	char all[64];
	name(all, sizeof(all), "all");
	astra_app *x = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", all,
	        ns);
	astra__json *rx = resources(x);
	const astra__json *warns = astra__json_get(rx, "warnings");
	cr_assert_geq(astra__json_size(warns), 2);
	int named = 0;
	for (size_t i = 0; i < astra__json_size(warns); i++) {
		const char *m =
		        astra__json_string_value(astra__json_at(warns, i));
		named |= strstr(m, all) && strstr(m, web);
	}
	cr_assert(named, "no warning names both apps");
	astra__json_free(rx);
	astra_app_free(w);
	astra_app_free(d);
	astra_app_free(x);
	astra_cluster_free(c);
}

Test(app_it, two_namespace_app)
{
	char n1[64], n2[64], app[64];
	name(n1, sizeof(n1), "two-a");
	name(n2, sizeof(n2), "two-b");
	name(app, sizeof(app), "two");
	make_ns_objects(n1);
	make_ns_objects(n2);
	/* an app over two namespaces is defined in the control namespace
	 * (docs/apps.md, "Tenancy") */
	sh("kubectl create namespace astra-system >/dev/null 2>&1 || true");
	astra_cluster *c = cluster();
	astra_app *a = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"},{\"name\":\"%s\",\"selector\":\"tier=db\"}]}",
	        app, n1, n2);
	char cmname[128];
	snprintf(cmname, sizeof(cmname), "astra-app-%s", app);
	sh("kubectl -n astra-system get configmap %s >/dev/null", cmname);
	astra__json *r = resources(a);
	cr_assert(has(r, "ConfigMap", n1, "web-cfg"));
	cr_assert(has(r, "ConfigMap", n2, "db-cfg"));
	cr_assert(!has(r, "ConfigMap", n2, "web-cfg"));
	cr_assert(has(r, "Namespace", NULL, n1));
	cr_assert(has(r, "Namespace", NULL, n2));
	astra__json_free(r);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(app_it, helm_release_app_captures_exactly_the_charts_resources)
{
	char ns[64], app[64];
	name(ns, sizeof(ns), "helm");
	name(app, sizeof(app), "helm");
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("helm install shop %s/tests/fixtures/charts/shop -n %s --set storageClass=%s >/dev/null",
	        ASTRA_TEST_SOURCE_DIR, ns, getenv("ASTRA_TB_STORAGECLASS"));
	/* an upgrade makes a second revision: the deployed one counts */
	sh("helm upgrade shop %s/tests/fixtures/charts/shop -n %s --set storageClass=%s --set message=v2 >/dev/null",
	        ASTRA_TEST_SOURCE_DIR, ns, getenv("ASTRA_TB_STORAGECLASS"));
	sh("kubectl -n %s create configmap not-in-chart --from-literal=x=1 >/dev/null",
	        ns);
	/* what the release's workloads create carries its labels */
	sh("kubectl -n %s create configmap made-at-run-time --from-literal=x=1 >/dev/null && "
	   "kubectl -n %s label configmap made-at-run-time app.kubernetes.io/instance=shop >/dev/null",
	        ns, ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c,
	        "{\"name\":\"%s\",\"helm\":{\"release\":\"shop\",\"namespace\":\"%s\"}}",
	        app, ns);
	astra__json *r = resources(a);
	cr_assert(has(r, "ConfigMap", ns, "shop-config"));
	cr_assert(has(r, "Secret", ns, "shop-secret"));
	cr_assert(has(r, "Service", ns, "shop-web"));
	cr_assert(has(r, "Deployment", ns, "shop-web"));
	cr_assert(has(r, "PersistentVolumeClaim", ns, "shop-data"));
	cr_assert(has(r, "Secret", ns, "sh.helm.release.v1.shop.v1"));
	cr_assert(has(r, "Secret", ns, "sh.helm.release.v1.shop.v2"));
	cr_assert(!has(r, "ConfigMap", ns, "not-in-chart"));
	cr_assert(has(r, "ConfigMap", ns, "made-at-run-time"));
	/* 5 chart objects + 2 release revisions + 1 labelled; the
	 * Deployment's ReplicaSets and Pods come along, restored through it */
	cr_assert_eq(count_restored_in(r, ns), 8,
	        "%zu objects in the namespace", count_restored_in(r, ns));
	astra__json_free(r);
	astra_app_free(a);
	/* a release that does not exist */
	char bad[256];
	snprintf(bad, sizeof(bad),
	        "{\"name\":\"%s-x\",\"helm\":{\"release\":\"nope\",\"namespace\":\"%s\"}}",
	        app, ns);
	cr_assert_astra_fail(
	        astra_app_define(NULL, c, bad, 0), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "nope"));
	astra_cluster_free(c);
}

Test(app_it, custom_resources_bring_their_crd)
{
	char ns[64], app[64], group[64];
	name(ns, sizeof(ns), "crd");
	name(app, sizeof(app), "crd");
	snprintf(group, sizeof(group), "g%s.example.com", rid);
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
	   "metadata: {name: widgets.%s}\n"
	   "spec:\n  group: %s\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n"
	   "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]\n"
	   "EOF",
	        group, group);
	sh("kubectl wait --for condition=established crd/widgets.%s --timeout=60s >/dev/null",
	        group);
	/* discovery may lag: retry creating the object */
	sh("for i in $(seq 1 30); do kubectl apply -f - >/dev/null 2>&1 <<'EOF' && exit 0; sleep 1; done; exit 1\n"
	   "apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nspec: {size: 3}\n"
	   "EOF",
	        group, ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra__json *r = resources(a);
	cr_assert(has(r, "Widget", ns, "w1"), "the custom resource is missing");
	char crd[128];
	snprintf(crd, sizeof(crd), "widgets.%s", group);
	cr_assert(has(r, "CustomResourceDefinition", NULL, crd),
	        "its CRD was not included");
	astra__json_free(r);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(app_it, managed_and_unmanaged_listing_and_persistence)
{
	char ns1[64], ns2[64], app[64];
	name(ns1, sizeof(ns1), "mgd");
	name(ns2, sizeof(ns2), "free");
	name(app, sizeof(app), "listed");
	sh("kubectl create namespace %s >/dev/null && kubectl create namespace %s >/dev/null",
	        ns1, ns2);
	astra_cluster *c = cluster();
	astra_app *a = define(c,
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns1);
	astra_app_free(a);
	astra_cluster_free(c);
	/* a new connection (as another process would) sees the definition */
	c = cluster();
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_app_list(c, &b));
	cr_assert(strstr(b.ptr, app), "app missing from the list");
	astra_buf_dispose(&b);
	cr_assert_astra_ok(astra_app_list_unmanaged(c, &b));
	cr_assert(strstr(b.ptr, ns2), "unmanaged namespace missing");
	cr_assert(!strstr(b.ptr, ns1),
	        "a managed namespace is listed as unmanaged");
	cr_assert(!strstr(b.ptr, "kube-system"),
	        "system namespaces are not apps");
	astra_buf_dispose(&b);
	cr_assert_astra_ok(astra_app_get(&a, c, app));
	cr_assert_str_eq(astra_app_name(a), app);
	astra_app_free(a);
	/* redefining needs ASTRA_APP_F_UPDATE */
	char json[512];
	snprintf(json, sizeof(json),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns2);
	cr_assert_astra_fail(astra_app_define(NULL, c, json, 0), ASTRA_EEXISTS);
	cr_assert_astra_ok(astra_app_define(NULL, c, json, ASTRA_APP_F_UPDATE));
	cr_assert_astra_ok(astra_app_list_unmanaged(c, &b));
	cr_assert(strstr(b.ptr, ns1), "the old namespace is unmanaged again");
	astra_buf_dispose(&b);
	cr_assert_astra_ok(astra_app_remove(c, app));
	cr_assert_astra_fail(astra_app_get(&a, c, app), ASTRA_ENOTFOUND);
	astra_cluster_free(c);
}

Test(app_it, bad_definitions_are_refused_with_clear_errors)
{
	astra_cluster *c = cluster();
	char ns[64];
	name(ns, sizeof(ns), "bad");
	sh("kubectl create namespace %s >/dev/null", ns);
	char json[512];
	snprintf(json, sizeof(json),
	        "{\"name\":\"bad-%s\",\"namespaces\":[{\"name\":\"%s\",\"selector\":\"tier in (web\"}]}",
	        rid, ns);
	cr_assert_astra_fail(
	        astra_app_define(NULL, c, json, 0), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "selector"), "%s",
	        astra_error_last()->message);
	snprintf(json, sizeof(json),
	        "{\"name\":\"bad-%s\",\"namespaces\":[{\"name\":\"missing-%s\"}]}",
	        rid, rid);
	cr_assert_astra_fail(
	        astra_app_define(NULL, c, json, 0), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "does not exist"));
	cr_assert_astra_fail(
	        astra_app_define(NULL, c,
	                "{\"name\":\"Bad_Name\",\"namespaces\":[{\"name\":\"x\"}]}",
	                0),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(astra_app_define(NULL, c, "{\"name\":\"x\"}", 0),
	        ASTRA_EINVALID);
	cr_assert_astra_fail(
	        astra_app_define(NULL, c, "not json", 0), ASTRA_EPARSE);
	snprintf(json, sizeof(json),
	        "{\"name\":\"bad-%s\",\"namespaces\":[{\"name\":\"%s\"}],\"colour\":1}",
	        rid, ns);
	cr_assert_astra_fail(
	        astra_app_define(NULL, c, json, 0), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "colour"));
	astra_cluster_free(c);
}
