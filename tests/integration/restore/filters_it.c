/*
 * Restore filters (issue 19): include and exclude by GROUP/KIND[/NAMESPACE
 * [/NAME]] and by label selector, through the library and through
 * astractl, each checked by what exists in the target namespace afterwards.
 */
#include "rit.h"
#include "fmt/json.h"

TestSuite(filters_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

/* The ConfigMaps and Secrets of ns (their "kind/name", sorted, one line). */
static void flt_objects(char *out, size_t n, const char *ns)
{
	capture(out, n,
	        "kubectl -n %s get configmaps,secrets -o name | grep -v -e kube-root-ca -e astra-app- | sort | tr '\\n' ' '",
	        ns);
}

/* Restores backup `bk` mapped src=dst with the filters given; returns the
 * status. */
static int flt_restore(astra_cluster *c, astra_vault *v, const char *bk,
        const char *src, const char *dst, const char *inc_sel,
        const char *exc_sel, const char *exclude)
{
	char map[160];
	snprintf(map, sizeof(map), "%s=%s", src, dst);
	const char *maps[] = { map };
	const char *excl[] = { exclude };
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = bk;
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	ro.include_selector = inc_sel;
	ro.exclude_selector = exc_sel;
	if (exclude) {
		ro.exclude = excl;
		ro.n_exclude = 1;
	}
	return astra_restore(c, v, &ro, NULL);
}

Test(filters_it, include_and_exclude_by_label_and_by_kind)
{
	char ns[64], app[64], to[64], out[4096], want[512];
	snprintf(ns, sizeof(ns), "fl-%s", rit_rid);
	snprintf(app, sizeof(app), "fl-%s", rit_rid);
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl -n %s create configmap front-cm --from-literal=k=1 >/dev/null && "
	   "kubectl -n %s label configmap front-cm tier=front >/dev/null",
	        ns, ns);
	sh("kubectl -n %s create configmap back-cm --from-literal=k=2 >/dev/null && "
	   "kubectl -n %s label configmap back-cm tier=back >/dev/null",
	        ns, ns);
	sh("kubectl -n %s create secret generic front-secret --from-literal=k=3 >/dev/null && "
	   "kubectl -n %s label secret front-secret tier=front >/dev/null",
	        ns, ns);
	sh("kubectl -n %s create configmap plain-cm --from-literal=k=4 >/dev/null",
	        ns);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, app, ns);
	astra_vault *v = rit_vault("filters");
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "fl";
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, NULL));
	astra_app_free(a);

	/* include by label: only the front tier */
	snprintf(to, sizeof(to), "fl-inc-%s", rit_rid);
	cr_assert_astra_ok(
	        flt_restore(c, v, "fl", ns, to, "tier=front", NULL, NULL));
	flt_objects(out, sizeof(out), to);
	cr_assert_str_eq(out, "configmap/front-cm secret/front-secret ");

	/* exclude by label: everything but the front tier */
	snprintf(to, sizeof(to), "fl-exc-%s", rit_rid);
	cr_assert_astra_ok(
	        flt_restore(c, v, "fl", ns, to, NULL, "tier=front", NULL));
	flt_objects(out, sizeof(out), to);
	cr_assert_str_eq(out, "configmap/back-cm configmap/plain-cm ");

	/* exclude a kind, with a set-based include selector */
	snprintf(to, sizeof(to), "fl-kind-%s", rit_rid);
	cr_assert_astra_ok(flt_restore(c, v, "fl", ns, to,
	        "tier in (front,back)", NULL, "core/Secret"));
	flt_objects(out, sizeof(out), to);
	cr_assert_str_eq(out, "configmap/back-cm configmap/front-cm ");

	/* a bad selector is refused before anything is created, naming it */
	snprintf(to, sizeof(to), "fl-bad-%s", rit_rid);
	cr_assert_eq(
	        flt_restore(c, v, "fl", ns, to, "tier in (front", NULL, NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "include selector"), "%s",
	        astra_error_last()->message);
	capture(out, sizeof(out),
	        "kubectl get namespace %s -o name 2>/dev/null", to);
	cr_assert_str_eq(out, "");

	/* astractl: the same filters as flags */
	snprintf(to, sizeof(to), "fl-cli-%s", rit_rid);
	char vurl[600];
	snprintf(vurl, sizeof(vurl), "file://%s/vault-filters-%s",
	        getenv("TMPDIR"), rit_rid);
	capture(out, sizeof(out),
	        "ASTRA_VAULT_PASSWORD=integration \"$ASTRA_IT_ASTRACTL\" --vault %s "
	        "restore --backup fl --namespace-map %s=%s --include-selector "
	        "'tier!=front' --exclude core/ConfigMap/%s/plain-cm "
	        ">/dev/null 2>&1; echo $?",
	        vurl, ns, to, ns);
	cr_assert_str_eq(out, "0", "astractl restore exited %s", out);
	flt_objects(out, sizeof(out), to);
	snprintf(want, sizeof(want), "configmap/back-cm ");
	cr_assert_str_eq(out, want);
	astra_vault_free(v);
	astra_cluster_free(c);
}
