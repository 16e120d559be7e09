/*
 * Verification of one backup (astra_backup_verify, astractl backup verify)
 * on the node cluster: two apps, each a Deployment whose pod writes 2 MiB
 * of random data to its PVC and becomes Ready once the data is there, are
 * backed up into one file vault. A good backup verifies; damaging a pack
 * only one backup uses fails that backup naming the pack, while the other
 * still verifies (its verification never reads that pack). A test restore
 * brings the data back in scratch namespaces (a "verify" hook prints its
 * checksum there), and every test restore, passing or failing, leaves no
 * scratch namespace behind.
 */
#include "rit.h"

#include "fmt/json.h"

TestSuite(verify_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *vimage(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/* Namespace ns with PVC "data" and Deployment "web" that fills it with 2 MiB
 * of random data and is Ready only once /data/blob is complete. */
static void vit_make_app(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}, storageClassName: %s}\n"
	   "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: %s}\n"
	   "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n"
	   "  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
	   "      terminationGracePeriodSeconds: 0\n"
	   "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	   "      containers:\n      - name: web\n        image: %s\n        imagePullPolicy: Never\n"
	   "        volumeMounts: [{name: data, mountPath: /data}]\n"
	   "        readinessProbe: {exec: {command: [test, -e, /data/done]}, periodSeconds: 1}\n"
	   "        command:\n        - sh\n        - -c\n        - |\n"
	   "          if [ ! -e /data/done ]; then\n"
	   "            head -c 2097152 /dev/urandom > /data/blob && sync && touch /data/done\n"
	   "          fi\n"
	   "          exec sleep 100000\n"
	   "EOF",
	        ns, getenv("ASTRA_TB_STORAGECLASS"), ns, vimage());
	sh("kubectl -n %s rollout status deployment/web --timeout=180s >/dev/null",
	        ns);
}

static void vit_hook(astra_app *a, const char *name, const char *script)
{
	astra_hook_options o;
	cr_assert_astra_ok(
	        astra_hook_options_init(&o, ASTRA_HOOK_OPTIONS_VERSION));
	o.stage = "verify";
	o.script = script;
	o.container_regex = "^web$";
	o.timeout_s = 30;
	cr_assert_astra_ok(astra_hook_create(a, name, &o, 0));
}

static void vit_backup(astra_app *a, astra_vault *v, const char *name)
{
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = name;
	o.volume_path = rit_vpath;
	astra_buf rec = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_create(a, v, &o, &rec));
	astra_buf_dispose(&rec);
}

/* The keys of the vault's packs ("data/xx/<id>"), one per line, into
 * file `list`. */
static void vit_packs(const char *vdir, const char *list)
{
	sh("cd %s && ls data/*/* | sort > %s", vdir, list);
}

/* Flips a byte in the middle of the largest pack listed in file `after`
 * but not in file `before`; its key ("data/xx/<id>") into key. */
static void vit_damage_new_pack(const char *vdir, const char *before,
        const char *after, char *key, size_t n)
{
	capture(key, n,
	        "cd %s && comm -13 %s %s | while read -r p; do "
	        "echo \"$(stat -c %%s $p) $p\"; done | sort -n | tail -1 | "
	        "cut -d' ' -f2",
	        vdir, before, after);
	cr_assert(strncmp(key, "data/", 5) == 0, "no new pack: \"%s\"", key);
	sh("cd %s && at=$(( $(stat -c %%s %s) / 2 )) && "
	   "b=$(dd if=%s bs=1 skip=$at count=1 status=none | od -An -tu1) && "
	   "printf \"\\\\$(printf %%03o $(( $b ^ 90 )))\" | "
	   "dd of=%s bs=1 seek=$at conv=notrunc status=none",
	        vdir, key, key, key);
}

static int vit_verify(astra_vault *v, const char *name, astra_cluster *c,
        const char *prefix, astra__json **rep)
{
	astra_backup_verify_options o;
	cr_assert_astra_ok(astra_backup_verify_options_init(
	        &o, ASTRA_BACKUP_VERIFY_OPTIONS_VERSION));
	if (c) {
		o.flags = ASTRA_BACKUP_VERIFY_F_TEST_RESTORE;
		o.cluster = c;
		o.namespace_prefix = prefix;
		o.timeout_s = 180;
		o.volume_path = rit_vpath;
	}
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_backup_verify(v, name, &o, &b);
	*rep = NULL;
	if (b.ptr)
		cr_assert_astra_ok(
		        astra__json_parse(rep, b.ptr, b.size, "rep"));
	astra_buf_dispose(&b);
	return rc;
}

/* No namespace is left whose name starts with prefix-. */
static void vit_no_scratch(const char *prefix)
{
	char out[4096];
	capture(out, sizeof(out),
	        "kubectl get ns -o name | grep '^namespace/%s-' || true",
	        prefix);
	cr_assert_str_eq(out, "", "scratch namespaces left: %s", out);
}

