/*
 * Clones: from a local snapshot into new namespaces of the same cluster,
 * and into the second cluster, each checked by comparing the volume's whole
 * tree (hard links, a sparse file, xattrs, owners, modes, times) with the
 * source's exactly. The app is a real pod writing into its PVC.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "rit.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"

TestSuite(clone_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *busybox(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/* Namespace ns: PVC "data" mounted by Deployment "app" whose pod writes
 * a line into it; a rich tree is added on the host side. */
static void make_app(const char *ns)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\n"
	   "metadata: {name: data, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
	   "---\napiVersion: apps/v1\nkind: Deployment\n"
	   "metadata: {name: app, namespace: %s}\n"
	   "spec:\n  replicas: 1\n  selector: {matchLabels: {app: c}}\n"
	   "  template:\n    metadata: {labels: {app: c}}\n"
	   "    spec:\n      terminationGracePeriodSeconds: 0\n"
	   "      containers:\n      - name: main\n        image: %s\n"
	   "        imagePullPolicy: Never\n"
	   "        command: [sh, -c, 'echo from-the-pod > /data/pod.txt; sleep 100000']\n"
	   "        volumeMounts: [{name: data, mountPath: /data}]\n"
	   "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	   "EOF",
	        ns, ns, busybox());
	sh("kubectl -n %s rollout status deploy/app --timeout=180s >/dev/null",
	        ns);
	sh("kubectl -n %s exec deploy/app -- sh -c 'test -s /data/pod.txt'",
	        ns);
	char dir[1024], rich[1100];
	rit_pvc_dir(dir, sizeof(dir), ns, "data");
	snprintf(rich, sizeof(rich), "%s/rich", dir);
	cr_assert_eq(mkdir(rich, 0755), 0);
	fst_make_rich_tree(rich);
}

/* The PVC's directory on the second cluster's CSI driver. */
static void pvc_dir2(char *out, size_t n, const char *ns, const char *pvc)
{
	capture(out, n,
	        "export KUBECONFIG=$ASTRA_IT_KUBECONFIG2; "
	        "pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && "
	        "echo \"$ASTRA_IT_CSI_VOLUMES2/$h\"",
	        ns, pvc);
	cr_assert(out[0] && out[strlen(out) - 1] != '/',
	        "no volume for PVC %s/%s on the second cluster", ns, pvc);
}

/* Volume access across both clusters: the PV's handle names a directory
 * of one of the two CSI drivers (handles are unique). */
static int either_cluster(const char *pv_json, astra_buf *out, void *payload)
{
	(void)payload;
	astra__json *pv = NULL;
	if (astra__json_parse(&pv, pv_json, strlen(pv_json), "pv"))
		return ASTRA_EINVALID;
	const char *h = astra__json_str(
	        astra__json_path(pv, "spec.csi"), "volumeHandle");
	const char *roots[2] = { getenv("ASTRA_TB_CSI_VOLUMES"),
		getenv("ASTRA_IT_CSI_VOLUMES2") };
	int rc = ASTRA_ENOTFOUND;
	for (int i = 0; h && i < 2 && rc == ASTRA_ENOTFOUND; i++) {
		char p[2048];
		snprintf(p, sizeof(p), "%s/%s", roots[i], h);
		struct stat st;
		if (!stat(p, &st) && S_ISDIR(st.st_mode))
			rc = astra__buf_printf(out, "%s", p);
	}
	astra__json_free(pv);
	return rc;
}

static void same_tree(const char *src_dir, const char *dst_dir)
{
	char a[1100], b[1100];
	snprintf(a, sizeof(a), "%s/rich", src_dir);
	snprintf(b, sizeof(b), "%s/rich", dst_dir);
	cr_assert_eq(fst_compare(a, b), 0, "the cloned tree %s differs from %s",
	        b, a);
	char got[256];
	capture(got, sizeof(got), "cat '%s/pod.txt'", dst_dir);
	cr_assert_str_eq(got, "from-the-pod");
}

