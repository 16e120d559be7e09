/*
 * Cluster-scoped objects and bindings on restore (issue 20): ClusterRoles
 * and ClusterRoleBindings are collected (through a captured
 * ServiceAccount and through the definition's clusterResources), restored
 * only with the cluster_resources opt-in (else reported "skipped" with the
 * reason), and no binding ever gains subjects: a RoleBinding's
 * ServiceAccount follows its namespace's mapping, a ClusterRoleBinding
 * keeps its subjects exactly.
 */
#include "rit.h"
#include "fmt/json.h"

TestSuite(cluster_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static astra__json *cl_parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "test"));
	return j;
}

static const astra__json *cl_find(const astra__json *arr, const char *kind,
        const char *ns, const char *name)
{
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const astra__json *e = astra__json_at(arr, i);
		const char *k = astra__json_str(e, "kind");
		const char *n = astra__json_str(e, "name");
		const char *s = astra__json_str(e, "namespace");
		if (k && n && !strcmp(k, kind) && !strcmp(n, name) &&
		        ((!ns && !s) || (ns && s && !strcmp(s, ns))))
			return e;
	}
	return NULL;
}

/* Restores backup `bk` with namespace map src=dst; the report, parsed. */
static astra__json *cl_restore(astra_cluster *c, astra_vault *v, const char *bk,
        const char *src, const char *dst, int cluster_res)
{
	char map[160];
	snprintf(map, sizeof(map), "%s=%s", src, dst);
	const char *maps[] = { map };
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = bk;
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	ro.cluster_resources = cluster_res;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &b));
	astra__json *rep = cl_parse(&b);
	astra_buf_dispose(&b);
	cr_assert_eq(astra__json_int(rep, "failed", -1), 0);
	return rep;
}

