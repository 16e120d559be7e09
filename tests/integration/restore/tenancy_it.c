/*
 * Trust boundaries (docs/security.md, "Trust model"): a TENANT, a
 * ServiceAccount whose Role lets it write only in its own namespace, tries
 * to steer the protector (this process, cluster admin) through what it may
 * write there: an app definition over kube-system, a hook aimed at another
 * namespace's pods, a policy with a vault URL of its choosing and a
 * pendingDeletes entry naming another app's backup. Real pods, a real
 * API server with RBAC; run through tests/integration/restore/run.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "fmt/json.h"
#include "rit.h"

TestSuite(tenancy_it, .init = rit_init, .fini = rit_fini, .timeout = 600);

static const char *image(void)
{
	const char *i = getenv("ASTRA_TB_IMAGE_BUSYBOX");
	return i && *i ? i : "astra.local/busybox:tb";
}

/*
 * Namespace ns with ServiceAccount "tenant" bound to a Role over
 * ConfigMaps, Secrets, pods and pods/exec of ns only; its token kubeconfig
 * into kcfg.
 */
static void tenant(const char *ns, char *kcfg, size_t n)
{
	sh("kubectl create namespace %s >/dev/null", ns);
	sh("kubectl -n %s create serviceaccount tenant >/dev/null", ns);
	sh("kubectl -n %s create role tenant "
	   "--verb=get,list,watch,create,update,patch,delete "
	   "--resource=configmaps,secrets,pods,pods/exec >/dev/null",
	        ns);
	sh("kubectl -n %s create rolebinding tenant --role=tenant "
	   "--serviceaccount=%s:tenant >/dev/null",
	        ns, ns);
	snprintf(kcfg, n, "%s/tenant-%s.kubeconfig", getenv("TMPDIR"), ns);
	sh("tok=$(kubectl -n %s create token tenant --duration=2h) && "
	   "k='kubectl config --kubeconfig=%s' && "
	   "$k set-cluster t --server=\"$ASTRA_TB_APISERVER\" "
	   "--certificate-authority=\"$ASTRA_TB_CA\" --embed-certs=true "
	   ">/dev/null && "
	   "$k set-credentials t --token=\"$tok\" >/dev/null && "
	   "$k set-context t --cluster=t --user=t --namespace=%s >/dev/null && "
	   "$k use-context t >/dev/null",
	        ns, kcfg, ns);
	/* the boundary is real: the tenant reads its namespace only */
	sh("kubectl --kubeconfig=%s -n %s get configmaps >/dev/null", kcfg, ns);
	char out[64];
	capture(out, sizeof(out),
	        "kubectl --kubeconfig=%s -n kube-system get secrets "
	        ">/dev/null 2>&1 && echo readable || echo denied",
	        kcfg);
	cr_assert_str_eq(out, "denied", "the tenant can read kube-system");
}

/* ConfigMap `name` in ns, written AS THE TENANT, with labels (a
 * space-separated k=v list) and data keys (NULL-terminated key, value
 * pairs). */
static void tenant_cm(const char *kcfg, const char *ns, const char *name,
        const char *labels, ...)
{
	char cmd[8192];
	int len = snprintf(cmd, sizeof(cmd),
	        "kubectl --kubeconfig=%s -n %s create configmap %s", kcfg, ns,
	        name);
	va_list ap;
	va_start(ap, labels);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len,
		        " --from-literal=%s='%s'", k, v);
	}
	va_end(ap);
	snprintf(cmd + len, sizeof(cmd) - (size_t)len,
	        " >/dev/null && kubectl --kubeconfig=%s -n %s label "
	        "configmap %s %s >/dev/null",
	        kcfg, ns, name, labels);
	sh("%s", cmd);
}

/* A pod "p" running busybox in ns (made by the admin), ready. */
static void pod(const char *ns)
{
	sh("kubectl apply -f - >/dev/null <<'EOF'\n"
	   "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: %s}\n"
	   "spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
	   "  - {name: main, image: %s, imagePullPolicy: Never, command: [sh, "
	   "-c, 'sleep 100000']}\n"
	   "EOF",
	        ns, image());
	sh("kubectl -n %s wait --for=condition=Ready pod/p --timeout=120s "
	   ">/dev/null",
	        ns);
}

/* A policy ConfigMap of app `app` in ns, due now (created an hour ago,
 * every minute), written as the tenant. */
