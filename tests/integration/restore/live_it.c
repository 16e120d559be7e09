/*
 * Volumes whose driver has no snapshot support (issue 19): an app with one
 * CSI PVC (group snapshot) and one static local PV of a StorageClass
 * without snapshots (kubernetes.io/no-provisioner), written by a real pod.
 * A backup reads the local volume live, after the pre-snapshot hooks, and
 * records it as crash-consistent-with-hooks; both volumes come back exactly
 * after the namespace is deleted. A backup with no way to read the local
 * volume is refused before anything is taken, naming the PVC; a local
 * snapshot records it as not taken, and a restore from that snapshot fails
 * the PVC with the reason.
 */
#include <sys/stat.h>

#include "rit.h"
#include "fstree.h"
#include "fmt/json.h"

TestSuite(live_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *live_image(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/* A StorageClass without snapshot support and static local PVs of it. */
static void live_class(const char *sc)
{
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: storage.k8s.io/v1\nkind: StorageClass\n"
	   "metadata: {name: %s}\nprovisioner: kubernetes.io/no-provisioner\n"
	   "volumeBindingMode: Immediate\nreclaimPolicy: Retain\n"
	   "EOF",
	        sc);
}

static void live_pv(const char *name, const char *sc, const char *dir)
{
	char node[256];
	capture(node, sizeof(node),
	        "kubectl get nodes -o "
	        "jsonpath='{.items[0].metadata.labels.kubernetes\\.io/"
	        "hostname}'");
	cr_assert(node[0], "no node in the test-bed cluster");
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolume\n"
	   "metadata: {name: %s}\n"
	   "spec:\n  capacity: {storage: 1Gi}\n"
	   "  accessModes: [ReadWriteOnce]\n"
	   "  persistentVolumeReclaimPolicy: Retain\n"
	   "  storageClassName: %s\n  local: {path: %s}\n"
	   "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n"
	   "      - matchExpressions:\n"
	   "        - {key: kubernetes.io/hostname, operator: In, values: "
	   "[\"%s\"]}\n"
	   "EOF",
	        name, sc, dir, node);
}

/* Namespace ns: PVC "db" (the default CSI class), PVC "logs" (class sc,
 * bound to a local PV), and pod "writer" that writes into both once. */
static void live_app(const char *ns, const char *sc, int pod)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\n"
	   "metadata: {name: db, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: "
	   "{storage: 1Gi}}}\n"
	   "---\napiVersion: v1\nkind: PersistentVolumeClaim\n"
	   "metadata: {name: logs, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], storageClassName: %s, "
	   "resources: {requests: {storage: 1Gi}}}\n"
	   "EOF",
	        ns, ns, sc);
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound "
	   "pvc/db pvc/logs --timeout=120s >/dev/null",
	        ns);
	if (!pod)
		return;
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: Pod\n"
	   "metadata: {name: writer, namespace: %s}\n"
	   "spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
	   "  - name: main\n    image: %s\n    imagePullPolicy: Never\n"
	   "    command: [sh, -c, 'if [ ! -e /db/seeded ]; then "
	   "echo row-1 > /db/table; dd if=/dev/urandom of=/logs/app.log "
	   "bs=4096 count=64 2>/dev/null; ln /logs/app.log /logs/app.hard; "
	   "touch /db/seeded; fi; sleep 100000']\n"
	   "    volumeMounts: [{name: db, mountPath: /db}, "
	   "{name: logs, mountPath: /logs}]\n"
	   "  volumes:\n  - {name: db, persistentVolumeClaim: {claimName: "
	   "db}}\n"
	   "  - {name: logs, persistentVolumeClaim: {claimName: logs}}\n"
	   "EOF",
	        ns, live_image());
	sh("kubectl -n %s wait --for=condition=Ready pod/writer "
	   "--timeout=180s >/dev/null",
	        ns);
	sh("kubectl -n %s exec writer -- sh -c 'test -e /db/seeded && "
	   "test -s /logs/app.log'",
	        ns);
}

static void live_hook(
        astra_app *a, const char *name, const char *stage, const char *script)
{
	astra_hook_options o;
	cr_assert_astra_ok(
	        astra_hook_options_init(&o, ASTRA_HOOK_OPTIONS_VERSION));
	o.stage = stage;
	o.script = script;
	o.pod_regex = "^writer$";
	cr_assert_astra_ok(astra_hook_create(a, name, &o, 0));
}

