/*
 * Records of the library on restore and clone (issue 19): policy, hook and
 * app definition records are never copied as the app's objects (a copy
 * labelled with the source app would make the scheduler see its policies
 * twice); the restored or cloned app is defined under its own name with
 * the source app's hooks.
 */
#include "rit.h"
#include "fmt/json.h"

TestSuite(records_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static astra__json *rec_parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "test"));
	return j;
}

/* Fails when namespace ns holds a ConfigMap with label `label` (any
 * value). */
static void rec_none(const char *ns, const char *label)
{
	char out[4096];
	capture(out, sizeof(out), "kubectl -n %s get configmaps -l %s -o name",
	        ns, label);
	cr_assert_str_eq(out, "", "namespace %s holds %s: %s", ns, label, out);
}

/* The names of app `app`'s policies, ";"-separated, into out. */
static void rec_policies(astra_cluster *c, const char *app, char *out, size_t n)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_policy_list(c, app, &b));
	astra__json *pols = rec_parse(&b);
	astra_buf_dispose(&b);
	out[0] = 0;
	for (size_t i = 0; i < astra__json_size(pols); i++) {
		const astra__json *p = astra__json_at(pols, i);
		snprintf(out + strlen(out), n - strlen(out), "%s:%s:%d;",
		        astra__json_str(p, "name"),
		        astra__json_str(p, "granularity"),
		        (int)astra__json_int(p, "hour", -1));
	}
	astra__json_free(pols);
}

/* The names of app `app`'s hooks, ";"-separated, into out. */
static void rec_hooks(astra_cluster *c, const char *app, char *out, size_t n)
{
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_get(&a, c, app));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_hook_list(a, &b));
	astra__json *hooks = rec_parse(&b);
	astra_buf_dispose(&b);
	out[0] = 0;
	for (size_t i = 0; i < astra__json_size(hooks); i++) {
		const astra__json *h = astra__json_at(hooks, i);
		snprintf(out + strlen(out), n - strlen(out), "%s:%s;",
		        astra__json_str(h, "name"),
		        astra__json_str(h, "stage"));
	}
	astra__json_free(hooks);
	astra_app_free(a);
}