static void tenant_policy(const char *kcfg, const char *ns, const char *app,
        const char *pname, const char *vault_member, int snaps, int backups,
        const char *status)
{
	char cm[200], labels[400], spec[2048];
	snprintf(cm, sizeof(cm), "astra-policy-%s.%s", app, pname);
	snprintf(labels, sizeof(labels),
	        "policies.astra.dev/policy=true apps.astra.dev/name=%s "
	        "policies.astra.dev/name=%s",
	        app, pname);
	snprintf(spec, sizeof(spec),
	        "{\"name\":\"%s\",\"granularity\":\"custom\",\"cron\":\"* * * "
	        "* *\",\"timeZone\":\"UTC\",\"snapshotRetention\":%d,"
	        "\"backupRetention\":%d%s%s,\"created\":%lld}",
	        pname, snaps, backups, vault_member ? "," : "",
	        vault_member ? vault_member : "", (long long)time(NULL) - 3600);
	if (status)
		tenant_cm(kcfg, ns, cm, labels, "policy.json", spec,
		        "status.json", status, (const char *)NULL);
	else
		tenant_cm(kcfg, ns, cm, labels, "policy.json", spec,
		        (const char *)NULL);
}

/* The admin's run of every due policy (as the scheduler's pass). */
static astra__json *run_due(
        astra_cluster *c, const char *app, const char *trusted_vault)
{
	astra_policy_run_options ro;
	cr_assert_astra_ok(astra_policy_run_options_init(
	        &ro, ASTRA_POLICY_RUN_OPTIONS_VERSION));
	ro.vault_password = "integration";
	ro.volume_path = rit_vpath;
	ro.vault = trusted_vault;
	ro.app = app; /* other tests' policies are theirs */
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_policy_run_due(c, &ro, &b);
	cr_assert(rc == 0 || rc == ASTRA_EPARTIAL, "run_due: %d %s", rc,
	        astra_error_last()->message);
	/* kept with the run's logs when the suite fails */
	char path[600];
	snprintf(path, sizeof(path), "%s/report-%s.json", getenv("TMPDIR"),
	        app ? app : "all");
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", b.ptr ? b.ptr : "");
		fclose(f);
	}
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "report"));
	astra_buf_dispose(&b);
	return j;
}

/* 1 when the run report ran app `app` */
static int ran_app(const astra__json *rep, const char *app)
{
	const astra__json *ran = astra__json_get(rep, "ran");
	for (size_t i = 0; i < astra__json_size(ran); i++)
		if (!strcmp(astra__json_str(astra__json_at(ran, i), "app"),
		            app))
			return 1;
	return 0;
}

/* Objects in ns labelled as snapshot records of app `app`. */
static int records_in(const char *ns, const char *app)
{
	char out[64];
	capture(out, sizeof(out),
	        "kubectl -n %s get configmaps,secrets -l "
	        "snapshots.astra.dev/app=%s -o name | wc -l",
	        ns, app);
	return atoi(out);
}

Test(tenancy_it, app_over_kube_system_from_a_tenant_namespace_is_ignored)
{
	char ns[64], app[64], kcfg[512];
	snprintf(ns, sizeof(ns), "ten-ks-%s", rit_rid);
	snprintf(app, sizeof(app), "evil-ks-%s", rit_rid);
	tenant(ns, kcfg, sizeof(kcfg));
	/* the tenant writes an app definition over kube-system and a policy
	 * that snapshots it every minute */
	char def[256], labels[256], cm[128];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"kube-system\"}]}",
	        app);
	snprintf(labels, sizeof(labels),
	        "apps.astra.dev/definition=true apps.astra.dev/name=%s", app);
	snprintf(cm, sizeof(cm), "astra-app-%s", app);
	tenant_cm(kcfg, ns, cm, labels, "app.json", def, (const char *)NULL);
	tenant_policy(kcfg, ns, app, "grab", NULL, 1, 0, NULL);

	astra_cluster *c = cluster();
	/* the scheduler's pass does not snapshot kube-system, and writes no
	 * record (which would hold kube-system's Secrets) into the tenant's
	 * namespace */
	astra__json *rep = run_due(c, app, NULL);
	cr_assert_eq(records_in(ns, app), 0,
	        "a snapshot record of kube-system is in %s", ns);
	cr_assert(!ran_app(rep, app), "the policy of %s ran", app);
	astra__json_free(rep);

	/* the protector does not take it as an app... */
	astra_app *a = NULL;
	cr_assert_eq(astra_app_get(&a, c, app), ASTRA_ENOTFOUND,
	        "the definition over kube-system from %s was honoured", ns);
	/* ...and says why in the list */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_app_list(c, &b));
	astra__json *list = NULL;
	cr_assert_astra_ok(astra__json_parse(&list, b.ptr, b.size, "list"));
	astra_buf_dispose(&b);
	int shown = 0;
	for (size_t i = 0; i < astra__json_size(list); i++) {
		const astra__json *e = astra__json_at(list, i);
		if (strcmp(astra__json_str(e, "name"), app))
			continue;
		const char *why = astra__json_str(e, "rejected");
		cr_assert(why && strstr(why, "kube-system") &&
		                  strstr(why, "covers only its own namespace"),
		        "rejected entry: %s", why ? why : "(none)");
		shown = 1;
	}
	cr_assert(shown, "app list does not show %s as rejected", app);
	astra__json_free(list);
	char out[256];
	capture(out, sizeof(out),
	        "\"$ASTRA_IT_ASTRACTL\" app list 2>/dev/null | grep '%s' | "
	        "grep -c 'REJECTED: .*kube-system'",
	        app);
	cr_assert_str_eq(out, "1",
	        "astractl app list does not show %s as "
	        "rejected",
	        app);

	/* defining it through the API as the tenant fails, naming the rule */
	astra_cluster_options o;
	cr_assert_astra_ok(
	        astra_cluster_options_init(&o, ASTRA_CLUSTER_OPTIONS_VERSION));
	o.kubeconfig = kcfg;
	astra_cluster *tc = NULL;
	cr_assert_astra_ok(astra_cluster_open(&tc, &o));
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s-api\",\"namespaces\":[{\"name\":"
	        "\"kube-system\"}],\"home\":\"%s\"}",
	        app, ns);
	cr_assert_eq(astra_app_define(NULL, tc, def, 0), ASTRA_EPOLICY,
	        "define: %s", astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message, "kube-system") &&
	                  strstr(astra_error_last()->message, ns),
	        "%s", astra_error_last()->message);
	astra_cluster_free(tc);
	astra_cluster_free(c);
}

