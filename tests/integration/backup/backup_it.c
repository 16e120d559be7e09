/*
 * Application backups into a file:// vault and restores, on a real
 * test-bed cluster. Run through tests/integration/backup/run.sh.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astra.h"
#include "astra_test.h"
#include "it_helpers.h"
#include "core/buf.h"
#include "core/clock.h"
#include "fmt/json.h"

static char rid[16];
static char vpath[512];

static void suite_init(void)
{
	cr_assert(astra_init() > 0);
	cr_assert(getenv("ASTRA_TB_CSI_VOLUMES"),
	        "run through tests/integration/backup/run.sh");
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
	snprintf(vpath, sizeof(vpath), "%s/{volumeHandle}",
	        getenv("ASTRA_TB_CSI_VOLUMES"));
}

static void suite_fini(void)
{
	astra_shutdown();
}

TestSuite(backup_it, .init = suite_init, .fini = suite_fini, .timeout = 300);

static astra_vault *vault(const char *tag)
{
	char url[600];
	snprintf(url, sizeof(url), "file://%s/vault-%s-%s", getenv("TMPDIR"),
	        tag, rid);
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "integration";
	o.kdf_log2n = 10;
	astra_vault *v = NULL;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

/* A small stateful app: two PVCs with known data, a Deployment, a
 * ConfigMap, a Secret and a Service. */
static void make_app(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: %s, labels: {app: shop}}\ndata: {mode: primary}\n"
	   "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: %s, labels: {app: shop}}\nstringData: {password: s3cret}\n"
	   "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: %s, labels: {app: shop}}\nspec: {selector: {app: shop}, ports: [{port: 80}]}\n"
	   "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: %s, labels: {app: shop}}\n"
	   "spec: {replicas: 1, selector: {matchLabels: {app: shop}}, template: {metadata: {labels: {app: shop}}, spec: {containers: [{name: c, image: busybox}]}}}\n"
	   "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: %s, labels: {app: shop}}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: %s}\n"
	   "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: wal, namespace: %s, labels: {app: shop}}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: %s}\n"
	   "EOF",
	        ns, ns, ns, ns, ns, getenv("ASTRA_TB_STORAGECLASS"), ns,
	        getenv("ASTRA_TB_STORAGECLASS"));
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound pvc --all --timeout=120s >/dev/null",
	        ns);
	for (int i = 0; i < 2; i++) {
		const char *pvc = i ? "wal" : "data";
		sh("pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
		   "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && d=\"$ASTRA_TB_CSI_VOLUMES/$h\" && "
		   "mkdir -p \"$d/sub\" && echo '%s of %s' > \"$d/sub/file.txt\" && head -c 300000 /dev/urandom > \"$d/blob.bin\" && "
		   "sha256sum \"$d/blob.bin\" | cut -c1-64 > \"$TMPDIR/%s-%s.sum\"",
		        ns, pvc, pvc, ns, ns, pvc);
	}
}

/* The restored PVC holds the original data. */
static void check_data(const char *src_ns, const char *ns, const char *pvc)
{
	char got[512], want[512], sum[128], wantsum[128];
	capture(got, sizeof(got),
	        "pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && cat \"$ASTRA_TB_CSI_VOLUMES/$h/sub/file.txt\"",
	        ns, pvc);
	snprintf(want, sizeof(want), "%s of %s", pvc, src_ns);
	cr_assert_str_eq(got, want, "PVC %s/%s", ns, pvc);
	capture(sum, sizeof(sum),
	        "pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && sha256sum \"$ASTRA_TB_CSI_VOLUMES/$h/blob.bin\" | cut -c1-64",
	        ns, pvc);
	capture(wantsum, sizeof(wantsum), "cat \"$TMPDIR/%s-%s.sum\"", src_ns,
	        pvc);
	cr_assert_str_eq(sum, wantsum, "PVC %s/%s: data differs", ns, pvc);
}

static astra_app *define(astra_cluster *c, const char *app, const char *ns)
{
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	return a;
}

