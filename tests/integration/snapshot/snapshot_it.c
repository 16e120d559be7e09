/*
 * Consistency-grouped app snapshots on a real test-bed cluster (the
 * project's CSI driver with group snapshots, the real snapshot-controller
 * and csi-snapshotter). Run through tests/integration/snapshot/run.sh.
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
#include "kube/kube.h"
#include "kube/podexec.h"

static char rid[16];

static void suite_init(void)
{
	cr_assert(astra_init() > 0);
	cr_assert(getenv("ASTRA_TB_CSI_VOLUMES"),
	        "run through tests/integration/snapshot/run.sh");
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
}

static void suite_fini(void)
{
	astra_shutdown();
}

TestSuite(snapshot_it, .init = suite_init, .fini = suite_fini, .timeout = 300);

/* n PVCs data-0..n-1, bound, each holding a file with known content */
static void make_pvcs(const char *ns, int n)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	for (int i = 0; i < n; i++)
		sh("kubectl apply -f - >/dev/null <<'EOF'\n"
		   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data-%d, namespace: %s, labels: {app: db}}\n"
		   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: %s}\nEOF",
		        i, ns, getenv("ASTRA_TB_STORAGECLASS"));
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound pvc --all --timeout=120s >/dev/null",
	        ns);
	for (int i = 0; i < n; i++)
		sh("pv=$(kubectl -n %s get pvc data-%d -o jsonpath='{.spec.volumeName}') && "
		   "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && "
		   "echo 'content of volume %d in %s' > \"$ASTRA_TB_CSI_VOLUMES/$h/file.txt\"",
		        ns, i, i, ns);
	sh("kubectl -n %s create configmap settings --from-literal=mode=primary >/dev/null",
	        ns);
}

static astra__json *record_of(astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "record"));
	return j;
}

/* A PVC restored from a VolumeSnapshot holds the original file. */
static void check_restore(const char *ns, const char *vs, int i)
{
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: restored-%d, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: %s,\n"
	   "  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: %s}}\nEOF",
	        i, ns, getenv("ASTRA_TB_STORAGECLASS"), vs);
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound pvc/restored-%d --timeout=120s >/dev/null",
	        ns, i);
	char got[512], want[512];
	capture(got, sizeof(got),
	        "pv=$(kubectl -n %s get pvc restored-%d -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && cat \"$ASTRA_TB_CSI_VOLUMES/$h/file.txt\"",
	        ns, i);
	snprintf(want, sizeof(want), "content of volume %d in %s", i, ns);
	cr_assert_str_eq(got, want, "restored PVC %d holds \"%s\"", i, got);
}