Test(tenancy_it, a_tenant_hook_does_not_run_in_another_namespace)
{
	char ns[64], victim[64], app[64], kcfg[512];
	snprintf(ns, sizeof(ns), "ten-hk-%s", rit_rid);
	snprintf(victim, sizeof(victim), "vic-hk-%s", rit_rid);
	snprintf(app, sizeof(app), "evil-hk-%s", rit_rid);
	tenant(ns, kcfg, sizeof(kcfg));
	sh("kubectl create namespace %s >/dev/null", victim);
	pod(victim);
	pod(ns);
	/* an app over the victim's namespace from the tenant's, a
	 * pre-snapshot hook aimed at the victim's pod, and a policy */
	char def[256], labels[256], cm[128], hook[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        victim);
	snprintf(labels, sizeof(labels),
	        "apps.astra.dev/definition=true apps.astra.dev/name=%s", app);
	snprintf(cm, sizeof(cm), "astra-app-%s", app);
	tenant_cm(kcfg, ns, cm, labels, "app.json", def, (const char *)NULL);
	snprintf(hook, sizeof(hook),
	        "{\"name\":\"reach\",\"stage\":\"pre-snapshot\","
	        "\"namespaceRegex\":\"^%s$\"}",
	        victim);
	snprintf(labels, sizeof(labels),
	        "hooks.astra.dev/definition=true hooks.astra.dev/app=%s "
	        "hooks.astra.dev/name=reach",
	        app);
	snprintf(cm, sizeof(cm), "astra-hook-%s.reach", app);
	tenant_cm(kcfg, ns, cm, labels, "hook.json", hook, "script",
	        "touch /tmp/reached", (const char *)NULL);
	tenant_policy(kcfg, ns, app, "go", NULL, 1, 0, NULL);

	/* the same hook beside an app the tenant may define (over its own
	 * namespace): it selects pods there only */
	char own[64];
	snprintf(own, sizeof(own), "own-hk-%s", rit_rid);
	astra_cluster *c = cluster();
	astra_app *oa = rit_define(c, own, ns);
	snprintf(labels, sizeof(labels),
	        "hooks.astra.dev/definition=true hooks.astra.dev/app=%s "
	        "hooks.astra.dev/name=reach",
	        own);
	snprintf(cm, sizeof(cm), "astra-hook-%s.reach", own);
	tenant_cm(kcfg, ns, cm, labels, "hook.json", hook, "script",
	        "touch /tmp/reached", (const char *)NULL);

	astra__json *rep = run_due(c, app, NULL);
	astra_snapshot_options so;
	cr_assert_astra_ok(astra_snapshot_options_init(
	        &so, ASTRA_SNAPSHOT_OPTIONS_VERSION));
	so.name = "s1";
	cr_assert_astra_ok(astra_snapshot_create(oa, &so, NULL));

	char out[64];
	capture(out, sizeof(out),
	        "kubectl -n %s exec p -- sh -c 'test -e /tmp/reached && echo "
	        "ran || echo clean'",
	        victim);
	cr_assert_str_eq(out, "clean", "a hook from %s ran in the pod of %s",
	        ns, victim);
	cr_assert(!ran_app(rep, app), "the policy of %s ran", app);
	astra__json_free(rep);
	cr_assert_eq(
	        records_in(ns, app), 0, "a record of %s is in %s", victim, ns);
	astra_app_free(oa);
	astra_cluster_free(c);
}