Test(records_it, records_are_not_restored_and_the_new_app_gets_the_hooks)
{
	char ns[64], ns2[64], ns3[64], app[64], out[4096];
	snprintf(ns, sizeof(ns), "rc-%s", rit_rid);
	snprintf(ns2, sizeof(ns2), "rc2-%s", rit_rid);
	snprintf(ns3, sizeof(ns3), "rc3-%s", rit_rid);
	snprintf(app, sizeof(app), "rc-%s", rit_rid);
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl -n %s create configmap settings --from-literal=k=v >/dev/null",
	        ns);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, app, ns);
	astra_hook_options ho;
	astra_hook_options_init(&ho, ASTRA_HOOK_OPTIONS_VERSION);
	ho.stage = "post-backup";
	ho.script = "echo restored";
	ho.pod_regex = "^none$"; /* no pod: it runs nowhere */
	cr_assert_astra_ok(astra_hook_create(a, "warm", &ho, 0));
	astra_policy_options po;
	astra_policy_options_init(&po, ASTRA_POLICY_OPTIONS_VERSION);
	po.name = "nightly";
	po.granularity = ASTRA_POLICY_DAILY;
	po.hour = 2;
	po.snapshot_retention = 1;
	cr_assert_astra_ok(astra_policy_set(c, app, &po));
	/* the source namespace holds all three kinds of records */
	capture(out, sizeof(out),
	        "kubectl -n %s get configmaps -l policies.astra.dev/policy -o name",
	        ns);
	cr_assert_str_neq(out, "", "the policy record is not in %s", ns);

	astra_vault *v = rit_vault("records");
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "rc";
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, NULL));

	/* restore into a new namespace: no record of the source app comes
	 * along; the restored app is defined with the source's hooks */
	char map[160], newapp[128];
	snprintf(map, sizeof(map), "%s=%s", ns, ns2);
	snprintf(newapp, sizeof(newapp), "%s-restored", app);
	const char *maps[] = { map };
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "rc";
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	ro.app_name = newapp;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &b));
	astra__json *rep = rec_parse(&b);
	astra_buf_dispose(&b);
	cr_assert_eq(astra__json_int(rep, "failed", -1), 0);
	const astra__json *ra = astra__json_get(rep, "app");
	cr_assert(ra, "the report names no restored app");
	cr_assert_str_eq(astra__json_str(ra, "name"), newapp);
	astra__json_free(rep);
	capture(out, sizeof(out),
	        "kubectl -n %s get configmap settings -o name", ns2);
	cr_assert_str_eq(out, "configmap/settings");
	rec_none(ns2, "policies.astra.dev/policy");
	{
		char lbl[128];
		snprintf(lbl, sizeof(lbl), "hooks.astra.dev/app=%s", app);
		rec_none(ns2, lbl);
	}
	capture(out, sizeof(out),
	        "kubectl -n %s get configmaps -l apps.astra.dev/definition -o jsonpath='{range .items[*]}{.metadata.labels.apps\\.astra\\.dev/name};{end}'",
	        ns2);
	char want[256];
	snprintf(want, sizeof(want), "%s;", newapp);
	cr_assert_str_eq(out, want, "app definitions in %s", ns2);
	rec_hooks(c, newapp, out, sizeof(out));
	cr_assert_str_eq(out, "warm:post-backup;");
	/* the restored app covers the new namespace */
	astra_app *na = NULL;
	cr_assert_astra_ok(astra_app_get(&na, c, newapp));
	cr_assert_astra_ok(astra_app_definition(na, &b));
	snprintf(want, sizeof(want), "\"%s\"", ns2);
	cr_assert(strstr(b.ptr, want), "definition: %s", b.ptr);
	astra_buf_dispose(&b);
	astra_app_free(na);
	rec_policies(c, newapp, out, sizeof(out));
	cr_assert_str_eq(out, "", "policies came without being asked for");
	/* a rerun of the same restore keeps that app (and now asks for the
	 * policies); the same name over another namespace is refused, after
	 * the objects were restored */
	ro.with_policies = 1;
	cr_assert_astra_ok(astra_restore(c, v, &ro, NULL));
	rec_policies(c, newapp, out, sizeof(out));
	cr_assert_str_eq(out, "nightly:daily:2;");
	char ns4[64];
	snprintf(ns4, sizeof(ns4), "rc4-%s", rit_rid);
	snprintf(map, sizeof(map), "%s=%s", ns, ns4);
	cr_assert_astra_fail(astra_restore(c, v, &ro, NULL), ASTRA_EEXISTS);
	cr_assert(strstr(astra_error_last()->message, newapp), "%s",
	        astra_error_last()->message);
	capture(out, sizeof(out),
	        "kubectl -n %s get configmap settings -o name", ns4);
	cr_assert_str_eq(out, "configmap/settings");

	/* a clone too */
	snprintf(map, sizeof(map), "%s=%s", ns, ns3);
	astra_clone_options co;
	astra_clone_options_init(&co, ASTRA_CLONE_OPTIONS_VERSION);
	co.namespace_map = maps;
	co.n_namespace_map = 1;
	co.from_backup = "rc";
	co.with_policies = 1;
	cr_assert_astra_ok(astra_app_clone(a, v, c, &co, NULL));
	{
		char lbl[160];
		snprintf(lbl, sizeof(lbl),
		        "policies.astra.dev/policy,apps.astra.dev/name=%s",
		        app);
		rec_none(ns3, lbl);
	}
	char clone[128];
	snprintf(clone, sizeof(clone), "%s-clone", app);
	rec_hooks(c, clone, out, sizeof(out));
	cr_assert_str_eq(out, "warm:post-backup;");
	rec_policies(c, clone, out, sizeof(out));
	cr_assert_str_eq(out, "nightly:daily:2;");
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}