static void backup(astra_app *a, astra_vault *v, const char *name)
{
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = name;
	o.volume_path = vpath;
	astra_buf rec = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_create(a, v, &o, &rec));
	cr_assert(strstr(rec.ptr, "\"completed\""));
	astra_buf_dispose(&rec);
}

static int restore(astra_cluster *c, astra_vault *v, const char *backup,
        const char *map, unsigned flags, const char *include,
        astra__json **report)
{
	astra_restore_options o;
	astra_restore_options_init(&o, ASTRA_RESTORE_OPTIONS_VERSION);
	o.backup = backup;
	const char *maps[1] = { map };
	if (map) {
		o.namespace_map = maps;
		o.n_namespace_map = 1;
	}
	const char *inc[2] = { include, NULL };
	if (include) {
		o.include = inc;
		o.n_include = 1;
	}
	o.flags = flags;
	o.volume_path = vpath;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_restore(c, v, &o, &b);
	if (report) {
		*report = NULL;
		if (b.ptr)
			astra__json_parse(report, b.ptr, b.size, "report");
	}
	astra_buf_dispose(&b);
	return rc;
}

static int count_result(const astra__json *rep, const char *result)
{
	return (int)astra__json_int(rep, result, -1);
}

Test(backup_it, back_up_delete_the_namespace_restore_it)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "round-%s", rid);
	snprintf(app, sizeof(app), "round-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("round");
	astra_app *a = define(c, app, ns);
	char before[4096];
	capture(before, sizeof(before),
	        "kubectl -n %s get configmap settings -o jsonpath='{.data}'; kubectl -n %s get secret creds -o jsonpath='{.data}'",
	        ns, ns);
	backup(a, v, "b1");
	/* the backup is listed from the vault alone */
	astra_buf list = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_list(v, NULL, &list));
	cr_assert(strstr(list.ptr, "\"b1\""));
	astra_buf_dispose(&list);
	/* no snapshot is left behind by a backup that took its own */
	char left[256];
	capture(left, sizeof(left),
	        "kubectl -n %s get volumesnapshots,volumegroupsnapshots -o name 2>/dev/null | wc -l",
	        ns);
	sh("for i in $(seq 1 60); do [ \"$(kubectl -n %s get volumesnapshots -o name | wc -l)\" = 0 ] && exit 0; sleep 1; done; exit 1",
	        ns);
	/* the disaster */
	sh("kubectl delete namespace %s --wait=true --timeout=120s >/dev/null",
	        ns);
	astra__json *rep = NULL;
	cr_assert_astra_ok(restore(c, v, "b1", NULL, 0, NULL, &rep));
	cr_assert_eq(count_result(rep, "failed"), 0);
	cr_assert_geq(count_result(rep, "created"), 7);
	astra__json_free(rep);
	char after[4096];
	capture(after, sizeof(after),
	        "kubectl -n %s get configmap settings -o jsonpath='{.data}'; kubectl -n %s get secret creds -o jsonpath='{.data}'",
	        ns, ns);
	cr_assert_str_eq(after, before, "objects differ after restore");
	sh("kubectl -n %s get deployment/web service/web >/dev/null", ns);
	check_data(ns, ns, "data");
	check_data(ns, ns, "wal");
	/* nothing readable about the Secret in the vault */
	sh("! grep -rqa 's3cret' \"$TMPDIR/vault-round-%s\"", rid);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(backup_it, restore_into_a_new_namespace_while_the_original_runs)
{
	char ns[64], app[64], dst[64], map[160];
	snprintf(ns, sizeof(ns), "orig-%s", rid);
	snprintf(app, sizeof(app), "orig-%s", rid);
	snprintf(dst, sizeof(dst), "copy-%s", rid);
	snprintf(map, sizeof(map), "%s=%s", ns, dst);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("copy");
	astra_app *a = define(c, app, ns);
	backup(a, v, "b1");
	astra__json *rep = NULL;
	cr_assert_astra_ok(restore(c, v, "b1", map, 0, NULL, &rep));
	cr_assert_eq(count_result(rep, "failed"), 0);
	astra__json_free(rep);
	check_data(ns, dst, "data");
	check_data(ns, dst, "wal");
	sh("kubectl -n %s get configmap settings >/dev/null && kubectl -n %s get configmap settings >/dev/null",
	        ns, dst);
	/* the service got a new cluster IP, not the original's */
	char ip1[64], ip2[64];
	capture(ip1, sizeof(ip1),
	        "kubectl -n %s get svc web -o jsonpath='{.spec.clusterIP}'",
	        ns);
	capture(ip2, sizeof(ip2),
	        "kubectl -n %s get svc web -o jsonpath='{.spec.clusterIP}'",
	        dst);
	cr_assert_str_neq(ip1, ip2);
	/* mapping a namespace to itself is refused before anything happens */
	char self[160];
	snprintf(self, sizeof(self), "%s=%s", ns, ns);
	cr_assert_astra_fail(
	        restore(c, v, "b1", self, 0, NULL, NULL), ASTRA_EINVALID);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(backup_it, in_place_restore_skips_or_replaces)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "inplace-%s", rid);
	snprintf(app, sizeof(app), "inplace-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("inplace");
	astra_app *a = define(c, app, ns);
	backup(a, v, "b1");
	sh("kubectl -n %s patch configmap settings --type merge -p '{\"data\":{\"mode\":\"changed\"}}' >/dev/null",
	        ns);
	sh("kubectl -n %s delete secret creds >/dev/null", ns);
	astra__json *rep = NULL;
	cr_assert_astra_ok(restore(c, v, "b1", NULL, 0, NULL, &rep));
	cr_assert_geq(count_result(rep, "skipped"), 3);
	cr_assert_eq(count_result(rep, "created"), 1,
	        "only the missing Secret is created");
	astra__json_free(rep);
	char mode[64];
	capture(mode, sizeof(mode),
	        "kubectl -n %s get configmap settings -o jsonpath='{.data.mode}'",
	        ns);
	cr_assert_str_eq(mode, "changed",
	        "an existing object was clobbered without replace");
	cr_assert_astra_ok(
	        restore(c, v, "b1", NULL, ASTRA_RESTORE_F_REPLACE, NULL, &rep));
	cr_assert_geq(count_result(rep, "replaced"), 1);
	astra__json_free(rep);
	capture(mode, sizeof(mode),
	        "kubectl -n %s get configmap settings -o jsonpath='{.data.mode}'",
	        ns);
	cr_assert_str_eq(mode, "primary");
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(backup_it, selective_restore_and_a_bad_object_does_not_stop_the_rest)
{
	char ns[64], app[64], dst[64], map[160], inc[200];
	snprintf(ns, sizeof(ns), "sel-%s", rid);
	snprintf(app, sizeof(app), "sel-%s", rid);
	snprintf(dst, sizeof(dst), "sel2-%s", rid);
	snprintf(map, sizeof(map), "%s=%s", ns, dst);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("sel");
	astra_app *a = define(c, app, ns);
	backup(a, v, "b1");
	/* one Deployment and its ConfigMap */
	astra_restore_options o;
	astra_restore_options_init(&o, ASTRA_RESTORE_OPTIONS_VERSION);
	o.backup = "b1";
	const char *maps[1] = { map };
	o.namespace_map = maps;
	o.n_namespace_map = 1;
	snprintf(inc, sizeof(inc), "apps/Deployment/%s/web", ns);
	char inc2[200];
	snprintf(inc2, sizeof(inc2), "core/ConfigMap/%s/settings", ns);
	const char *incs[2] = { inc, inc2 };
	o.include = incs;
	o.n_include = 2;
	o.volume_path = vpath;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &o, &b));
	astra_buf_dispose(&b);
	sh("kubectl -n %s get deployment/web configmap/settings >/dev/null",
	        dst);
	char n[64];
	capture(n, sizeof(n),
	        "kubectl -n %s get secrets,pvc,svc -o name | grep -v kube-root | wc -l",
	        dst);
	cr_assert_str_eq(n, "0", "more than the selection was restored");
	/* a quota that refuses Secrets: that one object fails, the rest is
	 * restored, and the report names it */
	char dst3[64], map3[160];
	snprintf(dst3, sizeof(dst3), "sel3-%s", rid);
	snprintf(map3, sizeof(map3), "%s=%s", ns, dst3);
	sh("kubectl create namespace %s >/dev/null && kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
	   "metadata: {name: deny-%s}\nspec:\n  failurePolicy: Fail\n"
	   "  matchConstraints: {resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [secrets]}]}\n"
	   "  validations: [{expression: \"object.metadata.name != 'creds'\", message: 'creds are refused here'}]\n"
	   "---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\n"
	   "metadata: {name: deny-%s}\nspec:\n  policyName: deny-%s\n  validationActions: [Deny]\n"
	   "  matchResources: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}}\nEOF",
	        dst3, dst3, dst3, dst3, dst3);
	/* wait until the policy is in force */
	sh("for i in $(seq 1 30); do kubectl -n %s create secret generic creds --from-literal=x=1 >/dev/null 2>&1 || exit 0; "
	   "kubectl -n %s delete secret creds >/dev/null 2>&1; sleep 1; done; exit 1",
	        dst3, dst3);
	astra__json *rep = NULL;
	cr_assert_astra_fail(
	        restore(c, v, "b1", map3, 0, NULL, &rep), ASTRA_EPARTIAL);
	cr_assert_not_null(rep);
	cr_assert_eq(count_result(rep, "failed"), 1);
	const astra__json *items = astra__json_get(rep, "items");
	int named = 0;
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *e = astra__json_at(items, i);
		if (!strcmp(astra__json_str(e, "result"), "failed"))
			named = !strcmp(astra__json_str(e, "kind"), "Secret") &&
			        astra__json_str(e, "reason");
	}
	cr_assert(named, "the failed Secret is not named with a reason");
	astra__json_free(rep);
	check_data(ns, dst3, "data");
	sh("kubectl -n %s get deployment/web configmap/settings >/dev/null",
	        dst3);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