/* A TCP listener on loopback standing for a foreign vault endpoint. */
static int listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	socklen_t l = sizeof(sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin_port);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

Test(tenancy_it,
        a_tenant_policy_neither_reaches_a_foreign_vault_nor_deletes_another_apps_backup)
{
	char ns[64], victim[64], app[64], vapp[64], kcfg[512];
	snprintf(ns, sizeof(ns), "ten-pol-%s", rit_rid);
	snprintf(victim, sizeof(victim), "vic-pol-%s", rit_rid);
	snprintf(app, sizeof(app), "ten-pol-%s", rit_rid);
	snprintf(vapp, sizeof(vapp), "vic-pol-%s", rit_rid);
	tenant(ns, kcfg, sizeof(kcfg));
	sh("kubectl create namespace %s >/dev/null", victim);
	sh("kubectl -n %s create configmap settings --from-literal=a=1 "
	   ">/dev/null",
	        victim);
	astra_cluster *c = cluster();
	/* the victim's app and its backup in the protector's vault */
	astra_app *va = rit_define(c, vapp, victim);
	astra_vault *w = rit_vault("tenancy");
	char wurl[600];
	snprintf(wurl, sizeof(wurl), "file://%s/vault-tenancy-%s",
	        getenv("TMPDIR"), rit_rid);
	char bkname[128];
	snprintf(bkname, sizeof(bkname), "%s-keep", vapp);
	astra_backup_options bo;
	cr_assert_astra_ok(
	        astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION));
	bo.name = bkname;
	bo.volume_path = rit_vpath;
	cr_assert_astra_ok(astra_backup_create(va, w, &bo, NULL));
	/* the tenant's own app (the admin defines it over the tenant's
	 * namespace) */
	astra_app *ta = rit_define(c, app, ns);

	/* policy "far": a vault URL of the tenant's choosing (an endpoint
	 * that would receive the protector's signed requests) and a pending
	 * delete of the victim's backup in the protector's vault */
	int port = 0;
	int lfd = listener(&port);
	setenv("AWS_ACCESS_KEY_ID", "AKIAPROTECTOR", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "protector-secret", 1);
	char vault_member[512], status[1024];
	snprintf(vault_member, sizeof(vault_member),
	        "\"vault\":\"s3://loot/x?endpoint=http://127.0.0.1:%d\"", port);
	snprintf(status, sizeof(status),
	        "{\"pendingDeletes\":[{\"kind\":\"backup\",\"name\":\"%s\","
	        "\"vault\":\"%s\"}]}",
	        bkname, wurl);
	tenant_policy(kcfg, ns, app, "far", vault_member, 0, 1, status);
	/* policy "near": the protector's own vault (trusted for every
	 * policy that names it, the single-user flow) and the same pending
	 * delete: the backup is not the tenant app's */
	snprintf(vault_member, sizeof(vault_member), "\"vault\":\"%s\"", wurl);
	tenant_policy(kcfg, ns, app, "near", vault_member, 0, 1, status);

	astra__json *rep = run_due(c, app, wurl);
	astra__json_free(rep);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* the victim's backup is still there */
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_eq(astra_backup_get(w, bkname, &b), 0,
	        "the victim's backup %s was deleted: %s", bkname,
	        astra_error_last()->message);
	astra_buf_dispose(&b);
	/* nothing contacted the foreign endpoint */
	int got = accept(lfd, NULL, NULL);
	int err = errno;
	cr_assert(got < 0 && (err == EAGAIN || err == EWOULDBLOCK),
	        "the protector connected to the tenant's vault endpoint");
	close(lfd);
	/* the run says why: "far" failed naming the rule; "near" ran */
	cr_assert_astra_ok(astra_policy_list(c, app, &b));
	astra__json *pl = NULL;
	cr_assert_astra_ok(astra__json_parse(&pl, b.ptr, b.size, "policies"));
	astra_buf_dispose(&b);
	int seen = 0;
	for (size_t i = 0; i < astra__json_size(pl); i++) {
		const astra__json *p = astra__json_at(pl, i);
		const astra__json *st = astra__json_get(p, "status");
		if (!strcmp(astra__json_str(p, "name"), "far")) {
			const char *e = astra__json_str(st, "lastError");
			cr_assert(e && strstr(e, "vault URL is not used") &&
			                  !strstr(e, "127.0.0.1"),
			        "far: %s", e ? e : "(no error)");
			seen++;
		}
		if (!strcmp(astra__json_str(p, "name"), "near")) {
			cr_assert_str_eq(
			        astra__json_str(st, "lastResult"), "succeeded");
			seen++;
		}
	}
	cr_assert_eq(seen, 2);
	astra__json_free(pl);
	/* only its own app's policy (or an admin) may delete it */
	cr_assert_eq(astra_backup_delete_app(w, ta, bkname), ASTRA_EAUTH);
	cr_assert_astra_ok(astra_backup_delete_app(w, va, bkname));
	astra_app_free(ta);
	astra_app_free(va);
	astra_vault_free(w);
	astra_cluster_free(c);
}