Test(cluster_it,
        cluster_scoped_objects_need_the_opt_in_and_bindings_never_widen)
{
	char ns[64], ns2[64], ns3[64], app[64], role[64], extra[64], crb[64];
	snprintf(ns, sizeof(ns), "cl-%s", rit_rid);
	snprintf(ns2, sizeof(ns2), "cl2-%s", rit_rid);
	snprintf(ns3, sizeof(ns3), "cl3-%s", rit_rid);
	snprintf(app, sizeof(app), "cl-%s", rit_rid);
	snprintf(role, sizeof(role), "cl-reader-%s", rit_rid);
	snprintf(extra, sizeof(extra), "cl-extra-%s", rit_rid);
	snprintf(crb, sizeof(crb), "cl-bind-%s", rit_rid);
	/* an app naming cluster resources is defined in the control
	 * namespace (docs/apps.md, "Tenancy"), which an admin makes */
	sh("kubectl create namespace astra-system >/dev/null 2>&1 || true");
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl -n %s create serviceaccount runner >/dev/null", ns);
	sh("kubectl create clusterrole %s --verb=get --resource=configmaps >/dev/null",
	        role);
	sh("kubectl create clusterrole %s --verb=list --resource=secrets >/dev/null",
	        extra);
	sh("kubectl label clusterrole %s cl-test=%s >/dev/null", extra,
	        rit_rid);
	sh("kubectl create clusterrolebinding %s --clusterrole=%s --serviceaccount=%s:runner >/dev/null",
	        crb, role, ns);
	/* a RoleBinding with a ServiceAccount of the namespace and a user */
	sh("kubectl -n %s create rolebinding rb --clusterrole=%s --serviceaccount=%s:runner --user=alice >/dev/null",
	        ns, role, ns);
	astra_cluster *c = cluster();
	char def[512];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}],"
	        "\"clusterResources\":[{\"group\":\"rbac.authorization.k8s.io\","
	        "\"version\":\"v1\",\"kind\":\"ClusterRole\","
	        "\"selector\":\"cl-test=%s\"}]}",
	        app, ns, rit_rid);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	/* collection: the binding of the captured ServiceAccount, its role,
	 * and the clusterResources */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_app_resources(a, &b));
	astra__json *res = cl_parse(&b);
	astra_buf_dispose(&b);
	const astra__json *e = cl_find(astra__json_get(res, "resources"),
	        "ClusterRoleBinding", NULL, crb);
	cr_assert(e, "ClusterRoleBinding %s not collected", crb);
	cr_assert_str_eq(astra__json_str(e, "reason"), "rbac");
	e = cl_find(
	        astra__json_get(res, "resources"), "ClusterRole", NULL, role);
	cr_assert(e, "ClusterRole %s not collected", role);
	e = cl_find(
	        astra__json_get(res, "resources"), "ClusterRole", NULL, extra);
	cr_assert(e, "clusterResources ClusterRole %s not collected", extra);
	cr_assert_str_eq(astra__json_str(e, "reason"), "cluster-resource");
	astra__json_free(res);

	astra_vault *v = rit_vault("cluster");
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "cl";
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, NULL));
	astra_app_free(a);
	/* the cluster-scoped objects go away */
	sh("kubectl delete clusterrolebinding %s >/dev/null", crb);
	sh("kubectl delete clusterrole %s %s >/dev/null", role, extra);

	/* without the opt-in: skipped with the reason, nothing created */
	astra__json *rep = cl_restore(c, v, "cl", ns, ns2, 0);
	const astra__json *items = astra__json_get(rep, "items");
	const char *names[][2] = { { "ClusterRoleBinding", crb },
		{ "ClusterRole", role }, { "ClusterRole", extra } };
	for (int i = 0; i < 3; i++) {
		e = cl_find(items, names[i][0], NULL, names[i][1]);
		cr_assert(
		        e, "%s %s not in the report", names[i][0], names[i][1]);
		cr_assert_str_eq(astra__json_str(e, "result"), "skipped");
		cr_assert(
		        strstr(astra__json_str(e, "reason"), "cluster-scoped"),
		        "reason: %s", astra__json_str(e, "reason"));
	}
	astra__json_free(rep);
	char out[4096];
	capture(out, sizeof(out),
	        "kubectl get clusterrole %s clusterrolebinding/%s -o name 2>/dev/null",
	        role, crb);
	cr_assert_str_eq(out, "", "created without the opt-in: %s", out);
	/* the RoleBinding: its ServiceAccount follows the mapping, the user
	 * stays, nothing is added */
	capture(out, sizeof(out),
	        "kubectl -n %s get rolebinding rb -o jsonpath='{range .subjects[*]}{.kind}:{.namespace}:{.name};{end}'",
	        ns2);
	char want[256];
	snprintf(want, sizeof(want), "User::alice;ServiceAccount:%s:runner;",
	        ns2);
	cr_assert_str_eq(out, want);

	/* with the opt-in: created, the ClusterRoleBinding's subjects exactly
	 * as they were (not the target namespace's account) */
	rep = cl_restore(c, v, "cl", ns, ns3, 1);
	items = astra__json_get(rep, "items");
	for (int i = 0; i < 3; i++) {
		e = cl_find(items, names[i][0], NULL, names[i][1]);
		cr_assert(e);
		cr_assert_str_eq(astra__json_str(e, "result"), "created",
		        "%s %s: %s", names[i][0], names[i][1],
		        astra__json_str(e, "reason"));
	}
	astra__json_free(rep);
	capture(out, sizeof(out),
	        "kubectl get clusterrolebinding %s -o jsonpath='{range .subjects[*]}{.kind}:{.namespace}:{.name};{end}'",
	        crb);
	snprintf(want, sizeof(want), "ServiceAccount:%s:runner;", ns);
	cr_assert_str_eq(out, want, "ClusterRoleBinding subjects changed");
	capture(out, sizeof(out), "kubectl get clusterrole %s -o name", extra);
	cr_assert_str_neq(out, "");
	sh("kubectl delete clusterrolebinding %s >/dev/null", crb);
	sh("kubectl delete clusterrole %s %s >/dev/null", role, extra);
	astra_vault_free(v);
	astra_cluster_free(c);
}
