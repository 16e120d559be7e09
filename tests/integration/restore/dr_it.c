/*
 * Disaster recovery across sites (docs/user-guide.md, "Disaster
 * recovery"): site A runs the app on the node cluster and backs it up into
 * a vault on MinIO; the vault is replicated to site B's store; site A is
 * lost (MinIO stopped, its cluster not used again); the app is restored on
 * the second cluster from the replica, and its volume tree (hard links,
 * sparse file, xattrs, owners, times) equals what site A held.
 */
#include <signal.h>
#include <sys/stat.h>

#include "rit.h"
#include "fstree.h"

TestSuite(dr_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *busybox(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

static astra_vault *vault_at(const char *url, int create)
{
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "site-a";
	o.kdf_log2n = 10;
	astra_vault *v = NULL;
	if (create)
		cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	else
		cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	return v;
}

Test(dr_it, site_a_lost_the_app_comes_back_on_site_b_from_the_replica)
{
	char ns[64], app[64], primary[1024], replica[1024];
	snprintf(ns, sizeof(ns), "dr-%s", rit_rid);
	snprintf(app, sizeof(app), "dr-%s", rit_rid);
	snprintf(primary, sizeof(primary), "s3://%s/dr-%s?endpoint=%s",
	        getenv("ASTRA_TB_S3_BUCKET_PLAIN"), rit_rid,
	        getenv("ASTRA_TB_S3_ENDPOINT"));
	snprintf(replica, sizeof(replica), "file://%s/site-b-%s",
	        getenv("TMPDIR"), rit_rid);

	/* site A: a pod writes into its PVC; a rich tree beside it */
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: PersistentVolumeClaim\n"
	   "metadata: {name: data, namespace: %s}\n"
	   "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
	   "---\napiVersion: v1\nkind: ConfigMap\n"
	   "metadata: {name: settings, namespace: %s}\ndata: {site: a}\n"
	   "---\napiVersion: apps/v1\nkind: Deployment\n"
	   "metadata: {name: app, namespace: %s}\n"
	   "spec:\n  replicas: 1\n  selector: {matchLabels: {app: dr}}\n"
	   "  template:\n    metadata: {labels: {app: dr}}\n"
	   "    spec:\n      terminationGracePeriodSeconds: 0\n"
	   "      containers:\n      - name: main\n        image: %s\n"
	   "        imagePullPolicy: Never\n"
	   "        command: [sh, -c, 'echo site-a > /data/pod.txt; sleep 100000']\n"
	   "        volumeMounts: [{name: data, mountPath: /data}]\n"
	   "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	   "EOF",
	        ns, ns, ns, busybox());
	sh("kubectl -n %s rollout status deploy/app --timeout=180s >/dev/null",
	        ns);
	char src[1024], rich[1100];
	rit_pvc_dir(src, sizeof(src), ns, "data");
	snprintf(rich, sizeof(rich), "%s/rich", src);
	cr_assert_eq(mkdir(rich, 0755), 0);
	fst_make_rich_tree(rich);

	astra_cluster *a_cluster = cluster();
	astra_app *a = rit_define(a_cluster, app, ns);
	astra_vault *va = vault_at(primary, 1);
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "nightly";
	bo.volume_path = rit_vpath;
	cr_assert_astra_ok(astra_backup_create(a, va, &bo, NULL));

	/* the replica on site B */
	astra_replicate_options ro;
	astra_replicate_options_init(&ro, ASTRA_REPLICATE_OPTIONS_VERSION);
	cr_assert_astra_ok(astra_vault_replicate(va, replica, &ro, NULL));
	astra_vault_free(va);
	astra_app_free(a);
	astra_cluster_free(a_cluster);

	/* site A is lost: its store stops answering */
	sh("kill -9 $(cat \"$ASTRA_TB_S3_DIR/pids/minio.pid\")");
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "site-a";
	astra_vault *gone = NULL;
	cr_assert_neq(astra_vault_open(&gone, primary, &o), 0,
	        "site A's vault still answers");

	/* site B: the replica opens with site A's password and the app
	 * comes back on the second cluster */
	astra_vault *vb = vault_at(replica, 0);
	astra_cluster_options co;
	astra_cluster_options_init(&co, ASTRA_CLUSTER_OPTIONS_VERSION);
	co.kubeconfig = getenv("ASTRA_IT_KUBECONFIG2");
	astra_cluster *b_cluster = NULL;
	cr_assert_astra_ok(astra_cluster_open(&b_cluster, &co));
	char vpath2[600];
	snprintf(vpath2, sizeof(vpath2), "%s/{volumeHandle}",
	        getenv("ASTRA_IT_CSI_VOLUMES2"));
	astra_restore_options rs;
	astra_restore_options_init(&rs, ASTRA_RESTORE_OPTIONS_VERSION);
	rs.backup = "nightly";
	rs.volume_path = vpath2;
	astra_buf rep = ASTRA_BUF_INIT;
	int rc = astra_restore(b_cluster, vb, &rs, &rep);
	cr_assert_eq(rc, 0, "restore on site B: %s %s",
	        astra_error_last()->message, rep.ptr ? rep.ptr : "");
	astra_buf_dispose(&rep);
	char got[256], dst[1024], drich[1100];
	capture(got, sizeof(got),
	        "KUBECONFIG=$ASTRA_IT_KUBECONFIG2 kubectl -n %s get configmap "
	        "settings -o jsonpath='{.data.site}'",
	        ns);
	cr_assert_str_eq(got, "a");
	capture(dst, sizeof(dst),
	        "export KUBECONFIG=$ASTRA_IT_KUBECONFIG2; "
	        "pv=$(kubectl -n %s get pvc data -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && "
	        "echo \"$ASTRA_IT_CSI_VOLUMES2/$h\"",
	        ns);
	cr_assert(dst[0] && dst[strlen(dst) - 1] != '/', "no PVC on site B");
	snprintf(drich, sizeof(drich), "%s/rich", dst);
	cr_assert_eq(fst_compare(rich, drich), 0, "site B's tree differs");
	capture(got, sizeof(got), "cat '%s/pod.txt'", dst);
	cr_assert_str_eq(got, "site-a");
	astra_vault_free(vb);
	astra_cluster_free(b_cluster);
}
