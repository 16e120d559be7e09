/*
 * Helm apps (issue 19): a release's StatefulSet keeps its data in PVCs the
 * StatefulSet controller creates from volumeClaimTemplates, which the
 * release manifest never names. The app must include them (and the other
 * run-time objects of the release), snapshot them, back them up and
 * restore them with their data. Node cluster with real pods.
 */
#include "rit.h"
#include "fmt/json.h"

TestSuite(helm_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static astra__json *helm_parse(const astra_buf *b)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b->ptr, b->size, "test"));
	return j;
}

/* The entry of kind/ns/name in a resource index or report items. */
static const astra__json *helm_find(const astra__json *arr, const char *kind,
        const char *ns, const char *name)
{
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const astra__json *e = astra__json_at(arr, i);
		const char *k = astra__json_str(e, "kind");
		const char *n = astra__json_str(e, "name");
		const char *s = astra__json_str(e, "namespace");
		if (k && n && !strcmp(k, kind) && !strcmp(n, name) &&
		        (!ns || (s && !strcmp(s, ns))))
			return e;
	}
	return NULL;
}

/* 1 when volume `pvc` of namespace ns is in the record's "volumes". */
static int helm_has_volume(
        const astra__json *rec, const char *ns, const char *pvc)
{
	const astra__json *vols = astra__json_get(rec, "volumes");
	for (size_t i = 0; i < astra__json_size(vols); i++) {
		const astra__json *v = astra__json_at(vols, i);
		if (!strcmp(astra__json_str(v, "namespace"), ns) &&
		        !strcmp(astra__json_str(v, "pvc"), pvc))
			return 1;
	}
	return 0;
}

/* File `f` of replica `i`'s volume, read in its pod: its size and MD5. */
static void helm_read(char *out, size_t n, const char *ns, int i, const char *f)
{
	capture(out, n,
	        "kubectl -n %s exec db-kv-%d -- sh -c 'wc -c < /data/%s && "
	        "md5sum < /data/%s'",
	        ns, i, f, f);
}