Test(clone_it, from_a_snapshot_and_into_the_second_cluster)
{
	char ns[64], app[64], to1[64], to2[64], map1[160], map2[160];
	snprintf(ns, sizeof(ns), "cl-%s", rit_rid);
	snprintf(app, sizeof(app), "cl-%s", rit_rid);
	snprintf(to1, sizeof(to1), "cl-snap-%s", rit_rid);
	snprintf(to2, sizeof(to2), "cl-far-%s", rit_rid);
	make_app(ns);
	astra_cluster *c = cluster();
	astra_vault *v = rit_vault("clone");
	astra_app *a = rit_define(c, app, ns);
	astra_snapshot_options so;
	astra_snapshot_options_init(&so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	so.name = "before";
	cr_assert_astra_ok(astra_snapshot_create(a, &so, NULL));
	char src[1024];
	rit_pvc_dir(src, sizeof(src), ns, "data");
	/* the app goes on writing after the snapshot: the clone must not
	 * see it */
	sh("kubectl -n %s exec deploy/app -- sh -c 'echo later > /data/later.txt'",
	        ns);

	/* from the snapshot, same cluster */
	astra_clone_options o;
	astra_clone_options_init(&o, ASTRA_CLONE_OPTIONS_VERSION);
	const char *maps[1] = { map1 };
	snprintf(map1, sizeof(map1), "%s=%s", ns, to1);
	o.namespace_map = maps;
	o.n_namespace_map = 1;
	o.from_snapshot = "before";
	o.volume_path = rit_vpath;
	char name1[64];
	snprintf(name1, sizeof(name1), "cl-snap-%s", rit_rid);
	o.name = name1;
	cr_assert_astra_ok(astra_app_clone(a, v, c, &o, NULL));
	char dst[1024];
	rit_pvc_dir(dst, sizeof(dst), to1, "data");
	same_tree(src, dst);
	char later[1100];
	snprintf(later, sizeof(later), "%s/later.txt", dst);
	cr_assert_neq(access(later, F_OK), 0,
	        "the clone holds data written after its snapshot");
	astra_app *cl = NULL;
	cr_assert_astra_ok(astra_app_get(&cl, c, name1));
	astra_app_free(cl);
	sh("kubectl -n %s rollout status deploy/app --timeout=180s >/dev/null",
	        to1);

	/* into the second cluster (no node there: objects and data) */
	astra_cluster_options co;
	astra_cluster_options_init(&co, ASTRA_CLUSTER_OPTIONS_VERSION);
	co.kubeconfig = getenv("ASTRA_IT_KUBECONFIG2");
	astra_cluster *c2 = NULL;
	cr_assert_astra_ok(astra_cluster_open(&c2, &co));
	astra_clone_options_init(&o, ASTRA_CLONE_OPTIONS_VERSION);
	maps[0] = map2;
	snprintf(map2, sizeof(map2), "%s=%s", ns, to2);
	o.namespace_map = maps;
	o.n_namespace_map = 1;
	o.from_snapshot = "before";
	o.volume_path_cb = either_cluster;
	char name2[64];
	snprintf(name2, sizeof(name2), "cl-far-%s", rit_rid);
	o.name = name2;
	cr_assert_astra_ok(astra_app_clone(a, v, c2, &o, NULL));
	char dst2[1024];
	pvc_dir2(dst2, sizeof(dst2), to2, "data");
	same_tree(src, dst2);
	sh("KUBECONFIG=$ASTRA_IT_KUBECONFIG2 kubectl -n %s get deployment/app >/dev/null",
	        to2);
	cr_assert_astra_ok(astra_app_get(&cl, c2, name2));
	astra_app_free(cl);
	/* the clone is not defined in the source cluster */
	cr_assert_eq(astra_app_get(&cl, c, name2), ASTRA_ENOTFOUND);

	astra_cluster_free(c2);
	astra_app_free(a);
	astra_vault_free(v);
	astra_cluster_free(c);
}