Test(verify_it, verify_and_test_restore_good_and_damaged_backups)
{
	char nsa[64], nsb[64], vdir[600], pa[64], pb[64];
	snprintf(nsa, sizeof(nsa), "vf-a-%s", rit_rid);
	snprintf(nsb, sizeof(nsb), "vf-b-%s", rit_rid);
	snprintf(pa, sizeof(pa), "vfa%s", rit_rid);
	snprintf(pb, sizeof(pb), "vfb%s", rit_rid);
	snprintf(vdir, sizeof(vdir), "%s/vault-verify-%s", getenv("TMPDIR"),
	        rit_rid);
	vit_make_app(nsa);
	vit_make_app(nsb);
	char sum_a[200];
	capture(sum_a, sizeof(sum_a),
	        "kubectl -n %s exec deploy/web -- md5sum /data/blob | cut -d' ' -f1",
	        nsa);
	cr_assert_eq(strlen(sum_a), 32, "md5 of a: \"%s\"", sum_a);

	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, nsa, nsa);
	astra_app *b = rit_define(c, nsb, nsb);
	vit_hook(a, "sum", "md5sum /data/blob | cut -d' ' -f1");
	vit_hook(b, "fails", "echo broken >&2; exit 3");
	astra_vault *v = rit_vault("verify");
	vit_backup(a, v, "a1");
	char before[700], after[700];
	snprintf(before, sizeof(before), "%s.before", vdir);
	snprintf(after, sizeof(after), "%s.after", vdir);
	vit_packs(vdir, before);
	vit_backup(b, v, "b1");
	vit_packs(vdir, after);

	/* good backups verify, reading their data */
	astra__json *rep = NULL;
	cr_assert_astra_ok(vit_verify(v, "a1", NULL, NULL, &rep));
	cr_assert(astra__json_bool(rep, "ok", 0));
	cr_assert_gt(astra__json_int(rep, "bytes", 0), 2 << 20);
	cr_assert_eq(astra__json_int(rep, "snapshots", 0), 1);
	astra__json_free(rep);
	cr_assert_astra_ok(vit_verify(v, "b1", NULL, NULL, &rep));
	astra__json_free(rep);

	/* a test restore of a1: ready, its data there, nothing left */
	int rc = vit_verify(v, "a1", c, pa, &rep);
	cr_assert_astra_ok(rc);
	const astra__json *tr = astra__json_get(rep, "testRestore");
	cr_assert(astra__json_bool(tr, "ok", 0));
	cr_assert_str_eq(astra__json_str(tr, "cleanup"), "deleted");
	const char *dst =
	        astra__json_str(astra__json_get(tr, "namespaces"), nsa);
	cr_assert_not_null(dst);
	cr_assert(strncmp(dst, pa, strlen(pa)) == 0, "%s", dst);
	const astra__json *w0 =
	        astra__json_at(astra__json_get(tr, "workloads"), 0);
	cr_assert_str_eq(astra__json_str(w0, "name"), "web");
	cr_assert(astra__json_bool(w0, "ready", 0));
	const astra__json *h0 = astra__json_at(
	        astra__json_get(astra__json_at(astra__json_get(tr, "hooks"), 0),
	                "results"),
	        0);
	cr_assert_str_eq(astra__json_str(h0, "result"), "ok");
	cr_assert_str_eq(astra__json_str(h0, "namespace"), dst);
	char got[64];
	snprintf(got, sizeof(got), "%s", astra__json_str(h0, "stdout"));
	got[strcspn(got, "\n")] = 0;
	cr_assert_str_eq(got, sum_a, "restored data differs");
	astra__json_free(rep);
	vit_no_scratch(pa);

	/* b1's verify hook fails: the test restore fails and cleans up */
	cr_assert_astra_fail(vit_verify(v, "b1", c, pb, &rep), ASTRA_ERROR);
	cr_assert_not_null(strstr(astra_error_last()->message, "fails"), "%s",
	        astra_error_last()->message);
	tr = astra__json_get(rep, "testRestore");
	cr_assert(!astra__json_bool(tr, "ok", 1));
	cr_assert_not_null(astra__json_get(tr, "namespaces"));
	cr_assert_str_eq(astra__json_str(tr, "cleanup"), "deleted");
	astra__json_free(rep);
	vit_no_scratch(pb);

	/* damage a pack only b1 uses */
	char key[200];
	vit_damage_new_pack(vdir, before, after, key, sizeof(key));
	cr_assert_astra_ok(vit_verify(v, "a1", NULL, NULL, &rep));
	astra__json_free(rep);
	cr_assert_astra_fail(
	        vit_verify(v, "b1", NULL, NULL, &rep), ASTRA_ECORRUPT);
	const astra__json *p0 =
	        astra__json_at(astra__json_get(rep, "problems"), 0);
	char want[300];
	snprintf(want, sizeof(want), "pack %s", key);
	cr_assert_str_eq(astra__json_str(p0, "object"), want);
	astra__json_free(rep);
	/* the damaged one with a test restore: fails, nothing left */
	cr_assert_astra_fail(vit_verify(v, "b1", c, pb, &rep), ASTRA_ECORRUPT);
	astra__json_free(rep);
	vit_no_scratch(pb);
	/* a1 still passes its test restore */
	cr_assert_astra_ok(vit_verify(v, "a1", c, pa, &rep));
	astra__json_free(rep);
	vit_no_scratch(pa);

	/* the CLI: exit 0 for a1, exit 1 naming the pack for b1 */
	char cmd[2000], out[8192];
	snprintf(cmd, sizeof(cmd),
	        "ASTRA_VAULT_PASSWORD=integration %s --vault file://%s "
	        "--no-progress",
	        getenv("ASTRA_IT_ASTRACTL"), vdir);
	sh("%s backup verify a1 >/dev/null", cmd);
	capture(out, sizeof(out),
	        "%s -o json backup verify b1 2>&1; echo \"exit=$?\"", cmd);
	cr_assert_not_null(strstr(out, key), "%s", out);
	cr_assert_not_null(strstr(out, "exit=1"), "%s", out);
	capture(out, sizeof(out),
	        "%s backup verify a1 --namespace-prefix x 2>&1; echo \"exit=$?\"",
	        cmd);
	cr_assert_not_null(strstr(out, "exit=2"), "%s", out);

	astra_vault_free(v);
	astra_app_free(a);
	astra_app_free(b);
	astra_cluster_free(c);
	sh("kubectl delete namespace %s %s --wait=false >/dev/null", nsa, nsb);
}

