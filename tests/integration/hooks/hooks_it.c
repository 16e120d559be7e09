/*
 * Execution hooks and pods/exec on a real test-bed cluster with a node
 * (kube-scheduler, kubelet, containerd: tests/testbed/up --node) running
 * real containers from the test bed's local busybox image. Run through
 * tests/integration/hooks/run.sh.
 */
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
	cr_assert(getenv("ASTRA_TB_KUBECONFIG"),
	        "run through tests/integration/hooks/run.sh");
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
}

static void suite_fini(void)
{
	astra_shutdown();
}

TestSuite(hooks_it, .init = suite_init, .fini = suite_fini, .timeout = 300);

static const char *image(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/*
 * Namespace ns with pod "db" (containers "main" and "side", label
 * role=db) and pod "web" (container "web"), each container with $CNAME
 * set to its own name; waits until they run.
 */
static void make_pods(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	const char *img = image();
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: %s, labels: {role: db}}\n"
	   "spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
	   "  - {name: main, image: %s, imagePullPolicy: Never, command: [sh, -c, 'sleep 100000'], env: [{name: CNAME, value: main}]}\n"
	   "  - {name: side, image: %s, imagePullPolicy: Never, command: [sh, -c, 'sleep 100000'], env: [{name: CNAME, value: side}]}\n"
	   "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: %s, labels: {role: web}}\n"
	   "spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
	   "  - {name: web, image: %s, imagePullPolicy: Never, command: [sh, -c, 'sleep 100000'], env: [{name: CNAME, value: web}]}\n"
	   "EOF",
	        ns, img, img, ns, img);
	sh("kubectl -n %s wait --for=condition=Ready pod --all --timeout=120s >/dev/null",
	        ns);
}

static astra_app *define(astra_cluster *c, const char *name, const char *ns)
{
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", name,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	return a;
}

static void hook(astra_app *a, const char *name, const char *stage,
        const char *script, const char *pod_re, const char *ctr_re,
        const char *selector, unsigned timeout_s, int on_error, const char *arg)
{
	astra_hook_options o;
	cr_assert_astra_ok(
	        astra_hook_options_init(&o, ASTRA_HOOK_OPTIONS_VERSION));
	o.stage = stage;
	o.script = script;
	o.pod_regex = pod_re;
	o.container_regex = ctr_re;
	o.selector = selector;
	o.timeout_s = timeout_s;
	o.on_error = on_error;
	const char *args[1] = { arg };
	if (arg) {
		o.args = args;
		o.nargs = 1;
	}
	cr_assert_astra_ok(astra_hook_create(a, name, &o, 0));
}

static astra__json *parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "record"));
	return j;
}

static const astra__json *stage_of(const astra__json *rec, const char *stage)
{
	const astra__json *hooks = astra__json_get(rec, "hooks");
	for (size_t i = 0; i < astra__json_size(hooks); i++)
		if (!strcmp(astra__json_str(astra__json_at(hooks, i), "stage"),
		            stage))
			return astra__json_at(hooks, i);
	cr_assert_fail("no stage %s in the record", stage);
	return NULL;
}

static void expect(const astra__json *r, const char *hook, const char *pod,
        const char *ctr, const char *result)
{
	cr_assert_not_null(r, "missing result for %s in %s/%s", hook, pod, ctr);
	cr_assert_str_eq(astra__json_str(r, "hook"), hook);
	cr_assert_str_eq(astra__json_str(r, "pod"), pod);
	cr_assert_str_eq(astra__json_str(r, "container"), ctr);
	cr_assert_str_eq(astra__json_str(r, "result"), result,
	        "hook %s in %s/%s: %s (%s)", hook, pod, ctr,
	        astra__json_str(r, "result"), astra__json_str(r, "error"));
}