Test(snapshot_it, three_pvcs_in_one_volume_group_snapshot)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "grp-%s", rid);
	snprintf(app, sizeof(app), "grp-%s", rid);
	make_pvcs(ns, 3);
	astra_cluster *c = cluster();
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	astra_buf b = ASTRA_BUF_INIT;
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "first";
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	astra__json *rec = record_of(&b);
	astra_buf_dispose(&b);
	cr_assert_str_eq(astra__json_str(rec, "consistency"), "group");
	cr_assert_str_eq(astra__json_str(rec, "state"), "completed");
	const astra__json *vols = astra__json_get(rec, "volumes");
	cr_assert_eq(astra__json_size(vols), 3);
	const char *group = astra__json_str(astra__json_at(vols, 0), "group");
	cr_assert_not_null(group);
	for (size_t i = 0; i < 3; i++) {
		const astra__json *v = astra__json_at(vols, i);
		cr_assert_str_eq(astra__json_str(v, "group"), group,
		        "one group for all three");
		cr_assert(astra__json_bool(v, "readyToUse", 0));
	}
	/* exactly one VolumeGroupSnapshot */
	char count[64];
	capture(count, sizeof(count),
	        "kubectl -n %s get volumegroupsnapshots -o name | wc -l", ns);
	cr_assert_str_eq(count, "1");
	/* PVCs restored from the members hold exactly the files */
	for (size_t i = 0; i < 3; i++) {
		const astra__json *v = astra__json_at(vols, i);
		const char *pvc = astra__json_str(v, "pvc");
		int idx = atoi(pvc + strlen("data-"));
		check_restore(ns, astra__json_str(v, "volumeSnapshot"), idx);
	}
	/* the temporary group label is gone from the PVCs */
	char labels[256];
	capture(labels, sizeof(labels),
	        "kubectl -n %s get pvc data-0 -o jsonpath='{.metadata.labels}'",
	        ns);
	cr_assert(!strstr(labels, "snapshots.astra.dev"),
	        "label left behind: %s", labels);
	astra__json_free(rec);
	/* listed, shown with its manifests, deleted with its group */
	cr_assert_astra_ok(astra_snapshot_list(c, app, &b));
	cr_assert(strstr(b.ptr, "\"first\""));
	astra_buf_dispose(&b);
	/* a backup reading it makes delete refuse */
	sh("kubectl -n %s annotate secret astra-snap-first "
	   "snapshots.astra.dev/in-use-by=backup/x >/dev/null",
	        ns);
	cr_assert_astra_fail(
	        astra_snapshot_delete(c, app, "first"), ASTRA_EBUSY);
	cr_assert(strstr(astra_error_last()->message, "backup/x"));
	sh("kubectl -n %s annotate secret astra-snap-first "
	   "snapshots.astra.dev/in-use-by- >/dev/null",
	        ns);
	cr_assert_astra_ok(astra_snapshot_delete(c, app, "first"));
	cr_assert_astra_fail(
	        astra_snapshot_get(c, app, "first", 0, &b), ASTRA_ENOTFOUND);
	/* deletion waits for the snapshot controller's finalizers */
	sh("for i in $(seq 1 120); do [ \"$(kubectl -n %s get "
	   "volumegroupsnapshots -o name | wc -l)\" = 0 ] && exit 0; sleep 1; "
	   "done; exit 1",
	        ns);
	capture(count, sizeof(count),
	        "kubectl -n %s get volumegroupsnapshots -o name | wc -l", ns);
	cr_assert_str_eq(count, "0");
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(snapshot_it,
        without_a_group_class_individual_snapshots_and_the_record_says_so)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "ind-%s", rid);
	snprintf(app, sizeof(app), "ind-%s", rid);
	make_pvcs(ns, 2);
	astra_cluster *c = cluster();
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "solo";
	o.flags = ASTRA_SNAPSHOT_F_NO_GROUP;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	astra__json *rec = record_of(&b);
	astra_buf_dispose(&b);
	cr_assert_str_eq(astra__json_str(rec, "consistency"), "individual");
	const astra__json *vols = astra__json_get(rec, "volumes");
	cr_assert_eq(astra__json_size(vols), 2);
	cr_assert_null(astra__json_get(astra__json_at(vols, 0), "group"));
	check_restore(ns,
	        astra__json_str(astra__json_at(vols, 1), "volumeSnapshot"), 1);
	astra__json_free(rec);
	/* the manifests in the record match the objects at snapshot time */
	sh("kubectl -n %s create configmap settings --from-literal=mode=changed -o yaml --dry-run=client | kubectl apply -f - >/dev/null",
	        ns);
	cr_assert_astra_ok(astra_snapshot_get(c, app, "solo", 1, &b));
	rec = record_of(&b);
	astra_buf_dispose(&b);
	const astra__json *man = astra__json_get(rec, "manifests");
	int found = 0;
	for (size_t i = 0; i < astra__json_size(man); i++) {
		const astra__json *m = astra__json_at(man, i);
		if (!strcmp(astra__json_str(m, "kind"), "ConfigMap") &&
		        !strcmp(astra__json_str(
		                        astra__json_get(m, "metadata"), "name"),
		                "settings")) {
			cr_assert_str_eq(
			        astra__json_str(
			                astra__json_get(m, "data"), "mode"),
			        "primary");
			found = 1;
		}
	}
	cr_assert(found, "the ConfigMap is not in the manifests");
	astra__json_free(rec);
	cr_assert_astra_ok(astra_snapshot_delete(c, app, "solo"));
	/* deletion waits for the snapshot controller's finalizers */
	sh("for i in $(seq 1 120); do [ \"$(kubectl -n %s get "
	   "volumesnapshots -o name | wc -l)\" = 0 ] && exit 0; sleep 1; "
	   "done; exit 1",
	        ns);
	char count[64];
	capture(count, sizeof(count),
	        "kubectl -n %s get volumesnapshots -o name | wc -l", ns);
	cr_assert_str_eq(count, "0");
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(snapshot_it, failures_name_the_pvc_and_leave_no_stray_snapshots)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "fail-%s", rid);
	snprintf(app, sizeof(app), "fail-%s", rid);
	make_pvcs(ns, 2);
	/* a PVC that cannot bind: its storage class does not exist */
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: pending, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: no-such-class}\nEOF",
	        ns);
	astra_cluster *c = cluster();
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "broken";
	cr_assert_astra_fail(
	        astra_snapshot_create(a, &o, NULL), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "pending"), "%s",
	        astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message, "not bound"), "%s",
	        astra_error_last()->message);
	char count[64];
	capture(count, sizeof(count),
	        "kubectl -n %s get volumesnapshots,volumegroupsnapshots -o name | wc -l",
	        ns);
	cr_assert_str_eq(count, "0", "stray snapshots left behind");
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_fail(
	        astra_snapshot_get(c, app, "broken", 0, &b), ASTRA_ENOTFOUND);
	/* a snapshot class that does not exist */
	sh("kubectl -n %s delete pvc pending --wait=true --timeout=60s >/dev/null",
	        ns);
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}],\"snapshotClass\":\"nope\"}",
	        app, ns);
	astra_app_free(a);
	cr_assert_astra_ok(astra_app_define(&a, c, def, ASTRA_APP_F_UPDATE));
	o.flags = ASTRA_SNAPSHOT_F_NO_GROUP;
	cr_assert_astra_fail(
	        astra_snapshot_create(a, &o, NULL), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(astra_error_last()->message, "nope"), "%s",
	        astra_error_last()->message);
	capture(count, sizeof(count),
	        "kubectl -n %s get volumesnapshots -o name | wc -l", ns);
	cr_assert_str_eq(count, "0", "stray snapshots left behind");
	astra_app_free(a);
	astra_cluster_free(c);
}

