/*
 * In-place restores on the node cluster with real pods: a Deployment
 * writes into its PVC, a snapshot and a backup are taken, the app writes
 * newer data (and deletes a file); a restore with ASTRA_RESTORE_F_REPLACE
 * into the app's own namespace scales the Deployment down, rolls the
 * volume back (from the VolumeSnapshot, or from the vault), puts the
 * replica count back and runs the pre- and post-restore hooks. Also the
 * fast path: a deleted app back from its local snapshot.
 *
 * Volume trees are compared by a walk of type, path, mode, size and a
 * checksum of each file's content: the test bed's CSI snapshots are copies
 * that drop hard links, holes and xattrs, so those are kept in the data
 * written but cannot survive a snapshot here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rit.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"

TestSuite(inplace_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *busybox(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/*
 * Namespace ns with PVCs "data" (and "other" when two) and Deployment
 * "writer" (label app=writer) mounting them at /data and /other; waits
 * until its pod is ready.
 */
static void make_app(const char *ns, int two)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	for (int i = 0; i < 1 + two; i++)
		sh("kubectl apply -f - >/dev/null <<'EOF'\n"
		   "apiVersion: v1\nkind: PersistentVolumeClaim\n"
		   "metadata: {name: %s, namespace: %s}\n"
		   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
		   "EOF",
		        i ? "other" : "data", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: apps/v1\nkind: Deployment\n"
	   "metadata: {name: writer, namespace: %s}\n"
	   "spec:\n  replicas: 1\n  selector: {matchLabels: {app: writer}}\n"
	   "  template:\n    metadata: {labels: {app: writer}}\n"
	   "    spec:\n      terminationGracePeriodSeconds: 0\n"
	   "      containers:\n      - name: main\n        image: %s\n"
	   "        imagePullPolicy: Never\n"
	   "        command: [sh, -c, 'sleep 100000']\n"
	   "        volumeMounts: [{name: data, mountPath: /data}%s]\n"
	   "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}%s]\n"
	   "EOF",
	        ns, busybox(), two ? ", {name: other, mountPath: /other}" : "",
	        two ? ", {name: other, persistentVolumeClaim: {claimName: "
	              "other}}"
	            : "");
	sh("kubectl -n %s rollout status deploy/writer --timeout=180s >/dev/null",
	        ns);
}

/* The known data, written into the volume's directory: text, a random
 * file with an xattr, a hard link, a sparse file, a symlink, a version. */
static void write_known(const char *dir)
{
	char p[1024], q[1024];
	snprintf(p, sizeof(p), "%s/app", dir);
	cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
	snprintf(p, sizeof(p), "%s/app/sub", dir);
	cr_assert_eq(mkdir(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/app/a.txt", dir);
	fst_write(p, "alpha\n", 6);
	snprintf(q, sizeof(q), "%s/app/sub/a-link", dir);
	cr_assert_eq(link(p, q), 0);
	snprintf(p, sizeof(p), "%s/app/sub/random.bin", dir);
	fst_write_random(p, 1 << 20, 7);
	cr_assert_eq(setxattr(p, "user.astra", "v1", 2, 0), 0);
	snprintf(p, sizeof(p), "%s/app/sparse.img", dir);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	fseek(f, 8 << 20, SEEK_SET);
	fputs("end", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/app/link", dir);
	cr_assert_eq(symlink("a.txt", p), 0);
	snprintf(p, sizeof(p), "%s/app/version", dir);
	fst_write(p, "v1\n", 3);
}

/* Type, path, mode, size, link count, owner, allocated blocks (holes),
 * modification time, xattrs and content checksum of every item below the
 * volume of PVC ns/pvc (lost+found aside), sorted, into out: two volumes
 * with the same walk hold the same tree. */
static void walk(char *out, size_t n, const char *ns, const char *pvc)
{
	char dir[1024];
	rit_pvc_dir(dir, sizeof(dir), ns, pvc);
	capture(out, n,
	        "cd '%s' && find . -path ./lost+found -prune -o -mindepth 1 "
	        "-printf '%%y %%p %%m %%s %%n %%U:%%G %%b %%T@\\n' | sort; "
	        "find . -path ./lost+found -prune -o -mindepth 1 ! -type l "
	        "-print | sort | xargs -r -d '\\n' getfattr --absolute-names "
	        "-h -d -m - 2>/dev/null | grep -v '^$'; find . -type f -exec "
	        "md5sum {} + | sort -k2",
	        dir);
	cr_assert(strstr(out, "./app"), "nothing in %s: %s", dir, out);
}

/* The app writes newer data in its pod: a new version, a new file and
 * directory, a deleted file, a changed one. */
static void write_newer(const char *ns)
{
	sh("kubectl -n %s exec deploy/writer -- sh -c 'echo v2 > "
	   "/data/app/version; rm /data/app/a.txt; echo new > "
	   "/data/app/new.txt; mkdir -p /data/app/newdir/x; echo y > "
	   "/data/app/newdir/x/y; echo changed >> /data/app/sub/random.bin'",
	        ns);
}

static void hooks(astra_app *a)
{
	const char *stages[] = { "pre-restore", "post-restore" };
	const char *scripts[] = { "echo \"pre:$(cat /data/app/version)\"",
		"echo \"post:$(cat /data/app/version)\"" };
	for (int i = 0; i < 2; i++) {
		astra_hook_options o;
		cr_assert_astra_ok(astra_hook_options_init(
		        &o, ASTRA_HOOK_OPTIONS_VERSION));
		o.stage = stages[i];
		o.script = scripts[i];
		cr_assert_astra_ok(astra_hook_create(a, stages[i], &o, 0));
	}
}

static astra__json *parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "report"));
	return j;
}