static astra__json *live_parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "record"));
	return j;
}

static const astra__json *live_vol(const astra__json *rec, const char *pvc)
{
	const astra__json *vols = astra__json_get(rec, "volumes");
	for (size_t i = 0; i < astra__json_size(vols); i++) {
		const char *p = astra__json_str(astra__json_at(vols, i), "pvc");
		if (p && !strcmp(p, pvc))
			return astra__json_at(vols, i);
	}
	cr_assert_fail("no volume %s in the record", pvc);
	return NULL;
}

/* The host-path template of this suite: the CSI driver's volumes, else a
 * local PV's own directory. */
static void live_template(char *out, size_t n)
{
	snprintf(out, n, "%s||{localPath}", rit_vpath);
}

static void live_cleanup(const char *ns, const char *sc, const char *pvs)
{
	sh("kubectl delete namespace %s --wait --timeout=180s "
	   ">/dev/null 2>&1 || true",
	        ns);
	sh("kubectl delete pv %s --wait=false >/dev/null 2>&1 || true", pvs);
	sh("kubectl delete storageclass %s >/dev/null 2>&1 || true", sc);
}

/* The mover Jobs of this suite (the image the node has). */
static void live_jobs(astra_mover_options *m)
{
	cr_assert_astra_ok(
	        astra_mover_options_init(m, ASTRA_MOVER_OPTIONS_VERSION));
	m->strategy = ASTRA_MOVER_JOB;
	m->image = getenv("ASTRA_IT_MOVER_IMAGE");
	cr_assert(m->image && *m->image, "no ASTRA_IT_MOVER_IMAGE");
	m->image_pull_policy = "Never";
	m->timeout_s = 300;
	m->host_network = 1;
	m->vault_password = "integration";
}

/* Backs the app up (its local volume read live: by this process through
 * the host-path template, or by a mover Job mounting the live PVC), deletes
 * the namespace, restores, and compares both volumes exactly. */
