/*
 * Data mover Jobs on a test-bed cluster with a real node: backups and
 * restores of an app with 4 PVCs through Jobs running astractl from a
 * locally built image, compared with the host-path strategy; cleanup after
 * success, failure and cancel; the trust boundary (nothing of the mover in
 * the tenant's namespace, a Secret owned by its Job, restricted pods, the
 * sweep after a killed protector). Each test has its own control
 * namespace but one, which uses the default (astra-system). Run through
 * tests/integration/mover/run.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astra.h"
#include "astra_test.h"
#include "it_helpers.h"
#include "core/clock.h"
#include "fmt/json.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"

#define NVOL 4

static char rid[16];
static char vpath[512];
static const char *image;
/* this test's control namespace ("" : the default, astra-system) */
static char ctl[64];

static const char *ctl_ns(void)
{
	return ctl[0] ? ctl : "astra-system";
}

static void use_ctl(const char *tag)
{
	snprintf(ctl, sizeof(ctl), "ctl-%s-%s", tag, rid);
	const char *as = getenv("ASTRA_IT_PROTECTOR_KUBECONFIG");
	if (as && *as) {
		/* as the protector ServiceAccount: this test's control
		 * namespace gets what deploy/rbac gives astra-system (an
		 * admin makes it, as for astra-system) */
		sh("kubectl create namespace %s >/dev/null && "
		   "kubectl get role astra-control -n astra-system -o yaml | "
		   "sed -e 's/namespace: astra-system/namespace: %s/' "
		   "-e '/resourceVersion:/d' -e '/uid:/d' "
		   "-e '/creationTimestamp:/d' | kubectl apply -f - >/dev/null && "
		   "kubectl create rolebinding astra-control -n %s "
		   "--role astra-control "
		   "--serviceaccount astra-system:astra-protector >/dev/null",
		        ctl, ctl, ctl);
	}
}

static void suite_init(void)
{
	cr_assert(astra_init() > 0);
	cr_assert(getenv("ASTRA_TB_NODE") && getenv("ASTRA_IT_MOVER_IMAGE"),
	        "run through tests/integration/mover/run.sh");
	image = getenv("ASTRA_IT_MOVER_IMAGE");
	snprintf(rid, sizeof(rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
	snprintf(vpath, sizeof(vpath), "%s/{volumeHandle}",
	        getenv("ASTRA_TB_CSI_VOLUMES"));
}

static void suite_fini(void)
{
	astra_shutdown();
}

TestSuite(mover_it, .init = suite_init, .fini = suite_fini, .timeout = 600);

static void vault_url(char *url, size_t n, const char *tag)
{
	snprintf(url, n, "file://%s/vault-%s-%s", getenv("TMPDIR"), tag, rid);
}

static astra_vault *vault_open(const char *url, int create)
{
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "integration";
	o.kdf_log2n = 10;
	astra_vault *v = NULL;
	cr_assert_astra_ok(create ? astra_vault_init(&v, url, &o)
	                          : astra_vault_open(&v, url, &o));
	return v;
}

/* Data blobs (chunks) in a vault, counted from a fresh open, except the
 * backups' manifests (also data blobs; each backup has its own). */
static size_t data_blobs(
        const char *url, const astra__json *rec1, const astra__json *rec2)
{
	astra_vault *v = vault_open(url, 0);
	astra__repo *r = v->r;
	cr_assert_astra_ok(astra__repo_load_index(r));
	astra__id skip[2];
	int nskip = 0;
	const astra__json *recs[2] = { rec1, rec2 };
	for (int i = 0; i < 2; i++)
		if (recs[i])
			cr_assert_astra_ok(astra__id_parse(&skip[nskip++],
			        astra__json_str(recs[i], "manifests")));
	size_t n = 0;
	for (size_t i = 0; i < r->index.cap; i++) {
		const astra__idx_entry *e = &r->index.slots[i];
		int skipped = 0;
		for (int k = 0; k < nskip; k++)
			skipped |= !memcmp(&e->id, &skip[k], sizeof(e->id));
		if (e->used && e->type == ASTRA_BLOB_DATA && !skipped)
			n++;
	}
	astra_vault_free(v);
	return n;
}

/* The volume directory of a bound PVC. */
static void vol_dir(char *out, size_t n, const char *ns, const char *pvc)
{
	capture(out, n,
	        "pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && echo \"$ASTRA_TB_CSI_VOLUMES/$h\"",
	        ns, pvc);
	cr_assert(
	        out[0] && strcmp(out, "/"), "PVC %s/%s has no volume", ns, pvc);
}

/* An app with 4 PVCs, each with its own files (a text file, a 2 MB random
 * blob, a subdirectory), and a ConfigMap. */
static void make_app(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	for (int i = 0; i < NVOL; i++)
		sh("kubectl apply -f - >/dev/null <<'EOF'\n"
		   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: vol%d, namespace: %s, labels: {app: multi}}\n"
		   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}, storageClassName: %s}\n"
		   "EOF",
		        i, ns, getenv("ASTRA_TB_STORAGECLASS"));
	sh("kubectl -n %s create configmap settings --from-literal=mode=multi >/dev/null",
	        ns);
	sh("kubectl -n %s wait --for=jsonpath='{.status.phase}'=Bound pvc --all --timeout=120s >/dev/null",
	        ns);
	for (int i = 0; i < NVOL; i++) {
		char d[600];
		char pvc[16];
		snprintf(pvc, sizeof(pvc), "vol%d", i);
		vol_dir(d, sizeof(d), ns, pvc);
		sh("mkdir -p '%s/sub/deeper' && echo 'volume %d of %s' > '%s/sub/file.txt' && "
		   "head -c 2000000 /dev/urandom > '%s/blob.bin' && echo %d > '%s/sub/deeper/n'",
		        d, i, ns, d, d, i, d);
	}
}