/* Every progress report of one operation, in order. */
typedef struct {
	astra_progress v[20000];
	size_t n;
} vit_reports;

static int vit_record(const astra_progress *p, void *payload)
{
	vit_reports *r = payload;
	if (r->n < sizeof(r->v) / sizeof(r->v[0]))
		r->v[r->n++] = *p;
	return 0;
}

/* One stream: bytes and items never go back, done never passes total, and
 * the last report is everything done, with totals > 0 (min_bytes at
 * least). */
static void vit_one_stream(
        const vit_reports *r, const char *what, uint64_t min_bytes)
{
	cr_assert_gt(r->n, 0, "%s: no progress", what);
	for (size_t i = 1; i < r->n; i++) {
		const astra_progress *a = &r->v[i - 1], *b = &r->v[i];
		cr_assert_geq(b->bytes_done, a->bytes_done, "%s: report %zu",
		        what, i);
		cr_assert_geq(b->bytes_total, a->bytes_total, "%s: report %zu",
		        what, i);
		cr_assert_geq(b->items_done, a->items_done, "%s: report %zu",
		        what, i);
		cr_assert_leq(b->bytes_done, b->bytes_total, "%s: report %zu",
		        what, i);
	}
	const astra_progress *l = &r->v[r->n - 1];
	cr_assert_geq(l->bytes_total, min_bytes, "%s: total %llu", what,
	        (unsigned long long)l->bytes_total);
	cr_assert_eq(l->bytes_done, l->bytes_total, "%s", what);
	cr_assert_gt(l->items_total, 0, "%s", what);
	cr_assert_eq(l->items_done, l->items_total, "%s", what);
}

Test(verify_it, app_backup_and_restore_give_one_progress_stream)
{
	char ns[64], ns2[64];
	snprintf(ns, sizeof(ns), "vf-p-%s", rit_rid);
	snprintf(ns2, sizeof(ns2), "vf-p2-%s", rit_rid);
	vit_make_app(ns);
	/* a second volume, so that the totals span volumes */
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: more, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}, storageClassName: %s}\n"
	   "EOF",
	        ns, getenv("ASTRA_TB_STORAGECLASS"));
	char dir[1024];
	sh("for i in $(seq 1 60); do [ \"$(kubectl -n %s get pvc more -o jsonpath='{.status.phase}')\" = Bound ] && exit 0; sleep 1; done; exit 1",
	        ns);
	rit_pvc_dir(dir, sizeof(dir), ns, "more");
	sh("head -c 1048576 /dev/urandom > %s/one.bin", dir);
	astra_cluster *c = cluster();
	astra_app *a = rit_define(c, ns, ns);
	astra_vault *v = rit_vault("progress");
	static vit_reports rb, rr;
	astra_backup_options o;
	astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION);
	o.name = "p1";
	o.volume_path = rit_vpath;
	o.progress_cb = vit_record;
	o.payload = &rb;
	astra_buf rec = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_backup_create(a, v, &o, &rec));
	astra_buf_dispose(&rec);
	vit_one_stream(&rb, "backup", 3 << 20);

	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	char map[200];
	snprintf(map, sizeof(map), "%s=%s", ns, ns2);
	const char *maps[] = { map };
	ro.backup = "p1";
	ro.namespace_map = maps;
	ro.n_namespace_map = 1;
	ro.volume_path = rit_vpath;
	ro.progress_cb = vit_record;
	ro.payload = &rr;
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &rep));
	astra_buf_dispose(&rep);
	vit_one_stream(&rr, "restore", 3 << 20);

	astra_vault_free(v);
	astra_app_free(a);
	astra_cluster_free(c);
	sh("kubectl delete namespace %s %s --wait=false >/dev/null", ns, ns2);
}