Test(hooks_it, run_in_the_matching_containers_in_order_with_output_captured)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "hk-ord-%s", rid);
	make_pods(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, ns, ns);
	/* created out of order: run by name; containers by pod, name */
	hook(a, "b-main", "pre-snapshot", "echo \"$1:$CNAME\"", NULL, "^main$",
	        NULL, 0, 0, "second");
	hook(a, "a-db", "pre-snapshot",
	        "echo \"$1:$CNAME\"; echo err-$CNAME >&2", NULL, NULL,
	        "role=db", 0, 0, "first");
	hook(a, "c-web", "post-snapshot", "echo \"$1:$CNAME\"", "^web$", NULL,
	        NULL, 0, 0, "after");
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_hook_list(a, &b));
	astra__json *list = parse(&b);
	astra_buf_dispose(&b);
	cr_assert_eq(astra__json_size(list), 3);
	cr_assert_str_eq(
	        astra__json_str(astra__json_at(list, 0), "name"), "a-db");
	astra__json_free(list);

	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "ordered";
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	astra__json *rec = parse(&b);
	astra_buf_dispose(&b);
	const astra__json *pre = stage_of(rec, "pre-snapshot");
	const astra__json *res = astra__json_get(pre, "results");
	cr_assert_eq(
	        astra__json_size(res), 3, "%zu results", astra__json_size(res));
	expect(astra__json_at(res, 0), "a-db", "db", "main", "ok");
	expect(astra__json_at(res, 1), "a-db", "db", "side", "ok");
	expect(astra__json_at(res, 2), "b-main", "db", "main", "ok");
	/* the output proves where each ran, and with which argument */
	cr_assert_str_eq(astra__json_str(astra__json_at(res, 0), "stdout"),
	        "first:main\n");
	cr_assert_str_eq(astra__json_str(astra__json_at(res, 1), "stdout"),
	        "first:side\n");
	cr_assert_str_eq(astra__json_str(astra__json_at(res, 1), "stderr"),
	        "err-side\n");
	cr_assert_str_eq(astra__json_str(astra__json_at(res, 2), "stdout"),
	        "second:main\n");
	cr_assert_eq(
	        astra__json_int(astra__json_at(res, 0), "exitCode", -9), 0);
	const astra__json *post = stage_of(rec, "post-snapshot");
	res = astra__json_get(post, "results");
	cr_assert_eq(astra__json_size(res), 1);
	expect(astra__json_at(res, 0), "c-web", "web", "web", "ok");
	cr_assert_str_eq(astra__json_str(astra__json_at(res, 0), "stdout"),
	        "after:web\n");
	astra__json_free(rec);
	/* the record keeps them: snapshot show */
	cr_assert_astra_ok(astra_snapshot_get(c, ns, "ordered", 0, &b));
	cr_assert(strstr(b.ptr, "second:main"));
	astra_buf_dispose(&b);
	/* and delete removes a hook */
	cr_assert_astra_ok(astra_hook_delete(a, "c-web"));
	cr_assert_astra_fail(astra_hook_delete(a, "c-web"), ASTRA_ENOTFOUND);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(hooks_it,
        failing_pre_hook_aborts_the_snapshot_and_the_post_hook_still_runs)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "hk-fail-%s", rid);
	make_pods(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, ns, ns);
	hook(a, "freeze", "pre-snapshot", "echo cannot freeze >&2; exit 3",
	        "^db$", "^main$", NULL, 0, ASTRA_HOOK_ON_ERROR_FAIL, NULL);
	hook(a, "thaw", "post-snapshot", "echo thawed > /tmp/thawed", "^db$",
	        "^main$", NULL, 0, ASTRA_HOOK_ON_ERROR_FAIL, NULL);
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "aborted";
	int rc = astra_snapshot_create(a, &o, NULL);
	cr_assert_lt(rc, 0, "the snapshot must fail");
	const char *msg = astra_error_last()->message;
	cr_assert(strstr(msg, "pre-snapshot hook \"freeze\""), "%s", msg);
	cr_assert(strstr(msg, "exit code 3"), "%s", msg);
	cr_assert(strstr(msg, "cannot freeze"), "%s", msg);
	cr_assert(strstr(msg, "post-snapshot hooks ran: 1, failed: 0"), "%s",
	        msg);
	/* no snapshot exists, and the post hook did run in the container */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_fail(
	        astra_snapshot_get(c, ns, "aborted", 0, &b), ASTRA_ENOTFOUND);
	char got[128];
	capture(got, sizeof(got),
	        "kubectl -n %s exec db -c main -- cat /tmp/thawed", ns);
	cr_assert_str_eq(got, "thawed");
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(hooks_it, timeouts_are_enforced_and_continue_proceeds)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "hk-tmo-%s", rid);
	make_pods(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, ns, ns);
	/* continue: a slow hook and a failing hook do not stop the
	 * snapshot; a big output is truncated */
	hook(a, "slow", "pre-snapshot", "sleep 30", "^web$", NULL, NULL, 2,
	        ASTRA_HOOK_ON_ERROR_CONTINUE, NULL);
	hook(a, "tty", "pre-snapshot",
	        "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); "
	        "done; echo oops >&2; exit 7",
	        "^web$", NULL, NULL, 0, ASTRA_HOOK_ON_ERROR_CONTINUE, NULL);
	uint64_t t0 = astra__mono_ns();
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "continued";
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	uint64_t took_ms = (astra__mono_ns() - t0) / 1000000ULL;
	cr_assert_lt(
	        took_ms, 20000, "took %llu ms", (unsigned long long)took_ms);
	astra__json *rec = parse(&b);
	astra_buf_dispose(&b);
	const astra__json *res =
	        astra__json_get(stage_of(rec, "pre-snapshot"), "results");
	cr_assert_eq(astra__json_size(res), 2);
	expect(astra__json_at(res, 0), "slow", "web", "web", "timeout");
	int64_t d = astra__json_int(astra__json_at(res, 0), "durationMs", 0);
	cr_assert(d >= 1900 && d < 10000, "the timeout took %lld ms",
	        (long long)d);
	const astra__json *f = astra__json_at(res, 1);
	expect(f, "tty", "web", "web", "failed");
	cr_assert_eq(astra__json_int(f, "exitCode", 0), 7);
	cr_assert_str_eq(astra__json_str(f, "stderr"), "oops\n");
	cr_assert(astra__json_bool(f, "stdoutTruncated", 0));
	cr_assert_eq(strlen(astra__json_str(f, "stdout")), 4096);
	cr_assert_eq(
	        astra__json_int(stage_of(rec, "pre-snapshot"), "failed", 0), 2);
	astra__json_free(rec);

	/* fail: the same slow hook stops the snapshot at its timeout */
	cr_assert_astra_ok(astra_hook_delete(a, "tty"));
	cr_assert_astra_ok(astra_hook_delete(a, "slow"));
	hook(a, "slow", "pre-snapshot", "sleep 30", "^web$", NULL, NULL, 2,
	        ASTRA_HOOK_ON_ERROR_FAIL, NULL);
	o.name = "timed-out";
	t0 = astra__mono_ns();
	cr_assert_astra_fail(
	        astra_snapshot_create(a, &o, NULL), ASTRA_ETIMEOUT);
	took_ms = (astra__mono_ns() - t0) / 1000000ULL;
	cr_assert_lt(took_ms, 15000);
	cr_assert(strstr(astra_error_last()->message, "timed out after 2 s"),
	        "%s", astra_error_last()->message);
	astra_app_free(a);
	astra_cluster_free(c);
}