/* The report's item for PVC `pvc`. */
static const astra__json *pvc_item(const astra__json *rep, const char *pvc)
{
	const astra__json *items = astra__json_get(rep, "items");
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *e = astra__json_at(items, i);
		if (!strcmp(astra__json_str(e, "kind"),
		            "PersistentVolumeClaim") &&
		        !strcmp(astra__json_str(e, "name"), pvc))
			return e;
	}
	cr_assert_fail("no report item for PVC %s", pvc);
	return NULL;
}

/* The hooks ran: pre-restore saw the newer data in the live pod,
 * post-restore the rolled-back data in the pod that came back. */
static void check_hooks(const astra__json *rep)
{
	const astra__json *hs = astra__json_get(rep, "hooks");
	cr_assert_eq(astra__json_size(hs), 2);
	const astra__json *pre = astra__json_at(hs, 0);
	const astra__json *post = astra__json_at(hs, 1);
	cr_assert_str_eq(astra__json_str(pre, "stage"), "pre-restore");
	cr_assert_str_eq(astra__json_str(post, "stage"), "post-restore");
	cr_assert_str_eq(
	        astra__json_str(
	                astra__json_at(astra__json_get(pre, "results"), 0),
	                "stdout"),
	        "pre:v2\n");
	cr_assert_str_eq(
	        astra__json_str(
	                astra__json_at(astra__json_get(post, "results"), 0),
	                "stdout"),
	        "post:v1\n");
}

/* The Deployment came back with `replicas` ready and no annotation left;
 * the report says so. */
static void check_workload(const astra__json *rep, const char *ns, int replicas)
{
	const astra__json *w =
	        astra__json_at(astra__json_get(rep, "workloads"), 0);
	cr_assert(w, "no workloads in the report");
	cr_assert_str_eq(astra__json_str(w, "name"), "writer");
	cr_assert_str_eq(astra__json_str(w, "result"), "restored", "%s",
	        astra__json_str(w, "reason"));
	cr_assert_eq(astra__json_int(w, "replicas", -1), replicas);
	char out[256];
	capture(out, sizeof(out),
	        "kubectl -n %s get deploy writer -o jsonpath='{.spec.replicas} "
	        "{.status.readyReplicas} "
	        "{.metadata.annotations.astra\\.io/restore-scale}'",
	        ns);
	char want[64];
	snprintf(want, sizeof(want), "%d %d ", replicas, replicas);
	cr_assert_str_eq(out, want);
}

/* Snapshot and backup of the app with known data; returns the walk of
 * the known data in `known`. */
static void protect(
        astra_app *a, astra_vault *v, const char *ns, char *known, size_t n)
{
	char dir[1024];
	rit_pvc_dir(dir, sizeof(dir), ns, "data");
	write_known(dir);
	walk(known, n, ns, "data");
	astra_snapshot_options so;
	astra_snapshot_options_init(&so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	so.name = "s1";
	cr_assert_astra_ok(astra_snapshot_create(a, &so, NULL));
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "b1";
	bo.snapshot = "s1";
	bo.volume_path = rit_vpath;
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, NULL));
}