/* sha256 of every file of a PVC, by relative path. */
static void tree_sums(char *out, size_t n, const char *ns, const char *pvc)
{
	char d[600];
	vol_dir(d, sizeof(d), ns, pvc);
	capture(out, n, "cd '%s' && find . -type f | sort | xargs sha256sum",
	        d);
	cr_assert(strstr(out, "./blob.bin"), "PVC %s/%s: no files", ns, pvc);
}

static void same_data(const char *src_ns, const char *dst_ns)
{
	for (int i = 0; i < NVOL; i++) {
		char pvc[16], a[4096], b[4096];
		snprintf(pvc, sizeof(pvc), "vol%d", i);
		tree_sums(a, sizeof(a), src_ns, pvc);
		tree_sums(b, sizeof(b), dst_ns, pvc);
		cr_assert_str_eq(b, a, "PVC %s/%s differs from %s/%s", dst_ns,
		        pvc, src_ns, pvc);
	}
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

static void job_mover(astra_mover_options *m)
{
	cr_assert_astra_ok(
	        astra_mover_options_init(m, ASTRA_MOVER_OPTIONS_VERSION));
	m->strategy = ASTRA_MOVER_JOB;
	m->image = image;
	m->image_pull_policy = "Never";
	m->parallelism = NVOL;
	m->timeout_s = 300;
	m->host_network = 1;
	m->vault_password = "integration";
	m->control_namespace = ctl[0] ? ctl : NULL;
	/* the node has the kubelet's default labels */
	m->node_selector_json = "{\"kubernetes.io/os\":\"linux\"}";
	m->tolerations_json =
	        "[{\"key\":\"example.com/backup\",\"operator\":\"Exists\"}]";
}

/* The last progress report of a backup. */
static astra_progress last_progress;

static int on_progress(const astra_progress *p, void *payload)
{
	(void)payload;
	last_progress = *p;
	return 0;
}

static int backup(astra_app *a, astra_vault *v, const char *name,
        const astra_mover_options *m, astra_cancel *cancel, astra__json **rec)
{
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = name;
	o.volume_path = m ? NULL : vpath;
	o.mover = m;
	o.cancel = cancel;
	o.progress_cb = on_progress;
	memset(&last_progress, 0, sizeof(last_progress));
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_backup_create(a, v, &o, &b);
	if (rec) {
		*rec = NULL;
		if (!rc)
			cr_assert_astra_ok(
			        astra__json_parse(rec, b.ptr, b.size, "rec"));
	}
	astra_buf_dispose(&b);
	return rc;
}

static void restore(astra_cluster *c, astra_vault *v, const char *backup,
        const char *map, const astra_mover_options *m)
{
	astra_restore_options o;
	astra_restore_options_init(&o, ASTRA_RESTORE_OPTIONS_VERSION);
	o.backup = backup;
	const char *maps[1] = { map };
	o.namespace_map = maps;
	o.n_namespace_map = 1;
	o.volume_path = m ? NULL : vpath;
	o.mover = m;
	astra_buf b = ASTRA_BUF_INIT;
	int rrc = astra_restore(c, v, &o, &b);
	cr_assert_eq(rrc, 0, "restore: %s: %s", astra_error_last()->message,
	        b.ptr ? b.ptr : "");
	astra__json *rep = NULL;
	cr_assert_astra_ok(astra__json_parse(&rep, b.ptr, b.size, "report"));
	cr_assert_eq(astra__json_int(rep, "failed", -1), 0, "%s", b.ptr);
	cr_assert_geq(astra__json_int(rep, "created", -1), NVOL + 2);
	astra__json_free(rep);
	astra_buf_dispose(&b);
}

static void nothing_left_in(const char *ns);

/* No Job, pod, temporary PVC or Secret of the mover is left in namespace
 * `ns`, nor in the control namespace, nor any VolumeSnapshot(Content) or
 * PV labelled the mover's (within 60 s: pods terminate asynchronously). */
static void nothing_left(const char *ns)
{
	nothing_left_in(ns);
	nothing_left_in(ctl_ns());
	sh("for i in $(seq 1 120); do "
	   "[ -z \"$(kubectl -n %s get volumesnapshots,leases -l backups.astra.dev/mover=true -o name; "
	   "kubectl get volumesnapshotcontents,pv -l backups.astra.dev/mover=true -o name)\" ] && exit 0; "
	   "sleep 0.5; done; kubectl -n %s get volumesnapshots,leases -l backups.astra.dev/mover=true >&2; "
	   "kubectl get volumesnapshotcontents,pv -l backups.astra.dev/mover=true >&2; exit 1",
	        ctl_ns(), ctl_ns());
}

static void nothing_left_in(const char *ns)
{
	sh("for i in $(seq 1 120); do "
	   "[ -z \"$(kubectl -n %s get jobs,pods,pvc,secrets -l backups.astra.dev/mover=true -o name)\" ] && exit 0; "
	   "sleep 0.5; done; kubectl -n %s get jobs,pods,pvc,secrets -l backups.astra.dev/mover=true >&2; exit 1",
	        ns, ns);
	/* and nothing named like a mover object without the label */
	char left[2048];
	capture(left, sizeof(left),
	        "kubectl -n %s get jobs,pods,pvc,secrets -o name | grep astra-mv- || true",
	        ns);
	cr_assert_str_empty(left, "left behind in %s: %s", ns, left);
}

Test(mover_it, jobs_in_parallel_match_the_host_path_strategy)
{
	use_ctl("par");
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "multi-%s", rid);
	snprintf(app, sizeof(app), "multi-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	vault_url(url, sizeof(url), "same");
	astra_vault *v = vault_open(url, 1);
	astra_app *a = define(c, app, ns);

	/* host path first: every data chunk enters the vault */
	astra__json *hp = NULL, *jb = NULL;
	uint64_t th = astra__mono_ns();
	cr_assert_astra_ok(backup(a, v, "hp", NULL, NULL, &hp));
	double hp_secs = (double)(astra__mono_ns() - th) / 1e9;
	size_t chunks_hp = data_blobs(url, hp, NULL);
	cr_assert_gt(chunks_hp, 0);

	/* then through 4 Jobs at once */
	astra_mover_options m;
	job_mover(&m);
	uint64_t t0 = astra__mono_ns();
	cr_assert_astra_ok(backup(a, v, "jobs", &m, NULL, &jb));
	double secs = (double)(astra__mono_ns() - t0) / 1e9;
	const astra__json *vols = astra__json_get(jb, "volumes");
	cr_assert_eq(astra__json_size(vols), NVOL);
	/* progress: every object and volume done, with its bytes
	 * (docs/backups.md, "Progress") */
	cr_assert_eq(last_progress.items_total,
	        NVOL + (uint64_t)astra__json_int(jb, "resources", 0));
	cr_assert_eq(last_progress.items_done, last_progress.items_total);
	cr_assert_eq(last_progress.bytes_done, last_progress.bytes_total);
	cr_assert_geq(last_progress.bytes_done, (uint64_t)NVOL * 2000000);
	char max_start[40] = "", min_end[40] = "~";
	for (int i = 0; i < NVOL; i++) {
		const astra__json *vol = astra__json_at(vols, (size_t)i);
		const astra__json *mv = astra__json_get(vol, "mover");
		const char *s = astra__json_str(mv, "started");
		const char *e = astra__json_str(mv, "completed");
		cr_assert(s && e && *s && *e, "volume %d: no Job times", i);
		cr_assert(!strncmp(astra__json_str(mv, "job"), "astra-mv-", 9));
		if (strcmp(s, max_start) > 0)
			snprintf(max_start, sizeof(max_start), "%s", s);
		if (strcmp(e, min_end) < 0)
			snprintf(min_end, sizeof(min_end), "%s", e);
		/* the same files as the host-path backup of the same PVC */
		const astra__json *hv = astra__json_at(
		        astra__json_get(hp, "volumes"), (size_t)i);
		cr_assert_str_eq(astra__json_str(vol, "pvc"),
		        astra__json_str(hv, "pvc"));
		cr_assert_eq(astra__json_int(vol, "bytes", -1),
		        astra__json_int(hv, "bytes", -2));
		cr_assert_eq(astra__json_int(vol, "files", -1),
		        astra__json_int(hv, "files", -2));
		cr_assert_str_neq(astra__json_str(vol, "data"),
		        astra__json_str(hv, "data"));
	}
	/* every Job started before the first one completed: they overlapped */
	cr_assert_lt(strcmp(max_start, min_end), 0,
	        "Jobs did not overlap: last start %s, first completion %s",
	        max_start, min_end);
	fprintf(stderr,
	        "mover_it: %d volumes through Jobs in %.1f s, through the "
	        "host path in %.1f s (last Job start %s, first completion "
	        "%s)\n",
	        NVOL, secs, hp_secs, max_start, min_end);
	/* deduplicated against the host-path backup: no new data chunk */
	size_t chunks_jb = data_blobs(url, hp, jb);
	cr_assert_eq(chunks_jb, chunks_hp,
	        "the Job backup added data chunks (%zu -> %zu)", chunks_hp,
	        chunks_jb);
	nothing_left(ns);

	/* restores: the Jobs' backup through Jobs, the host-path backup
	 * through the host path; both give the original files */
	char ns_j[64], ns_h[64], map[160];
	snprintf(ns_j, sizeof(ns_j), "multi-j-%s", rid);
	snprintf(ns_h, sizeof(ns_h), "multi-h-%s", rid);
	snprintf(map, sizeof(map), "%s=%s", ns, ns_j);
	restore(c, v, "jobs", map, &m);
	snprintf(map, sizeof(map), "%s=%s", ns, ns_h);
	restore(c, v, "hp", map, NULL);
	same_data(ns, ns_j);
	same_data(ns, ns_h);
	sh("kubectl -n %s get configmap settings >/dev/null", ns_j);
	nothing_left(ns_j);
	/* the vault is sound after parallel writers */
	astra_buf rep = ASTRA_BUF_INIT;
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	cr_assert_astra_ok(astra_vault_check(v, &co, &rep));
	astra_buf_dispose(&rep);
	astra__json_free(hp);
	astra__json_free(jb);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(mover_it, a_failing_job_fails_the_backup_and_leaves_nothing)
{
	use_ctl("fail");
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "fail-%s", rid);
	snprintf(app, sizeof(app), "fail-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	vault_url(url, sizeof(url), "fail");
	astra_vault *v = vault_open(url, 1);
	astra_app *a = define(c, app, ns);
	astra_mover_options m;
	job_mover(&m);
	/* the pods get a wrong vault password: astractl exits 1 */
	m.vault_password = "not-the-password";
	int rc = backup(a, v, "wrongpw", &m, NULL, NULL);
	cr_assert_lt(rc, 0);
	const char *msg = astra_error_last()->message;
	cr_assert(strstr(msg, "mover Job ") && strstr(msg, "astra-mv-"),
	        "message names no Job: %s", msg);
	cr_assert(strstr(msg, "exit code 1"), "no exit code: %s", msg);
	cr_assert(strstr(msg, "wrong password"), "no termination message: %s",
	        msg);
	cr_assert(strstr(msg, "backup wrongpw"), "%s", msg);
	fprintf(stderr, "mover_it: wrong password: %s\n", msg);
	nothing_left(ns);
	/* nothing recorded */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_eq(astra_backup_get(v, "wrongpw", &b), ASTRA_ENOTFOUND);
	astra_buf_dispose(&b);

	/* a Job past its deadline (a 1 s activeDeadlineSeconds) */
	job_mover(&m);
	m.timeout_s = 1;
	rc = backup(a, v, "deadline", &m, NULL, NULL);
	cr_assert_lt(rc, 0);
	msg = astra_error_last()->message;
	cr_assert(strstr(msg, "DeadlineExceeded") && strstr(msg, "astra-mv-"),
	        "%s", msg);
	fprintf(stderr, "mover_it: deadline: %s\n", msg);
	nothing_left(ns);

	/* an image that does not exist on the node */
	job_mover(&m);
	m.image = "astra.local/no-such-image:tb";
	rc = backup(a, v, "noimage", &m, NULL, NULL);
	cr_assert_lt(rc, 0);
	msg = astra_error_last()->message;
	cr_assert(strstr(msg, "ErrImageNeverPull"), "%s", msg);
	nothing_left(ns);

	/* a restore whose Jobs fail: every PVC is reported failed with its
	 * Job's message, the rest is restored, nothing is left */
	cr_assert_astra_ok(backup(a, v, "good", NULL, NULL, NULL));
	job_mover(&m);
	m.vault_password = "not-the-password";
	char ns2[64], map[160];
	snprintf(ns2, sizeof(ns2), "fail-r-%s", rid);
	snprintf(map, sizeof(map), "%s=%s", ns, ns2);
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "good";
	const char *maps[1] = { map };
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	ro.mover = &m;
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_eq(astra_restore(c, v, &ro, &rb), ASTRA_EPARTIAL);
	astra__json *rep = NULL;
	cr_assert_astra_ok(astra__json_parse(&rep, rb.ptr, rb.size, "report"));
	cr_assert_eq(astra__json_int(rep, "failed", -1), NVOL, "%s", rb.ptr);
	const astra__json *items = astra__json_get(rep, "items");
	int pvc_fail = 0;
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *it = astra__json_at(items, i);
		const char *reason = astra__json_str(it, "reason");
		if (!strcmp(astra__json_str(it, "kind"),
		            "PersistentVolumeClaim") &&
		        reason && strstr(reason, "mover Job ") &&
		        strstr(reason, "wrong password"))
			pvc_fail++;
		if (!strcmp(astra__json_str(it, "kind"), "ConfigMap"))
			cr_assert_str_eq(
			        astra__json_str(it, "result"), "created");
	}
	cr_assert_eq(pvc_fail, NVOL, "%s", rb.ptr);
	astra__json_free(rep);
	astra_buf_dispose(&rb);
	nothing_left(ns2);

	/* bad options fail before anything is created */
	job_mover(&m);
	m.image = NULL;
	cr_assert_eq(backup(a, v, "noopt", &m, NULL, NULL), ASTRA_EINVALID);
	job_mover(&m);
	m.strategy = 7;
	cr_assert_eq(
	        backup(a, v, "badstrategy", &m, NULL, NULL), ASTRA_EINVALID);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

typedef struct {
	astra_app *a;
	astra_vault *v;
	astra_mover_options *m;
	astra_cancel *tok;
	int rc;
} bg;

static void *bg_backup(void *arg)
{
	bg *b = arg;
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = "cancelled";
	o.mover = b->m;
	o.cancel = b->tok;
	b->rc = astra_backup_create(b->a, b->v, &o, NULL);
	return NULL;
}

Test(mover_it, cancel_stops_the_jobs_and_cleans_up)
{
	use_ctl("cancel");
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "cancel-%s", rid);
	snprintf(app, sizeof(app), "cancel-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	vault_url(url, sizeof(url), "cancel");
	astra_vault *v = vault_open(url, 1);
	astra_app *a = define(c, app, ns);
	astra_mover_options m;
	job_mover(&m);
	bg b = { a, v, &m, NULL, 1 };
	cr_assert_astra_ok(astra_cancel_new(&b.tok));
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bg_backup, &b), 0);
	/* cancel as soon as a mover Job exists */
	sh("for i in $(seq 1 600); do "
	   "[ -n \"$(kubectl -n %s get jobs -l backups.astra.dev/mover=true -o name)\" ] && exit 0; "
	   "sleep 0.1; done; exit 1",
	        ctl_ns());
	astra_cancel_request(b.tok);
	pthread_join(t, NULL);
	cr_assert_eq(b.rc, ASTRA_ECANCELLED, "rc %d: %s", b.rc,
	        astra_error_last()->message);
	nothing_left(ns);
	astra_cancel_free(b.tok);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

Test(mover_it, astractl_backs_up_and_clones_through_jobs)
{
	use_ctl("cli");
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "cli-%s", rid);
	snprintf(app, sizeof(app), "cli-%s", rid);
	make_app(ns);
	vault_url(url, sizeof(url), "cli");
	astra_vault_free(vault_open(url, 1));
	const char *actl = getenv("ASTRA_IT_ASTRACTL");
	cr_assert(actl);
	sh("export ASTRA_VAULT_PASSWORD=integration ASTRA_VAULT='%s'; "
	   "'%s' app define %s --namespace %s >/dev/null && "
	   "'%s' backup create %s --name clib --mover job --mover-image %s "
	   "--mover-parallel 2 --mover-host-network --mover-control-namespace %s "
	   "-o json > \"$TMPDIR/cli-%s.json\" && "
	   "'%s' clone %s --namespace-map %s=%s-c --from-backup clib --mover job "
	   "--mover-image %s --mover-host-network --mover-control-namespace %s >/dev/null",
	        url, actl, app, ns, actl, app, image, ctl_ns(), rid, actl, app,
	        ns, ns, image, ctl_ns());
	char jobs[64];
	capture(jobs, sizeof(jobs),
	        "grep -c '\"job\": \"astra-mv-' \"$TMPDIR/cli-%s.json\"", rid);
	cr_assert_str_eq(jobs, "4");
	/* --mover-parallel 2: no more than two Jobs ran at once. The
	 * most run at once is the most running at some Job's start: count
	 * the Jobs started at or before it and not yet completed. Job times
	 * are whole seconds and a Job is created only after the one it
	 * replaces completed, so a Job that completed in the second another
	 * started does not count. (A long Job may overlap several short
	 * ones in turn; that is not more than two at once.) */
	char path[600];
	snprintf(path, sizeof(path), "%s/cli-%s.json", getenv("TMPDIR"), rid);
	FILE *f = fopen(path, "r");
	cr_assert(f);
	static char text[65536];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	astra__json *rec = NULL;
	cr_assert_astra_ok(astra__json_parse(&rec, text, len, path));
	const astra__json *vols = astra__json_get(rec, "volumes");
	cr_assert_eq(astra__json_size(vols), NVOL);
	for (size_t i = 0; i < NVOL; i++) {
		const astra__json *mi =
		        astra__json_get(astra__json_at(vols, i), "mover");
		const char *t = astra__json_str(mi, "started");
		cr_assert(t && *t && astra__json_str(mi, "completed"));
		int running = 0;
		for (size_t k = 0; k < NVOL; k++) {
			const astra__json *mk = astra__json_get(
			        astra__json_at(vols, k), "mover");
			if (strcmp(astra__json_str(mk, "started"), t) <= 0 &&
			        strcmp(astra__json_str(mk, "completed"), t) > 0)
				running++;
		}
		cr_assert_leq(running, 2, "%d Jobs ran at once when %s started",
		        running, astra__json_str(mi, "job"));
	}
	astra__json_free(rec);
	char dst[80];
	snprintf(dst, sizeof(dst), "%s-c", ns);
	same_data(ns, dst);
	/* usage errors */
	char out[512];
	capture(out, sizeof(out),
	        "'%s' backup create %s --mover jobs 2>&1; echo \" rc=$?\"",
	        actl, app);
	cr_assert(strstr(out, "--mover takes hostpath or job") &&
	                  strstr(out, "rc=2"),
	        "%s", out);
	capture(out, sizeof(out),
	        "ASTRA_VAULT_PASSWORD=integration ASTRA_VAULT='%s' '%s' backup create %s --mover job 2>&1; echo \" rc=$?\"",
	        url, actl, app);
	cr_assert(
	        strstr(out, "--mover-image") && strstr(out, "rc=2"), "%s", out);
	nothing_left(ns);
	nothing_left(dst);
}