Test(hooks_it, backup_and_restore_stages)
{
	char ns[64], to[64];
	snprintf(ns, sizeof(ns), "hk-bk-%s", rid);
	snprintf(to, sizeof(to), "hk-rs-%s", rid);
	make_pods(ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, ns, ns);
	const char *stages[] = { "pre-backup", "pre-snapshot", "post-snapshot",
		"post-backup" };
	for (int i = 0; i < 4; i++)
		hook(a, stages[i], stages[i],
		        "echo \"$1\" >> /tmp/trace; cat /tmp/trace", "^db$",
		        "^main$", NULL, 0, 0, stages[i]);
	hook(a, "restored", "post-restore", "echo \"restored:$1:$CNAME\"",
	        "^web$", NULL, NULL, 0, 0, "yes");
	char url[600];
	snprintf(url, sizeof(url), "file://%s/vault-hooks-%s", getenv("TMPDIR"),
	        rid);
	astra_vault_options vo;
	astra_vault_options_init(&vo, ASTRA_VAULT_OPTIONS_VERSION);
	vo.password = "integration";
	vo.kdf_log2n = 10;
	astra_vault *v = NULL;
	cr_assert_astra_ok(astra_vault_init(&v, url, &vo));
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "with-hooks";
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, &b));
	astra__json *rec = parse(&b);
	astra_buf_dispose(&b);
	const astra__json *hooks = astra__json_get(rec, "hooks");
	cr_assert_eq(astra__json_size(hooks), 4);
	for (int i = 0; i < 4; i++) {
		const astra__json *s = astra__json_at(hooks, i);
		cr_assert_str_eq(astra__json_str(s, "stage"), stages[i]);
		cr_assert_eq(
		        astra__json_int(s, "hooks", 0), 1, "%s", stages[i]);
	}
	/* the trace in the container shows the order */
	const astra__json *last = astra__json_at(
	        astra__json_get(astra__json_at(hooks, 3), "results"), 0);
	cr_assert_str_eq(astra__json_str(last, "stdout"),
	        "pre-backup\npre-snapshot\npost-snapshot\npost-backup\n");
	cr_assert_eq(
	        astra__json_size(astra__json_get(rec, "hookDefinitions")), 1);
	astra__json_free(rec);
	/* backup show */
	cr_assert_astra_ok(astra_backup_get(v, "with-hooks", &b));
	cr_assert(strstr(b.ptr, "post-backup"));
	astra_buf_dispose(&b);

	/* restore into another namespace: the post-restore hook runs in the
	 * restored pod once it runs */
	char map[160];
	snprintf(map, sizeof(map), "%s=%s", ns, to);
	const char *maps[] = { map };
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "with-hooks";
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &b));
	astra__json *rep = parse(&b);
	astra_buf_dispose(&b);
	const astra__json *rh =
	        astra__json_at(astra__json_get(rep, "hooks"), 0);
	cr_assert_str_eq(astra__json_str(rh, "stage"), "post-restore");
	const astra__json *r0 =
	        astra__json_at(astra__json_get(rh, "results"), 0);
	expect(r0, "restored", "web", "web", "ok");
	cr_assert_str_eq(astra__json_str(r0, "namespace"), to);
	cr_assert_str_eq(astra__json_str(r0, "stdout"), "restored:yes:web\n");
	astra__json_free(rep);
	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
}