Test(inplace_it, rollback_from_the_snapshot)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-snap-%s", rit_rid);
	make_app(ns, 0);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	hooks(a);
	astra_vault *v = rit_vault("ip-snap");
	static char known[65536], now[65536];
	protect(a, v, ns, known, sizeof(known));
	write_newer(ns);
	sh("kubectl -n %s scale deploy/writer --replicas=2 >/dev/null && "
	   "kubectl -n %s rollout status deploy/writer --timeout=120s "
	   ">/dev/null",
	        ns, ns);
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_neq(now, known);

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.snapshot_app = ns;
	ro.snapshot = "s1";
	ro.flags = ASTRA_RESTORE_F_REPLACE;
	ro.inplace_timeout_s = 180;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, NULL, &ro, &b));
	astra__json *rep = parse(&b);
	const astra__json *it = pvc_item(rep, "data");
	cr_assert_str_eq(
	        astra__json_str(it, "result"), "rolled-back", "%s", b.ptr);
	cr_assert(strstr(astra__json_str(it, "source"), "VolumeSnapshot"));
	cr_assert_eq(astra__json_int(rep, "rolledBack", 0), 1);
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_eq(now, known);
	check_workload(rep, ns, 2);
	check_hooks(rep);
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(inplace_it, rollback_from_the_backup)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-bk-%s", rit_rid);
	make_app(ns, 0);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	hooks(a);
	astra_vault *v = rit_vault("ip-bk");
	static char known[65536], now[65536];
	protect(a, v, ns, known, sizeof(known));
	char uid0[128], uid1[128];
	capture(uid0, sizeof(uid0),
	        "kubectl -n %s get pvc data -o jsonpath='{.metadata.uid}'", ns);
	write_newer(ns);
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_neq(now, known);

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "b1";
	ro.volume_path = rit_vpath;
	ro.flags = ASTRA_RESTORE_F_REPLACE;
	ro.inplace_timeout_s = 180;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &b));
	astra__json *rep = parse(&b);
	const astra__json *it = pvc_item(rep, "data");
	cr_assert_str_eq(
	        astra__json_str(it, "result"), "rolled-back", "%s", b.ptr);
	cr_assert_str_eq(astra__json_str(it, "source"), "backup b1");
	/* the PVC stayed; its tree equals the backup's again */
	capture(uid1, sizeof(uid1),
	        "kubectl -n %s get pvc data -o jsonpath='{.metadata.uid}'", ns);
	cr_assert_str_eq(uid1, uid0);
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_eq(now, known);
	check_workload(rep, ns, 1);
	check_hooks(rep);
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

/* Volume access that reaches PVC "data" and leads nowhere for the rest. */
static int half_access(const char *pv_json, astra_buf *path, void *payload)
{
	(void)payload;
	astra__json *pv = NULL;
	if (astra__json_parse(&pv, pv_json, strlen(pv_json), "pv"))
		return ASTRA_EINVALID;
	const char *claim =
	        astra__json_str(astra__json_path(pv, "spec.claimRef"), "name");
	const char *h = astra__json_str(
	        astra__json_path(pv, "spec.csi"), "volumeHandle");
	char p[1024];
	if (claim && h && !strcmp(claim, "data"))
		snprintf(p, sizeof(p), "%s/%s", getenv("ASTRA_TB_CSI_VOLUMES"),
		        h);
	else
		snprintf(p, sizeof(p), "/nonexistent/astra-it/%s", h ? h : "");
	astra__json_free(pv);
	return astra__buf_printf(path, "%s", p);
}