static astra_cluster *cluster2(void)
{
	astra_cluster *c = NULL;
	astra_cluster_options o;
	cr_assert_astra_ok(
	        astra_cluster_options_init(&o, ASTRA_CLUSTER_OPTIONS_VERSION));
	o.kubeconfig = getenv("ASTRA_IT_KUBECONFIG2");
	cr_assert(o.kubeconfig, "the second cluster is not up");
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	return c;
}

Test(backup_it, clone_with_and_without_a_given_backup)
{
	char ns[64], app[64], map[200], map2[200], name[64];
	snprintf(ns, sizeof(ns), "clsrc-%s", rid);
	snprintf(app, sizeof(app), "clsrc-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("clone");
	astra_app *a = define(c, app, ns);
	astra_clone_options o;
	astra_clone_options_init(&o, ASTRA_CLONE_OPTIONS_VERSION);
	o.volume_path = vpath;
	const char *maps[1] = { map };
	o.namespace_map = maps;
	o.n_namespace_map = 1;
	/* refused before anything is created: source, existing */
	snprintf(map, sizeof(map), "%s=%s", ns, ns);
	cr_assert_astra_fail(
	        astra_app_clone(a, v, c, &o, NULL), ASTRA_EINVALID);
	snprintf(map, sizeof(map), "%s=default", ns);
	cr_assert_astra_fail(astra_app_clone(a, v, c, &o, NULL), ASTRA_EEXISTS);
	astra_buf list = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_list(v, NULL, &list));
	cr_assert_str_eq(list.ptr, "[]", "a refused clone left a backup");
	astra_buf_dispose(&list);
	/* without a backup: one is taken */
	snprintf(map, sizeof(map), "%s=clone1-%s", ns, rid);
	snprintf(name, sizeof(name), "clone1-%s", rid);
	o.name = name;
	cr_assert_astra_ok(astra_app_clone(a, v, c, &o, NULL));
	char dst[64];
	snprintf(dst, sizeof(dst), "clone1-%s", rid);
	check_data(ns, dst, "data");
	check_data(ns, dst, "wal");
	sh("kubectl -n %s get configmap/settings deployment/web >/dev/null",
	        dst);
	astra_app *cl = NULL;
	cr_assert_astra_ok(astra_app_get(&cl, c, name));
	astra_app_free(cl);
	/* from a given backup */
	backup(a, v, "given");
	snprintf(map2, sizeof(map2), "%s=clone2-%s", ns, rid);
	maps[0] = map2;
	snprintf(name, sizeof(name), "clone2-%s", rid);
	o.name = name;
	o.from_backup = "given";
	cr_assert_astra_ok(astra_app_clone(a, v, c, &o, NULL));
	snprintf(dst, sizeof(dst), "clone2-%s", rid);
	check_data(ns, dst, "data");
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(backup_it, restore_into_another_cluster_with_a_storage_class_mapping)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "xc-%s", rid);
	snprintf(app, sizeof(app), "xc-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("xc");
	astra_app *a = define(c, app, ns);
	backup(a, v, "b1");
	/* the other cluster has a differently named storage class */
	sh("KUBECONFIG=$ASTRA_IT_KUBECONFIG2 kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\n"
	   "provisioner: %s\nvolumeBindingMode: Immediate\nreclaimPolicy: Delete\nEOF",
	        getenv("ASTRA_TB_CSI_DRIVER"));
	astra_cluster *c2 = cluster2();
	char vpath2[512];
	snprintf(vpath2, sizeof(vpath2), "%s/{volumeHandle}",
	        getenv("ASTRA_IT_CSI_VOLUMES2"));
	astra_restore_options o;
	astra_restore_options_init(&o, ASTRA_RESTORE_OPTIONS_VERSION);
	o.backup = "b1";
	char scmap[128];
	snprintf(scmap, sizeof(scmap), "%s=fast",
	        getenv("ASTRA_TB_STORAGECLASS"));
	const char *scs[1] = { scmap };
	o.storage_class_map = scs;
	o.n_storage_class_map = 1;
	o.volume_path = vpath2;
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c2, v, &o, &rep));
	astra_buf_dispose(&rep);
	char sc[64], got[256], want[256];
	capture(sc, sizeof(sc),
	        "KUBECONFIG=$ASTRA_IT_KUBECONFIG2 kubectl -n %s get pvc data -o jsonpath='{.spec.storageClassName}'",
	        ns);
	cr_assert_str_eq(sc, "fast");
	capture(got, sizeof(got),
	        "export KUBECONFIG=$ASTRA_IT_KUBECONFIG2; pv=$(kubectl -n %s get pvc data -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && cat \"$ASTRA_IT_CSI_VOLUMES2/$h/sub/file.txt\"",
	        ns);
	snprintf(want, sizeof(want), "data of %s", ns);
	cr_assert_str_eq(got, want);
	sh("KUBECONFIG=$ASTRA_IT_KUBECONFIG2 kubectl -n %s get configmap/settings deployment/web >/dev/null",
	        ns);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c2);
	astra_cluster_free(c);
}