/* pods/exec directly: stdin on v5, the v4 fallback, clear errors */
Test(hooks_it, pod_exec_protocols_and_errors)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "hk-ex-%s", rid);
	make_pods(ns);
	/* a pod that never runs */
	sh("kubectl -n %s apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: Pod\nmetadata: {name: nowhere}\n"
	   "spec: {nodeSelector: {none: none}, containers: [{name: c, image: %s}]}\nEOF",
	        ns, image());
	astra__kube *k = NULL;
	astra__kube_options ko = { 0 };
	cr_assert_astra_ok(astra__kube_open(&k, &ko));
	const char *cat[] = { "/bin/sh", "-c",
		"cat; echo \"$CNAME\" >&2; exit 5", NULL };
	astra__kube_exec_options o = { 0 };
	o.ns = ns;
	o.pod = "db";
	o.container = "side";
	o.argv = cat;
	o.use_stdin = 1;
	static char in[200000];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)('a' + i % 26);
	o.stdin_data = in;
	o.stdin_len = sizeof(in);
	o.max_stdout = sizeof(in);
	o.timeout_ms = 20000;
	astra__kube_exec_result r;
	cr_assert_astra_ok(astra__kube_pod_exec(k, &o, &r));
	cr_assert_str_eq(r.protocol, ASTRA_KUBE_EXEC_V5);
	cr_assert_eq(r.exit_code, 5);
	cr_assert_eq(r.out.size, sizeof(in));
	cr_assert_eq(memcmp(r.out.ptr, in, sizeof(in)), 0);
	cr_assert_str_eq(r.err.ptr, "side\n");
	astra__kube_exec_result_dispose(&r);
	/* v4 only: stdin cannot be closed, said before sending any */
	const char *v4[] = { ASTRA_KUBE_EXEC_V4, NULL };
	o.protocols = v4;
	cr_assert_astra_fail(
	        astra__kube_pod_exec(k, &o, &r), ASTRA_ENOTSUPPORTED);
	cr_assert(r.no_stdin_close);
	astra__kube_exec_result_dispose(&r);
	const char *arg[] = { "/bin/sh", "-c", "echo \"$0 $1\"", "x", "y",
		NULL };
	o.argv = arg;
	o.use_stdin = 0;
	cr_assert_astra_ok(astra__kube_pod_exec(k, &o, &r));
	cr_assert_str_eq(r.protocol, ASTRA_KUBE_EXEC_V4);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out.ptr, "x y\n");
	astra__kube_exec_result_dispose(&r);
	o.protocols = NULL;
	/* clear errors naming the cause */
	o.pod = "nowhere";
	o.container = NULL;
	cr_assert_astra_fail(astra__kube_pod_exec(k, &o, &r), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "nowhere"), "%s",
	        astra_error_last()->message);
	astra__kube_exec_result_dispose(&r);
	o.pod = "missing";
	cr_assert_astra_fail(astra__kube_pod_exec(k, &o, &r), ASTRA_ENOTFOUND);
	astra__kube_exec_result_dispose(&r);
	o.pod = "db";
	o.container = "nope";
	cr_assert_lt(astra__kube_pod_exec(k, &o, &r), 0);
	cr_assert(strstr(astra_error_last()->message, "nope"), "%s",
	        astra_error_last()->message);
	astra__kube_exec_result_dispose(&r);
	const char *nocmd[] = { "/no/such/command", NULL };
	o.container = "main";
	o.argv = nocmd;
	int rc = astra__kube_pod_exec(k, &o, &r);
	cr_assert(rc < 0 || r.exit_code != 0, "a missing command must fail");
	astra__kube_exec_result_dispose(&r);
	astra__kube_free(k);
}