static void live_round_trip(const char *tag, int jobs)
{
	char ns[64], sc[64], pva[64], pvb[64], tpl[1100], base[600];
	char dira[700], dirb[700], dbdir[600], expect_db[700], expect_logs[700];
	snprintf(ns, sizeof(ns), "%s-%s", tag, rit_rid);
	snprintf(sc, sizeof(sc), "nosnap-%s-%s", tag, rit_rid);
	snprintf(pva, sizeof(pva), "%s-%s-a", tag, rit_rid);
	snprintf(pvb, sizeof(pvb), "%s-%s-b", tag, rit_rid);
	snprintf(
	        base, sizeof(base), "%s/%s-%s", getenv("TMPDIR"), tag, rit_rid);
	snprintf(dira, sizeof(dira), "%s/pv-a", base);
	snprintf(dirb, sizeof(dirb), "%s/pv-b", base);
	snprintf(expect_db, sizeof(expect_db), "%s/expect-db", base);
	snprintf(expect_logs, sizeof(expect_logs), "%s/expect-logs", base);
	cr_assert_eq(mkdir(base, 0755), 0);
	live_template(tpl, sizeof(tpl));
	live_class(sc);
	live_pv(pva, sc, dira);
	live_app(ns, sc, 1);

	/* rich trees (hard links, holes, xattrs, odd modes and times) next
	 * to what the pod wrote, in both volumes */
	rit_pvc_dir(dbdir, sizeof(dbdir), ns, "db");
	char p[800];
	snprintf(p, sizeof(p), "%s/rich", dbdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	fst_make_rich_tree(p);
	snprintf(p, sizeof(p), "%s/rich", dira);
	cr_assert_eq(mkdir(p, 0755), 0);
	fst_make_rich_tree(p);

	astra_cluster *c = cluster();
	char app[64];
	snprintf(app, sizeof(app), "%s-%s", tag, rit_rid);
	astra_app *a = rit_define(c, app, ns);
	/* the pre-snapshot hook's mark must be in the live copy */
	live_hook(a, "freeze", "pre-snapshot", "echo frozen > /logs/state");
	astra_vault *v = rit_vault(tag);

	astra_mover_options mo;
	live_jobs(&mo);
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "live-1";
	bo.volume_path = jobs ? NULL : tpl;
	bo.mover = jobs ? &mo : NULL;
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, &rb));
	astra__json *rec = live_parse(&rb);
	cr_assert_str_eq(astra__json_str(live_vol(rec, "db"), "consistency"),
	        "snapshot");
	cr_assert_str_eq(astra__json_str(live_vol(rec, "logs"), "consistency"),
	        "crash-consistent-with-hooks");
	cr_assert_str_eq(astra__json_str(rec, "consistency"), "group",
	        "the CSI volume still goes through a group snapshot");
	cr_assert_gt(
	        astra__json_int(live_vol(rec, "logs"), "bytes", 0), 256 * 1024);
	astra__json_free(rec);
	astra_buf_dispose(&rb);

	/* what the volumes held (nothing writes into them any more) */
	sh("cp -a --sparse=always %s %s && cp -a --sparse=always %s %s", dbdir,
	        expect_db, dira, expect_logs);
	char state[64];
	capture(state, sizeof(state), "cat %s/state", dira);
	cr_assert_str_eq(state, "frozen");

	sh("kubectl delete namespace %s --wait --timeout=180s >/dev/null", ns);
	live_pv(pvb, sc, dirb); /* pv-a is Released (Retain): bind to b */

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "live-1";
	ro.volume_path = tpl;
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &rep));
	astra_buf_dispose(&rep);
	char bound[128];
	capture(bound, sizeof(bound),
	        "kubectl -n %s get pvc logs -o jsonpath='{.spec.volumeName}'",
	        ns);
	cr_assert_str_eq(bound, pvb);

	char newdb[600];
	rit_pvc_dir(newdb, sizeof(newdb), ns, "db");
	cr_assert_eq(fst_compare(expect_db, newdb), 0,
	        "the CSI volume differs after the restore");
	cr_assert_eq(fst_compare(expect_logs, dirb), 0,
	        "the local volume differs after the restore");
	sh("kubectl -n %s wait --for=condition=Ready pod/writer "
	   "--timeout=180s >/dev/null",
	        ns);
	sh("kubectl -n %s exec writer -- sh -c 'grep -qx row-1 /db/table && "
	   "cmp /logs/app.log /logs/app.hard && grep -qx frozen /logs/state'",
	        ns);

	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
	char pvs[200];
	snprintf(pvs, sizeof(pvs), "%s %s", pva, pvb);
	live_cleanup(ns, sc, pvs);
	fst_rmrf(base);
}

Test(live_it, backup_reads_the_local_volume_live_and_restore_brings_both_back)
{
	live_round_trip("live", 0);
}

Test(live_it, a_mover_job_reads_the_live_pvc_while_the_app_is_quiesced)
{
	live_round_trip("livejob", 1);
}

/* No VolumeSnapshots, no snapshot record, nothing in the vault. */
static void live_nothing_taken(
        astra_cluster *c, astra_vault *v, const char *app, const char *ns)
{
	char out[4096];
	capture(out, sizeof(out),
	        "kubectl -n %s get volumesnapshots,volumegroupsnapshots "
	        "-o name",
	        ns);
	cr_assert_str_eq(out, "", "snapshots were taken: %s", out);
	capture(out, sizeof(out),
	        "kubectl -n %s get secrets -l snapshots.astra.dev/app=%s "
	        "-o name",
	        ns, app);
	cr_assert_str_eq(out, "", "a snapshot record was left: %s", out);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_list(v, NULL, &b));
	astra__json *l = live_parse(&b);
	cr_assert_eq(astra__json_size(l), 0, "a backup was recorded");
	astra__json_free(l);
	astra_buf_dispose(&b);
	(void)c;
}