Test(mover_it, jobs_reach_an_s3_vault_on_loopback)
{
	use_ctl("s3");
	cr_assert(getenv("ASTRA_TB_S3_ENDPOINT"), "MinIO (run.sh) missing");
	/* credentials of this process reach the pods through the Secret */
	setenv("AWS_ACCESS_KEY_ID", getenv("ASTRA_TB_S3_ACCESS_KEY"), 1);
	setenv("AWS_SECRET_ACCESS_KEY", getenv("ASTRA_TB_S3_SECRET_KEY"), 1);
	setenv("AWS_REGION", getenv("ASTRA_TB_S3_REGION"), 1);
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "s3-%s", rid);
	snprintf(app, sizeof(app), "s3-%s", rid);
	make_app(ns);
	snprintf(url, sizeof(url), "s3://%s/mover-%s?endpoint=%s",
	        getenv("ASTRA_TB_S3_BUCKET_PLAIN"), rid,
	        getenv("ASTRA_TB_S3_ENDPOINT"));
	astra_cluster *c = cluster();
	astra_vault *v = vault_open(url, 1);
	astra_app *a = define(c, app, ns);
	astra_mover_options m;
	job_mover(&m);
	astra__json *rec = NULL;
	cr_assert_astra_ok(backup(a, v, "s3jobs", &m, NULL, &rec));
	cr_assert_eq(astra__json_size(astra__json_get(rec, "volumes")), NVOL);
	nothing_left(ns);
	char ns2[64], map[160];
	snprintf(ns2, sizeof(ns2), "s3-r-%s", rid);
	snprintf(map, sizeof(map), "%s=%s", ns, ns2);
	restore(c, v, "s3jobs", map, &m);
	same_data(ns, ns2);
	nothing_left(ns2);
	/* the Jobs never get this process's keys: they get session
	 * credentials the vault's store made (STS AssumeRole with a policy
	 * limited to the vault's prefix), so with the keys gone from this
	 * process's environment (the open vault keeps its own) the Jobs
	 * still open the vault */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	cr_assert_astra_ok(backup(a, v, "s3narrow", &m, NULL, NULL));
	nothing_left(ns);
	astra__json_free(rec);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