Test(inplace_it, unreachable_volume_fails_alone)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-half-%s", rit_rid);
	make_app(ns, 1);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	astra_vault *v = rit_vault("ip-half");
	static char known[65536], now[65536], other0[65536], other1[65536];
	char odir[1024];
	rit_pvc_dir(odir, sizeof(odir), ns, "other");
	write_known(odir);
	protect(a, v, ns, known, sizeof(known));
	write_newer(ns);
	sh("kubectl -n %s exec deploy/writer -- sh -c 'echo v2 > "
	   "/other/app/version'",
	        ns);
	walk(other0, sizeof(other0), ns, "other");

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "b1";
	ro.volume_path_cb = half_access;
	ro.flags = ASTRA_RESTORE_F_REPLACE;
	ro.inplace_timeout_s = 180;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_fail(astra_restore(c, v, &ro, &b), ASTRA_EPARTIAL);
	astra__json *rep = parse(&b);
	const astra__json *ok = pvc_item(rep, "data");
	const astra__json *bad = pvc_item(rep, "other");
	cr_assert_str_eq(astra__json_str(ok, "result"), "rolled-back");
	cr_assert_str_eq(astra__json_str(bad, "result"), "failed");
	const char *why = astra__json_str(bad, "reason");
	cr_assert(why && strstr(why, "other") &&
	                  strstr(why, "cannot be reached") &&
	                  strstr(why, "/nonexistent/astra-it/"),
	        "reason: %s", why ? why : "(none)");
	cr_assert_eq(astra__json_int(rep, "rolledBack", 0), 1);
	/* data rolled back; other untouched; the app is back */
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_eq(now, known);
	walk(other1, sizeof(other1), ns, "other");
	cr_assert_str_eq(other1, other0);
	check_workload(rep, ns, 1);
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(inplace_it, deleted_app_back_from_its_local_snapshot)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-fast-%s", rit_rid);
	make_app(ns, 0);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	astra_vault *v = rit_vault("ip-fast");
	static char known[65536], now[65536];
	protect(a, v, ns, known, sizeof(known));
	sh("kubectl -n %s delete deploy writer --wait=true >/dev/null && "
	   "kubectl -n %s delete pvc data --wait=true >/dev/null",
	        ns, ns);
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.snapshot_app = ns;
	ro.snapshot = "s1";
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, NULL, &ro, &b));
	astra__json *rep = parse(&b);
	cr_assert_str_eq(
	        astra__json_str(pvc_item(rep, "data"), "result"), "created");
	cr_assert_null(astra__json_get(rep, "workloads"));
	sh("kubectl -n %s rollout status deploy/writer --timeout=180s >/dev/null",
	        ns);
	char ds[256];
	capture(ds, sizeof(ds),
	        "kubectl -n %s get pvc data -o jsonpath='{.spec.dataSource.kind}'",
	        ns);
	cr_assert_str_eq(ds, "VolumeSnapshot");
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_eq(now, known);
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(inplace_it, rollback_from_the_backup_through_a_mover_job)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-job-%s", rit_rid);
	make_app(ns, 0);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	astra_vault *v = rit_vault("ip-job");
	static char known[65536], now[65536];
	protect(a, v, ns, known, sizeof(known));
	write_newer(ns);
	astra_mover_options m;
	cr_assert_astra_ok(
	        astra_mover_options_init(&m, ASTRA_MOVER_OPTIONS_VERSION));
	m.strategy = ASTRA_MOVER_JOB;
	m.image = getenv("ASTRA_IT_MOVER_IMAGE");
	m.image_pull_policy = "Never";
	m.timeout_s = 300;
	m.host_network = 1;
	m.vault_password = "integration";
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "b1";
	ro.mover = &m;
	ro.flags = ASTRA_RESTORE_F_REPLACE;
	ro.inplace_timeout_s = 180;
	astra_buf b = ASTRA_BUF_INIT;
	int rrc = astra_restore(c, v, &ro, &b);
	cr_assert_eq(rrc, 0, "restore through a mover Job: %s: %s",
	        astra_error_last()->message, b.ptr ? b.ptr : "");
	astra__json *rep = parse(&b);
	cr_assert_str_eq(astra__json_str(pvc_item(rep, "data"), "result"),
	        "rolled-back", "%s", b.ptr);
	walk(now, sizeof(now), ns, "data");
	cr_assert_str_eq(now, known);
	check_workload(rep, ns, 1);
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

/* The report's entry for workload `name`. */
static const astra__json *workload(const astra__json *rep, const char *name)
{
	const astra__json *ws = astra__json_get(rep, "workloads");
	for (size_t i = 0; i < astra__json_size(ws); i++)
		if (!strcmp(astra__json_str(astra__json_at(ws, i), "name"),
		            name))
			return astra__json_at(ws, i);
	cr_assert_fail("no workload %s in the report", name);
	return NULL;
}

/*
 * A restore interrupted after it scaled the app down left the count in the
 * annotation: the next in-place restore puts that count back. A DaemonSet
 * is paused and resumed. A Deployment whose pods cannot be ready with the
 * rolled-back data is reported by name, and the call is partial.
 */