/* ---- the scheduler keeps its Lease through a pass longer than it ---- */

typedef struct {
	atomic_int entered, release;
} slow_volumes;

/* Volume access that blocks the first volume until released: a pass
 * that lasts longer than the Lease. */
static int slow_path(const char *pv_json, astra_buf *path, void *payload)
{
	slow_volumes *s = payload;
	if (!atomic_exchange(&s->entered, 1))
		for (int i = 0; i < 600 && !atomic_load(&s->release); i++)
			astra__sleep_ms(100);
	astra__json *pv = NULL;
	if (astra__json_parse(&pv, pv_json, strlen(pv_json), "pv"))
		return ASTRA_EPARSE;
	const char *h = astra__json_str(
	        astra__json_get(astra__json_get(pv, "spec"), "csi"),
	        "volumeHandle");
	int rc = h ? astra__buf_printf(
	                     path, "%s/%s", getenv("ASTRA_TB_CSI_VOLUMES"), h)
	           : ASTRA_EINVALID;
	astra__json_free(pv);
	return rc;
}

typedef struct {
	astra_cluster *c;
	astra_policy_scheduler_options so;
	astra_policy_run_options ro;
	int rc;
} sched_thread;

static void *sched_main(void *arg)
{
	sched_thread *t = arg;
	t->rc = astra_policy_scheduler_run(t->c, &t->so);
	return NULL;
}