/* ---- the trust boundary ---- */

/* Watches, until stop_watch() or the end of this process, every 0.2 s: the
 * names of the Secrets, Jobs, pods and PVCs in tenant namespace `ns` (appended
 * to $TMPDIR/watch-TAG.names), and the mover's Jobs, Secrets and pods in the
 * control namespace (each non-empty listing with a Secret and a pod is
 * kept as $TMPDIR/watch-TAG-N.json). */
static void start_watch(const char *tag, const char *ns)
{
	sh("d=\"$TMPDIR\"; rm -f \"$d/watch-%s\"*; touch \"$d/watch-%s.run\"; "
	   "( n=0; while [ -e \"$d/watch-%s.run\" ] && kill -0 %d; do "
	   "echo >> \"$d/watch-%s.ticks\"; "
	   "kubectl -n %s get secrets,jobs,pods,pvc -o name >> \"$d/watch-%s.names\" 2>/dev/null; "
	   "kubectl -n %s get jobs,secrets,pods -l backups.astra.dev/mover=true -o json > \"$d/watch-%s.tmp\" 2>/dev/null && "
	   "grep -q '\"kind\": \"Secret\"' \"$d/watch-%s.tmp\" && grep -q '\"kind\": \"Pod\"' \"$d/watch-%s.tmp\" && "
	   "n=$((n+1)) && mv \"$d/watch-%s.tmp\" \"$d/watch-%s-$n.json\"; "
	   "sleep 0.2; done; touch \"$d/watch-%s.done\" ) >/dev/null 2>&1 &",
	        tag, tag, tag, (int)getpid(), tag, ns, tag, ctl_ns(), tag, tag,
	        tag, tag, tag, tag);
}