Test(helm_it, statefulset_volumes_are_captured_backed_up_and_restored)
{
	char ns[64], app[64], data[2][4096], owner[2][256];
	snprintf(ns, sizeof(ns), "hm-%s", rit_rid);
	snprintf(app, sizeof(app), "hm-%s", rit_rid);
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("helm install db %s/tests/fixtures/charts/kvdb -n %s --set storageClass=%s >/dev/null",
	        ASTRA_TEST_SOURCE_DIR, ns, getenv("ASTRA_TB_STORAGECLASS"));
	sh("kubectl -n %s rollout status statefulset/db-kv --timeout=300s >/dev/null",
	        ns);
	/* known data in each replica's own volume */
	for (int i = 0; i < 2; i++) {
		sh("kubectl -n %s exec db-kv-%d -- sh -c 'seq 1 %d | sed s/^/row-%d-/ > /data/rows' >/dev/null",
		        ns, i, 2000 + i * 777, i);
		helm_read(data[i], sizeof(data[i]), ns, i, "rows");
		capture(owner[i], sizeof(owner[i]),
		        "kubectl -n %s exec db-kv-%d -- cat /data/owner", ns,
		        i);
		cr_assert(atol(data[i]) > 10000, "replica %d wrote %s", i,
		        data[i]);
		char want[32];
		snprintf(want, sizeof(want), "db-kv-%d", i);
		cr_assert_str_eq(owner[i], want);
	}
	cr_assert_str_neq(data[0], data[1]);

	astra_cluster *c = cluster();
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"helm\":{\"release\":\"db\",\"namespace\":\"%s\"}}",
	        app, ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	/* the app includes the StatefulSet's claims, with the reason */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_app_resources(a, &b));
	astra__json *res = helm_parse(&b);
	astra_buf_dispose(&b);
	for (int i = 0; i < 2; i++) {
		char pvc[64];
		snprintf(pvc, sizeof(pvc), "data-db-kv-%d", i);
		const astra__json *e =
		        helm_find(astra__json_get(res, "resources"),
		                "PersistentVolumeClaim", ns, pvc);
		cr_assert(e, "PVC %s is not part of the Helm app", pvc);
		cr_assert_str_eq(
		        astra__json_str(e, "reason"), "helm-statefulset");
		/* the pods are the StatefulSet's: captured, restored by it */
		snprintf(pvc, sizeof(pvc), "db-kv-%d", i);
		e = helm_find(
		        astra__json_get(res, "resources"), "Pod", ns, pvc);
		cr_assert(e, "pod %s is not part of the Helm app", pvc);
		cr_assert_str_eq(astra__json_str(e, "restore"), "owner");
	}
	cr_assert(helm_find(
	        astra__json_get(res, "resources"), "StatefulSet", ns, "db-kv"));
	astra__json_free(res);
	/* astractl app show --resources shows them */
	char out[16384];
	capture(out, sizeof(out),
	        "\"$ASTRA_IT_ASTRACTL\" app show %s --resources 2>&1", app);
	cr_assert(strstr(out, "data-db-kv-0") && strstr(out, "data-db-kv-1") &&
	                  strstr(out, "helm-statefulset"),
	        "app show --resources: %s", out);

	/* the snapshot takes both volumes */
	char snapname[64];
	snprintf(snapname, sizeof(snapname), "hm-snap-%s", rit_rid);
	astra_snapshot_options so;
	astra_snapshot_options_init(&so, ASTRA_SNAPSHOT_OPTIONS_VERSION);
	so.name = snapname;
	cr_assert_astra_ok(astra_snapshot_create(a, &so, &b));
	astra__json *srec = helm_parse(&b);
	astra_buf_dispose(&b);
	cr_assert(helm_has_volume(srec, ns, "data-db-kv-0"),
	        "snapshot lacks data-db-kv-0");
	cr_assert(helm_has_volume(srec, ns, "data-db-kv-1"),
	        "snapshot lacks data-db-kv-1");
	astra__json_free(srec);

	/* back up from that snapshot: both volumes' data */
	astra_vault *v = rit_vault("helm");
	astra_backup_options bo;
	astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
	bo.name = "helm-db";
	bo.snapshot = snapname;
	bo.volume_path = rit_vpath;
	cr_assert_astra_ok(astra_backup_create(a, v, &bo, &b));
	astra__json *brec = helm_parse(&b);
	astra_buf_dispose(&b);
	cr_assert(helm_has_volume(brec, ns, "data-db-kv-0"));
	cr_assert(helm_has_volume(brec, ns, "data-db-kv-1"));
	astra__json_free(brec);
	astra_app_free(a);

	/* lose the namespace, then restore it */
	sh("kubectl delete namespace %s --wait=true --timeout=180s >/dev/null",
	        ns);
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = "helm-db";
	ro.volume_path = rit_vpath;
	cr_assert_astra_ok(astra_restore(c, v, &ro, &b));
	astra__json *rep = helm_parse(&b);
	astra_buf_dispose(&b);
	cr_assert_eq(astra__json_int(rep, "failed", -1), 0);
	const astra__json *items = astra__json_get(rep, "items");
	for (int i = 0; i < 2; i++) {
		char pvc[64];
		snprintf(pvc, sizeof(pvc), "data-db-kv-%d", i);
		const astra__json *e =
		        helm_find(items, "PersistentVolumeClaim", ns, pvc);
		cr_assert(e, "restore did not handle PVC %s", pvc);
		cr_assert_str_eq(astra__json_str(e, "result"), "created");
	}
	astra__json_free(rep);
	sh("kubectl -n %s rollout status statefulset/db-kv --timeout=300s >/dev/null",
	        ns);
	/* each replica has its own data back, byte for byte */
	for (int i = 0; i < 2; i++) {
		char got[4096], gowner[256];
		helm_read(got, sizeof(got), ns, i, "rows");
		capture(gowner, sizeof(gowner),
		        "kubectl -n %s exec db-kv-%d -- cat /data/owner", ns,
		        i);
		cr_assert_str_eq(got, data[i], "replica %d's rows differ", i);
		cr_assert_str_eq(gowner, owner[i]);
	}
	/* Helm still knows its release */
	sh("helm status db -n %s >/dev/null", ns);
	astra_vault_free(v);
	astra_cluster_free(c);
}