Test(backup_it, the_scheduler_keeps_its_lease_through_a_long_pass,
        .timeout = 240)
{
	char ns[64], app[64], lname[64], url[600];
	snprintf(ns, sizeof(ns), "sched-%s", rid);
	snprintf(app, sizeof(app), "sched-%s", rid);
	snprintf(lname, sizeof(lname), "astra-sched-%s", rid);
	/* as the protector ServiceAccount (ASTRA_IT_AS_PROTECTOR=1) the Lease
	 * lives in the control namespace, the only one deploy/rbac/ grants
	 * Leases in */
	const char *lns =
	        getenv("ASTRA_IT_PROTECTOR_KUBECONFIG") ? "astra-system" : ns;
	make_app(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, app, ns);
	astra_vault_free(vault("sched"));
	snprintf(url, sizeof(url), "file://%s/vault-sched-%s", getenv("TMPDIR"),
	        rid);
	astra_policy_options p;
	astra_policy_options_init(&p, ASTRA_POLICY_OPTIONS_VERSION);
	p.name = "often";
	p.granularity = ASTRA_POLICY_CUSTOM;
	p.cron = "* * * * *";
	p.snapshot_retention = 1;
	p.backup_retention = 1;
	p.vault = url;
	cr_assert_astra_ok(astra_policy_set(c, app, &p));

	/* replica A: a 3 s Lease, a pass that blocks in volume access */
	slow_volumes sv;
	atomic_init(&sv.entered, 0);
	atomic_init(&sv.release, 0);
	astra_cancel *stop = NULL;
	cr_assert_astra_ok(astra_cancel_new(&stop));
	sched_thread ta = { .c = c };
	astra_policy_run_options_init(&ta.ro, ASTRA_POLICY_RUN_OPTIONS_VERSION);
	ta.ro.app = app;
	ta.ro.vault_password = "integration";
	ta.ro.vault = url; /* the policy's vault: trusted (docs/policies.md) */
	ta.ro.volume_path_cb = slow_path;
	ta.ro.volume_path_payload = &sv;
	astra_policy_scheduler_options_init(
	        &ta.so, ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION);
	ta.so.run = &ta.ro;
	ta.so.lease_namespace = lns;
	ta.so.lease_name = lname;
	ta.so.identity = "replica-a";
	ta.so.lease_duration_s = 3;
	ta.so.interval_s = 1;
	ta.so.cancel = stop;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, sched_main, &ta), 0);
	/* the policy is due at the next minute */
	for (int i = 0; i < 900 && !atomic_load(&sv.entered); i++)
		astra__sleep_ms(100);
	cr_assert(atomic_load(&sv.entered), "no pass reached volume access");

	/* more than twice the Lease into the pass, replica B finds it held */
	astra__sleep_ms(7000);
	sched_thread tb = { .c = c };
	astra_policy_run_options_init(&tb.ro, ASTRA_POLICY_RUN_OPTIONS_VERSION);
	tb.ro.app = app;
	tb.ro.vault_password = "integration";
	tb.ro.vault = url;
	tb.ro.volume_path = vpath;
	tb.so = ta.so;
	tb.so.run = &tb.ro;
	tb.so.identity = "replica-b";
	tb.so.cancel = NULL;
	tb.so.flags = ASTRA_POLICY_SCHEDULER_F_ONCE;
	sched_main(&tb);
	cr_assert_astra_ok(tb.rc);
	char holder[64];
	capture(holder, sizeof(holder),
	        "kubectl -n %s get lease %s -o jsonpath='{.spec.holderIdentity}'",
	        lns, lname);
	cr_assert_str_eq(holder, "replica-a",
	        "the Lease lapsed during a pass of its holder");

	/* another replica takes the Lease by force: A cancels its pass */
	sh("kubectl -n %s patch lease %s --type merge -p "
	   "\"{\\\"spec\\\":{\\\"holderIdentity\\\":\\\"intruder\\\","
	   "\\\"leaseDurationSeconds\\\":120,"
	   "\\\"renewTime\\\":\\\"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%S.%%6NZ)\\\"}}\" "
	   ">/dev/null",
	        lns, lname);
	astra__sleep_ms(2500); /* A's renewer sees it (every second) */
	atomic_store(&sv.release, 1);
	char res[512] = "";
	for (int i = 0; i < 300; i++) {
		astra_buf js = ASTRA_BUF_INIT;
		cr_assert_astra_ok(astra_policy_list(c, app, &js));
		astra__json *l = NULL;
		cr_assert_astra_ok(astra__json_parse(&l, js.ptr, js.size, "l"));
		const astra__json *st =
		        astra__json_get(astra__json_at(l, 0), "status");
		const char *lr = astra__json_str(st, "lastResult");
		const char *le = astra__json_str(st, "lastError");
		snprintf(res, sizeof(res), "%s %s", lr ? lr : "", le ? le : "");
		astra__json_free(l);
		astra_buf_dispose(&js);
		if (!strncmp(res, "failed", 6) || !strncmp(res, "succeeded", 9))
			break;
		astra__sleep_ms(100);
	}
	astra_cancel_request(stop);
	pthread_join(t, NULL);
	cr_assert_astra_ok(ta.rc);
	capture(holder, sizeof(holder),
	        "kubectl -n %s get lease %s -o jsonpath='{.spec.holderIdentity}'",
	        lns, lname);
	cr_assert_str_eq(holder, "intruder");
	astra_cancel_free(stop);
	astra_app_free(a);
	astra_cluster_free(c);
}