static void stop_watch(const char *tag)
{
	sh("rm -f \"$TMPDIR/watch-%s.run\"; for i in $(seq 1 100); do "
	   "[ -e \"$TMPDIR/watch-%s.done\" ] && exit 0; sleep 0.1; done; exit 1",
	        tag, tag);
}

/* Every name the tenant namespace showed is one of the app's PVCs or
 * the record of the snapshot the backup takes (lib/snap keeps it as a
 * Secret beside the app: not the mover's). */
static void tenant_saw_nothing(const char *tag, const char *ns)
{
	char out[4096], lines[64];
	capture(lines, sizeof(lines), "wc -l < \"$TMPDIR/watch-%s.ticks\"",
	        tag);
	/* a round lists three times; on a loaded machine a few seconds */
	cr_assert_geq(atoi(lines), 3, "the watch of %s hardly ran (%s rounds)",
	        ns, lines);
	capture(out, sizeof(out),
	        "sort -u \"$TMPDIR/watch-%s.names\" | grep -v -x -E "
	        "-e 'persistentvolumeclaim/vol[0-9]' -e 'secret/astra-snap-.*' "
	        "|| true",
	        tag);
	cr_assert_str_empty(out, "namespace %s saw: %s", ns, out);
}

static const astra__json *find_named(
        const astra__json *items, const char *kind, const char *name)
{
	for (size_t i = 0; i < astra__json_size(items); i++) {
		const astra__json *o = astra__json_at(items, i);
		if (!strcmp(astra__json_str(o, "kind"), kind) &&
		        !strcmp(astra__json_str(
		                        astra__json_get(o, "metadata"), "name"),
		                name))
			return o;
	}
	return NULL;
}