Test(live_it, a_volume_nothing_can_read_is_refused_before_anything_is_taken)
{
	char ns[64], sc[64], pva[64], base[600], dira[700], msg[2048];
	snprintf(ns, sizeof(ns), "live-ref-%s", rit_rid);
	snprintf(sc, sizeof(sc), "nosnap-ref-%s", rit_rid);
	snprintf(pva, sizeof(pva), "live-ref-%s-a", rit_rid);
	snprintf(base, sizeof(base), "%s/live-ref-%s", getenv("TMPDIR"),
	        rit_rid);
	snprintf(dira, sizeof(dira), "%s/pv-a", base);
	cr_assert_eq(mkdir(base, 0755), 0);
	live_class(sc);
	live_pv(pva, sc, dira);
	live_app(ns, sc, 0);
	astra_cluster *c = cluster();
	char app[64];
	snprintf(app, sizeof(app), "live-ref-%s", rit_rid);
	astra_app *a = rit_define(c, app, ns);
	astra_vault *v = rit_vault("live-ref");

	/* no volume access at all */
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "refused-1";
	cr_assert_astra_fail(
	        astra_backup_create(a, v, &bo, NULL), ASTRA_ENOTSUPPORTED);
	snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
	char want[256];
	snprintf(want, sizeof(want), "PVC %s/logs", ns);
	cr_assert(strstr(msg, want), "the error names the PVC: %s", msg);
	cr_assert(strstr(msg, "not a CSI volume (local)"),
	        "the error says why: %s", msg);
	live_nothing_taken(c, v, app, ns);

	/* a template that gives no directory for a local PV */
	bo.name = "refused-2";
	bo.volume_path = rit_vpath;
	cr_assert_astra_fail(
	        astra_backup_create(a, v, &bo, NULL), ASTRA_EINVALID);
	snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
	cr_assert(strstr(msg, want), "the error names the PVC: %s", msg);
	cr_assert(strstr(msg, "{volumeHandle}"), "%s", msg);
	live_nothing_taken(c, v, app, ns);

	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
	live_cleanup(ns, sc, pva);
	fst_rmrf(base);
}

Test(live_it, a_local_snapshot_records_the_volume_as_not_taken)
{
	char ns[64], sc[64], pva[64], base[600], dira[700];
	snprintf(ns, sizeof(ns), "live-snap-%s", rit_rid);
	snprintf(sc, sizeof(sc), "nosnap-snap-%s", rit_rid);
	snprintf(pva, sizeof(pva), "live-snap-%s-a", rit_rid);
	snprintf(base, sizeof(base), "%s/live-snap-%s", getenv("TMPDIR"),
	        rit_rid);
	snprintf(dira, sizeof(dira), "%s/pv-a", base);
	cr_assert_eq(mkdir(base, 0755), 0);
	live_class(sc);
	live_pv(pva, sc, dira);
	live_app(ns, sc, 0);
	astra_cluster *c = cluster();
	char app[64];
	snprintf(app, sizeof(app), "live-snap-%s", rit_rid);
	astra_app *a = rit_define(c, app, ns);

	astra_snapshot_options so;
	astra_snapshot_options_init(&so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	so.name = "local-1";
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_snapshot_create(a, &so, &rb));
	astra__json *rec = live_parse(&rb);
	const astra__json *logs = live_vol(rec, "logs");
	cr_assert_str_eq(astra__json_str(logs, "consistency"), "none");
	cr_assert_null(astra__json_str(logs, "volumeSnapshot"));
	cr_assert(strstr(astra__json_str(logs, "reason"),
	                  "not a CSI volume (local)"),
	        "%s", astra__json_str(logs, "reason"));
	cr_assert_str_eq(astra__json_str(live_vol(rec, "db"), "consistency"),
	        "snapshot");
	astra__json_free(rec);
	astra_buf_dispose(&rb);

	/* restoring it (into its own namespace, the PVCs gone) cannot bring
	 * the local volume back, and says so */
	sh("kubectl -n %s delete pvc db logs --wait --timeout=120s >/dev/null",
	        ns);
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.snapshot_app = app;
	ro.snapshot = "local-1";
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_fail(astra_restore(c, NULL, &ro, &rep), ASTRA_EPARTIAL);
	cr_assert(rep.size && strstr(rep.ptr, "holds no data for it") &&
	                  strstr(rep.ptr, "restore it from a backup"),
	        "the report says why: %.*s", (int)rep.size,
	        rep.ptr ? rep.ptr : "");
	char out[256];
	capture(out, sizeof(out),
	        "kubectl -n %s get pvc logs -o name 2>/dev/null", ns);
	cr_assert_str_eq(out, "", "an empty PVC passed for restored data");
	capture(out, sizeof(out), "kubectl -n %s get pvc db -o name", ns);
	cr_assert_str_eq(out, "persistentvolumeclaim/db");
	astra_buf_dispose(&rep);

	cr_assert_astra_ok(astra_snapshot_delete(c, app, "local-1"));
	astra_app_free(a);
	astra_cluster_free(c);
	live_cleanup(ns, sc, pva);
	fst_rmrf(base);
}