/*
 * A database written continuously (SQLite on a PVC, transactions of two
 * rows): the pre-snapshot hook stops the writer between transactions and
 * reports the row count, the post-snapshot hook lets it go on. The volume
 * restored from the snapshot passes SQLite's integrity check and holds
 * exactly the rows counted while the writer was stopped, while the live
 * database has moved on.
 */
Test(hooks_it, database_quiesced_by_hooks_snapshots_consistently)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "hk-db-%s", rid);
	const char *sqlite_img = getenv("ASTRA_TB_IMAGE_SQLITE");
	if (!sqlite_img || !*sqlite_img)
		sqlite_img = "astra.local/sqlite:tb";
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}, storageClassName: %s}\n"
	   "---\napiVersion: v1\nkind: Pod\nmetadata: {name: writer, namespace: %s}\n"
	   "spec:\n  terminationGracePeriodSeconds: 0\n"
	   "  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	   "  containers:\n  - name: db\n    image: %s\n    imagePullPolicy: Never\n"
	   "    volumeMounts: [{name: data, mountPath: /data}]\n"
	   "    command:\n    - sh\n    - -c\n    - |\n"
	   "      sqlite3 /data/app.db 'create table if not exists t(id integer primary key, k integer, pad blob)'\n"
	   "      i=0\n"
	   "      while :; do\n"
	   "        if [ -e /tmp/pause ]; then touch /tmp/paused; usleep 20000; continue; fi\n"
	   "        rm -f /tmp/paused\n"
	   "        sqlite3 /data/app.db \"begin; insert into t(k, pad) values ($i, randomblob(4000)); insert into t(k, pad) values ($i, randomblob(4000)); commit;\"\n"
	   "        i=$((i+1))\n"
	   "      done\n"
	   "EOF",
	        ns, getenv("ASTRA_TB_STORAGECLASS"), ns, sqlite_img);
	sh("kubectl -n %s wait --for=condition=Ready pod/writer --timeout=120s >/dev/null",
	        ns);
	/* let it write for a while */
	sh("for i in $(seq 1 100); do n=$(kubectl -n %s exec writer -- sqlite3 /data/app.db 'select count(*) from t' 2>/dev/null); "
	   "[ \"${n:-0}\" -ge 40 ] && exit 0; sleep 0.2; done; exit 1",
	        ns);
	astra_cluster *c = cluster();
	astra_app *a = define(c, ns, ns);
	hook(a, "freeze", "pre-snapshot",
	        "rm -f /tmp/paused; touch /tmp/pause\n"
	        "while [ ! -e /tmp/paused ]; do usleep 10000; done\n"
	        "sync\n"
	        "sqlite3 /data/app.db 'select count(*) from t'\n",
	        "^writer$", "^db$", NULL, 30, ASTRA_HOOK_ON_ERROR_FAIL, NULL);
	hook(a, "thaw", "post-snapshot", "rm -f /tmp/pause", "^writer$", "^db$",
	        NULL, 30, ASTRA_HOOK_ON_ERROR_FAIL, NULL);
	astra_snapshot_options o;
	astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	o.name = "quiesced";
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_snapshot_create(a, &o, &b));
	astra__json *rec = parse(&b);
	astra_buf_dispose(&b);
	const astra__json *fr = astra__json_at(
	        astra__json_get(stage_of(rec, "pre-snapshot"), "results"), 0);
	expect(fr, "freeze", "writer", "db", "ok");
	long frozen = atol(astra__json_str(fr, "stdout"));
	cr_assert_gt(frozen, 0);
	expect(astra__json_at(astra__json_get(stage_of(rec, "post-snapshot"),
	                              "results"),
	               0),
	        "thaw", "writer", "db", "ok");
	const char *vs = astra__json_str(
	        astra__json_at(astra__json_get(rec, "volumes"), 0),
	        "volumeSnapshot");
	cr_assert_not_null(vs);
	/* a PVC from the snapshot, read on the host */
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: restored, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}, storageClassName: %s,\n"
	   "  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: %s}}\nEOF",
	        ns, getenv("ASTRA_TB_STORAGECLASS"), vs);
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound pvc/restored --timeout=120s >/dev/null",
	        ns);
	char dir[1024];
	capture(dir, sizeof(dir),
	        "pv=$(kubectl -n %s get pvc restored -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && "
	        "echo \"$ASTRA_TB_CSI_VOLUMES/$h\"",
	        ns);
	char got[256];
	capture(got, sizeof(got),
	        "sqlite3 '%s/app.db' 'pragma integrity_check'", dir);
	cr_assert_str_eq(got, "ok");
	capture(got, sizeof(got),
	        "sqlite3 '%s/app.db' 'select count(*) from t'", dir);
	cr_assert_eq(atol(got), frozen, "restored %s rows, %ld when frozen",
	        got, frozen);
	capture(got, sizeof(got),
	        "sqlite3 '%s/app.db' 'select count(*) from (select k from t "
	        "group by k having count(*) != 2)'",
	        dir);
	cr_assert_str_eq(got, "0", "half transactions in the snapshot");
	/* the writer was released and went on */
	sh("for i in $(seq 1 100); do n=$(kubectl -n %s exec writer -- sqlite3 /data/app.db 'select count(*) from t' 2>/dev/null); "
	   "[ \"${n:-0}\" -gt %ld ] && exit 0; sleep 0.2; done; exit 1",
	        ns, frozen);
	astra__json_free(rec);
	astra_app_free(a);
	astra_cluster_free(c);
}