/* What the control namespace showed during the run: each Secret is
 * owned by its Job (uid), holds only the vault password and store
 * variables; each pod is its Job's and runs restricted, with exactly
 * the capabilities `caps` ("A,B") added. Returns how many listings. */
static int check_ctl_listings(const char *tag, const char *caps)
{
	int listings = 0, secrets = 0, pods = 0;
	for (int n = 1;; n++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/watch-%s-%d.json",
		        getenv("TMPDIR"), tag, n);
		FILE *f = fopen(path, "r");
		if (!f)
			break;
		static char text[1 << 20];
		size_t len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		astra__json *list = NULL;
		cr_assert_astra_ok(astra__json_parse(&list, text, len, path));
		listings++;
		const astra__json *items = astra__json_get(list, "items");
		for (size_t i = 0; i < astra__json_size(items); i++) {
			const astra__json *o = astra__json_at(items, i);
			const char *kind = astra__json_str(o, "kind");
			const astra__json *md = astra__json_get(o, "metadata");
			const astra__json *ow = astra__json_at(
			        astra__json_get(md, "ownerReferences"), 0);
			if (!strcmp(kind, "Secret")) {
				cr_assert(ow, "Secret %s has no owner",
				        astra__json_str(md, "name"));
				cr_assert_str_eq(
				        astra__json_str(ow, "kind"), "Job");
				cr_assert_str_eq(astra__json_str(ow, "name"),
				        astra__json_str(md, "name"));
				const astra__json *job = find_named(items,
				        "Job", astra__json_str(md, "name"));
				if (job) {
					cr_assert_str_eq(
					        astra__json_str(ow, "uid"),
					        astra__json_str(
					                astra__json_get(job,
					                        "metadata"),
					                "uid"));
					secrets++;
				}
				const astra__json *data =
				        astra__json_get(o, "data");
				for (size_t k = 0; k < astra__json_size(data);
				        k++) {
					const char *key = astra__json_key(
					        astra__json_at(data, k));
					cr_assert(!strcmp(key, "password") ||
					                  !strncmp(key, "AWS_",
					                          4),
					        "Secret key %s", key);
				}
			} else if (!strcmp(kind, "Pod")) {
				cr_assert(ow, "pod without owner");
				cr_assert_str_eq(
				        astra__json_str(ow, "kind"), "Job");
				pods++;
				const astra__json *ps =
				        astra__json_get(o, "spec");
				cr_assert_str_eq(
				        astra__json_str(
				                astra__json_path(ps,
				                        "securityContext."
				                        "seccompProfile"),
				                "type"),
				        "RuntimeDefault");
				const astra__json *sc = astra__json_get(
				        astra__json_at(astra__json_get(ps,
				                               "containers"),
				                0),
				        "securityContext");
				cr_assert_eq(
				        astra__json_bool(sc,
				                "allowPrivilegeEscalation", 1),
				        0);
				cr_assert_eq(
				        astra__json_bool(sc,
				                "readOnlyRootFilesystem", 0),
				        1);
				char *t = NULL;
				cr_assert_astra_ok(astra__json_print(&t,
				        astra__json_get(sc, "capabilities"),
				        0));
				char want[256];
				snprintf(want, sizeof(want),
				        "{\"add\":[%s],\"drop\":[\"ALL\"]}",
				        caps);
				cr_assert_str_eq(t, want);
				free(t);
				cr_assert_eq(
				        astra__json_bool(ps, "hostPID", 0), 0);
			}
		}
		astra__json_free(list);
	}
	cr_assert_gt(secrets, 0, "no Secret seen with its Job (%d listings)",
	        listings);
	cr_assert_gt(pods, 0, "no mover pod seen");
	return listings;
}