Test(tenancy_it, a_tenant_policy_names_a_vault_defined_in_the_control_namespace)
{
	char ns[64], app[64], kcfg[512], ref[64], secret[64];
	snprintf(ns, sizeof(ns), "ten-ref-%s", rit_rid);
	snprintf(app, sizeof(app), "ten-ref-%s", rit_rid);
	snprintf(ref, sizeof(ref), "tv-%s", rit_rid);
	snprintf(secret, sizeof(secret), "tv-pw-%s", rit_rid);
	tenant(ns, kcfg, sizeof(kcfg));
	astra_cluster *c = cluster();
	astra_app *ta = rit_define(c, app, ns);
	/* the admin's vault, with a password the runner does not have */
	char url[600];
	snprintf(url, sizeof(url), "file://%s/vault-ref-%s", getenv("TMPDIR"),
	        rit_rid);
	astra_vault_options vo;
	astra_vault_options_init(&vo, ASTRA_VAULT_OPTIONS_VERSION);
	vo.password = "only-in-the-secret";
	vo.kdf_log2n = 10;
	astra_vault *w = NULL;
	cr_assert_astra_ok(astra_vault_init(&w, url, &vo));
	sh("kubectl create namespace astra-system >/dev/null 2>&1 || true");
	sh("kubectl -n astra-system create configmap astra-vault-%s "
	   "--from-literal=url='%s' --from-literal=passwordSecret=%s "
	   ">/dev/null",
	        ref, url, secret);
	char member[128];
	snprintf(member, sizeof(member), "\"vaultRef\":\"%s\"", ref);
	tenant_policy(kcfg, ns, app, "byref", member, 0, 1, NULL);

	/* the Secret is missing: the run fails naming it */
	astra__json *rep = run_due(c, app, NULL);
	astra__json_free(rep);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_policy_list(c, app, &b));
	char want[160];
	snprintf(want, sizeof(want), "Secret astra-system/%s does not exist",
	        secret);
	cr_assert(strstr(b.ptr, want), "no \"%s\" in %s", want, b.ptr);
	astra_buf_dispose(&b);

	/* with the Secret the next run backs up into that vault */
	sh("kubectl -n astra-system create secret generic %s "
	   "--from-literal=password=only-in-the-secret >/dev/null",
	        secret);
	astra_policy_run_options ro;
	cr_assert_astra_ok(astra_policy_run_options_init(
	        &ro, ASTRA_POLICY_RUN_OPTIONS_VERSION));
	ro.vault_password = "integration";
	ro.volume_path = rit_vpath;
	ro.app = app;
	ro.now = (int64_t)time(NULL) + 120;
	cr_assert_astra_ok(astra_policy_run_due(c, &ro, NULL));
	cr_assert_astra_ok(astra_backup_list(w, app, &b));
	astra__json *l = NULL;
	cr_assert_astra_ok(astra__json_parse(&l, b.ptr, b.size, "backups"));
	cr_assert_eq(astra__json_size(l), 1, "%s", b.ptr);
	astra_buf_dispose(&b);
	astra__json_free(l);
	/* nothing secret in what the tenant can read */
	char out[64];
	capture(out, sizeof(out),
	        "kubectl --kubeconfig=%s -n %s get configmaps -o yaml | grep -c "
	        "only-in-the-secret",
	        kcfg, ns);
	cr_assert_str_eq(out, "0");
	astra_vault_free(w);
	astra_app_free(ta);
	astra_cluster_free(c);
}