Test(inplace_it, interrupted_restore_daemonset_and_a_workload_not_back)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "ip-wl-%s", rit_rid);
	make_app(ns, 0);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: apps/v1\nkind: DaemonSet\n"
	   "metadata: {name: agent, namespace: %s}\n"
	   "spec:\n  selector: {matchLabels: {app: agent}}\n"
	   "  template:\n    metadata: {labels: {app: agent}}\n"
	   "    spec:\n      terminationGracePeriodSeconds: 0\n"
	   "      containers:\n      - name: main\n        image: %s\n"
	   "        imagePullPolicy: Never\n"
	   "        command: [sh, -c, 'sleep 100000']\n"
	   "EOF",
	        ns, busybox());
	sh("kubectl -n %s rollout status ds/agent --timeout=180s >/dev/null",
	        ns);
	/* ready only when the volume does not hold version v1: ready now
	 * (no version yet), not after a rollback to the snapshot (v1) */
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: apps/v1\nkind: Deployment\n"
	   "metadata: {name: picky, namespace: %s}\n"
	   "spec:\n  replicas: 1\n  selector: {matchLabels: {app: picky}}\n"
	   "  template:\n    metadata: {labels: {app: picky}}\n"
	   "    spec:\n      terminationGracePeriodSeconds: 0\n"
	   "      containers:\n      - name: main\n        image: %s\n"
	   "        imagePullPolicy: Never\n"
	   "        command: [sh, -c, 'grep -q v1 /data/app/version || touch "
	   "/tmp/ok; sleep 100000']\n"
	   "        readinessProbe: {exec: {command: [test, -f, /tmp/ok]}, "
	   "periodSeconds: 1}\n"
	   "        volumeMounts: [{name: data, mountPath: /data}]\n"
	   "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	   "EOF",
	        ns, busybox());
	sh("kubectl -n %s rollout status deploy/picky --timeout=180s >/dev/null",
	        ns);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	astra_vault *v = rit_vault("ip-wl");
	static char known[65536];
	protect(a, v, ns, known, sizeof(known));
	write_newer(ns);
	/* an earlier restore was interrupted after scaling writer down */
	sh("kubectl -n %s annotate deploy writer restores.astra.dev/scale=2 "
	   ">/dev/null && kubectl -n %s scale deploy writer --replicas=0 "
	   ">/dev/null",
	        ns, ns);

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.snapshot_app = ns;
	ro.snapshot = "s1";
	ro.flags = ASTRA_RESTORE_F_REPLACE;
	ro.inplace_timeout_s = 40;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_fail(astra_restore(c, NULL, &ro, &b), ASTRA_EPARTIAL);
	cr_assert(strstr(astra_error_last()->message, "workload"), "%s",
	        astra_error_last()->message);
	astra__json *rep = parse(&b);
	cr_assert_str_eq(astra__json_str(pvc_item(rep, "data"), "result"),
	        "rolled-back", "%s", b.ptr);
	/* the count from before the interrupted restore */
	const astra__json *w = workload(rep, "writer");
	cr_assert_str_eq(astra__json_str(w, "result"), "restored");
	cr_assert_eq(astra__json_int(w, "replicas", -1), 2);
	char out[256];
	capture(out, sizeof(out),
	        "kubectl -n %s get deploy writer -o jsonpath='{.spec.replicas} "
	        "{.status.readyReplicas}'",
	        ns);
	cr_assert_str_eq(out, "2 2");
	/* the DaemonSet: paused, then back, without the pause key */
	w = workload(rep, "agent");
	cr_assert_str_eq(astra__json_str(w, "kind"), "DaemonSet");
	cr_assert_str_eq(astra__json_str(w, "result"), "restored", "%s",
	        astra__json_str(w, "reason"));
	cr_assert_null(astra__json_get(w, "replicas"));
	capture(out, sizeof(out),
	        "kubectl -n %s get ds agent -o jsonpath='{.spec.template.spec."
	        "nodeSelector} {.status.numberReady} "
	        "{.metadata.annotations.astra\\.io/restore-scale}'",
	        ns);
	cr_assert_str_eq(out, " 1 ");
	/* picky cannot be ready with v1: named, with the cause */
	w = workload(rep, "picky");
	cr_assert_str_eq(astra__json_str(w, "result"), "failed");
	const char *why = astra__json_str(w, "reason");
	cr_assert(why && strstr(why, "not ready within 40 s") &&
	                  strstr(why, "0 of 1"),
	        "reason: %s", why ? why : "(none)");
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}