/* Without a running container (no node, or a pod that cannot be
 * scheduled): hooks are recorded as skipped, and pods/exec names the
 * cause the API server gives. */
Test(snapshot_it, hooks_skip_pods_that_do_not_run_and_exec_names_the_cause)
{
	char ns[64], app[64];
	snprintf(ns, sizeof(ns), "hkp-%s", rid);
	snprintf(app, sizeof(app), "hkp-%s", rid);
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl -n %s apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: Pod\nmetadata: {name: waiting, labels: {role: db}}\n"
	   "spec: {nodeSelector: {none: none}, containers: [{name: c, image: busybox}]}\nEOF",
	        ns);
	astra_cluster *c = cluster();
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	astra_hook_options ho;
	cr_assert_astra_ok(
	        astra_hook_options_init(&ho, ASTRA_HOOK_OPTIONS_VERSION));
	ho.stage = "pre-snapshot";
	ho.script = "sync";
	ho.selector = "role=db";
	cr_assert_astra_ok(astra_hook_create(a, "flush", &ho, 0));
	cr_assert_astra_fail(
	        astra_hook_create(a, "flush", &ho, 0), ASTRA_EEXISTS);
	ho.image_regex = "(";
	cr_assert_astra_fail(
	        astra_hook_create(a, "bad", &ho, 0), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "image regex"));
	/* stored beside the app's definition */
	char cm[256];
	capture(cm, sizeof(cm),
	        "kubectl -n %s get configmap astra-hook-%s-flush -o "
	        "jsonpath='{.data.script}'",
	        ns, app);
	cr_assert_str_eq(cm, "sync");

	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "hooked";
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	astra__json *rec = record_of(&b);
	astra_buf_dispose(&b);
	const astra__json *pre =
	        astra__json_at(astra__json_get(rec, "hooks"), 0);
	cr_assert_str_eq(astra__json_str(pre, "stage"), "pre-snapshot");
	cr_assert_eq(astra__json_int(pre, "hooks", -1), 0);
	const astra__json *r =
	        astra__json_at(astra__json_get(pre, "results"), 0);
	cr_assert_str_eq(astra__json_str(r, "pod"), "waiting");
	cr_assert_str_eq(astra__json_str(r, "result"), "skipped");
	cr_assert_str_eq(astra__json_str(r, "error"), "the pod is not running");
	astra__json_free(rec);

	/* pods/exec over WebSocket: the server's reason, not a hang */
	astra__kube *k = NULL;
	astra__kube_options ko = { 0 };
	cr_assert_astra_ok(astra__kube_open(&k, &ko));
	const char *argv[] = { "sh", "-c", "true", NULL };
	astra__kube_exec_options eo = { 0 };
	eo.ns = ns;
	eo.pod = "waiting";
	eo.argv = argv;
	eo.timeout_ms = 10000;
	astra__kube_exec_result er;
	cr_assert_astra_fail(astra__kube_pod_exec(k, &eo, &er), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message,
	                  "pod waiting does not have a host assigned"),
	        "%s", astra_error_last()->message);
	astra__kube_exec_result_dispose(&er);
	eo.pod = "absent";
	cr_assert_astra_fail(
	        astra__kube_pod_exec(k, &eo, &er), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "\"absent\" not found"),
	        "%s", astra_error_last()->message);
	astra__kube_exec_result_dispose(&er);
	astra__kube_free(k);

	cr_assert_astra_ok(astra_hook_delete(a, "flush"));
	cr_assert_astra_ok(astra_hook_list(a, &b));
	cr_assert_str_eq(b.ptr, "[]");
	astra_buf_dispose(&b);
	astra_app_free(a);
	astra_cluster_free(c);
}