/* Volume access that counts the writer sessions in a file:// vault at the
 * moment the backup asks for a volume: the manifests blob is written by
 * then, and the volume's own data backup has not started. */
typedef struct {
	char sessions[700]; /* the vault's sessions/ directory */
	int seen; /* sessions counted at the first call; -1 before */
} session_probe;

static int probe_path(const char *pv_json, astra_buf *path, void *payload)
{
	session_probe *p = payload;
	if (p->seen < 0) {
		char out[64];
		capture(out, sizeof(out), "ls -A '%s' 2>/dev/null | wc -l",
		        p->sessions);
		p->seen = atoi(out);
	}
	return slow_path(pv_json, path, &(slow_volumes){ .entered = 1 });
}

/* gc must not sweep the pack of a deduplicated manifests blob while an app
 * backup copies its volumes: the backup holds a writer session from before
 * that blob until its record (docs/format.md, "Writing protocol"). */
Test(backup_it, an_app_backup_holds_a_session_from_its_first_write)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "sess-%s", rid);
	snprintf(app, sizeof(app), "sess-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = vault("sess");
	astra_app *a = define(c, app, ns);
	session_probe p = { .seen = -1 };
	snprintf(p.sessions, sizeof(p.sessions), "%s/vault-sess-%s/sessions",
	        getenv("TMPDIR"), rid);
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = "b1";
	o.volume_path_cb = probe_path;
	o.volume_path_payload = &p;
	cr_assert_astra_ok(astra_backup_create(a, v, &o, NULL));
	cr_assert_geq(p.seen, 1,
	        "no writer session while the app backup reached its volumes");
	/* and none is left once the record is written */
	char out[64];
	capture(out, sizeof(out), "ls -A '%s' 2>/dev/null | wc -l", p.sessions);
	cr_assert_eq(atoi(out), 0, "sessions left behind: %s", out);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}