Test(mover_it, the_tenant_namespace_never_sees_the_mover)
{
	ctl[0] = 0; /* the default control namespace: astra-system */
	char ns[64], app[64], url[600], ns2[64], map[160];
	snprintf(ns, sizeof(ns), "tenant-%s", rid);
	snprintf(app, sizeof(app), "tenant-%s", rid);
	snprintf(ns2, sizeof(ns2), "tenant-r-%s", rid);
	make_app(ns);
	astra_cluster *c = cluster();
	vault_url(url, sizeof(url), "tenant");
	astra_vault *v = vault_open(url, 1);
	astra_app *a = define(c, app, ns);
	astra_mover_options m;
	job_mover(&m);
	cr_assert_null(m.control_namespace);

	start_watch("b", ns);
	cr_assert_astra_ok(backup(a, v, "tb", &m, NULL, NULL));
	stop_watch("b");
	tenant_saw_nothing("b", ns);
	int nb = check_ctl_listings("b", "\"DAC_READ_SEARCH\"");
	fprintf(stderr, "mover_it: backup: %d control-namespace listings\n",
	        nb);
	nothing_left(ns);

	/* a restore into a new namespace: its PVCs get volumes the Jobs
	 * filled in the control namespace */
	start_watch("r", ns2); /* the restore creates it */
	snprintf(map, sizeof(map), "%s=%s", ns, ns2);
	restore(c, v, "tb", map, &m);
	stop_watch("r");
	tenant_saw_nothing("r", ns2);
	check_ctl_listings("r", "\"CHOWN\",\"FOWNER\",\"DAC_OVERRIDE\"");
	same_data(ns, ns2);
	/* every restored PVC is bound to a volume the mover filled, now the
	 * tenant's alone: Delete again, no mover label */
	for (int i = 0; i < NVOL; i++) {
		char out[512];
		capture(out, sizeof(out),
		        "pv=$(kubectl -n %s get pvc vol%d -o jsonpath='{.spec.volumeName}') && "
		        "kubectl get pv $pv -o jsonpath='{.status.phase} {.spec.claimRef.namespace} "
		        "{.spec.persistentVolumeReclaimPolicy} {.metadata.labels}'",
		        ns2, i);
		char want[200];
		snprintf(want, sizeof(want), "Bound %s Delete ", ns2);
		cr_assert_str_eq(out, want, "vol%d: %s", i, out);
	}
	nothing_left(ns2);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}

/* The mover objects of run `id` (namespaced in the control namespace,
 * and cluster-scoped), one name a line. */
static void run_objects(char *out, size_t n, const char *id)
{
	capture(out, n,
	        "kubectl -n %s get jobs,pods,secrets,pvc,volumesnapshots,leases "
	        "-l backups.astra.dev/mover-run=%s -o name; "
	        "kubectl get volumesnapshotcontents,pv -l backups.astra.dev/mover-run=%s -o name",
	        ctl_ns(), id, id);
}

Test(mover_it, a_killed_protector_leaves_nothing_after_the_next_run)
{
	use_ctl("kill");
	char ns[64], app[64], url[600];
	snprintf(ns, sizeof(ns), "kill-%s", rid);
	snprintf(app, sizeof(app), "kill-%s", rid);
	make_app(ns);
	vault_url(url, sizeof(url), "kill");
	astra_vault_free(vault_open(url, 1));
	const char *actl = getenv("ASTRA_IT_ASTRACTL");
	cr_assert(actl);
	/* astractl backs up through Jobs in a child process ... */
	sh("export ASTRA_VAULT_PASSWORD=integration ASTRA_VAULT='%s'; "
	   "'%s' app define %s --namespace %s >/dev/null && "
	   "{ '%s' backup create %s --name killed --mover job --mover-image %s "
	   "--mover-parallel 4 --mover-host-network --mover-control-namespace %s "
	   ">/dev/null 2>&1 & echo $! > \"$TMPDIR/kill-%s.pid\"; }",
	        url, actl, app, ns, actl, app, image, ctl_ns(), rid);
	/* ... killed (-9) once its Jobs run: pods, Secrets, PVCs,
	 * VolumeSnapshots exist */
	sh("for i in $(seq 1 600); do o=$(kubectl -n %s get pods,secrets,pvc,volumesnapshots "
	   "-l backups.astra.dev/mover=true -o name); "
	   "case \"$o\" in *pod/*) case \"$o\" in *secret/*) case \"$o\" in *persistentvolumeclaim/*) "
	   "case \"$o\" in *volumesnapshot.*) exit 0;; esac;; esac;; esac;; esac; "
	   "sleep 0.1; done; exit 1",
	        ctl_ns());
	char id[32];
	capture(id, sizeof(id),
	        "kubectl -n %s get jobs -l backups.astra.dev/mover=true "
	        "-o jsonpath='{.items[0].metadata.labels.backups\\.astra\\.dev/mover-run}'",
	        ctl_ns());
	cr_assert(id[0], "no run id on the Jobs");
	sh("kill -9 $(cat \"$TMPDIR/kill-%s.pid\")", rid);
	char left[8192];
	run_objects(left, sizeof(left), id);
	fprintf(stderr, "mover_it: killed run %s left:\n%s\n", id, left);
	cr_assert(strstr(left, "job.batch/") && strstr(left, "secret/") &&
	                  strstr(left, "persistentvolumeclaim/") &&
	                  strstr(left, "volumesnapshotcontent"),
	        "the killed run left %s", left);
	/* its Lease expires (45 s by the API server's clock); the next run
	 * sweeps what it left */
	sleep(50);
	astra_cluster *c = cluster();
	astra_vault *v = vault_open(url, 0);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_get(&a, c, app));
	astra_mover_options m;
	job_mover(&m);
	cr_assert_astra_ok(backup(a, v, "after", &m, NULL, NULL));
	sh("for i in $(seq 1 120); do [ -z \"$(kubectl -n %s get pods,jobs,secrets,pvc,volumesnapshots,leases "
	   "-l backups.astra.dev/mover-run=%s -o name; kubectl get volumesnapshotcontents,pv "
	   "-l backups.astra.dev/mover-run=%s -o name)\" ] && exit 0; sleep 0.5; done; exit 1",
	        ctl_ns(), id, id);
	run_objects(left, sizeof(left), id);
	cr_assert_str_empty(left, "left after the next run: %s", left);
	nothing_left(ns);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}
