/*
 * Listing N objects through libastra versus `kubectl get --raw` of the same
 * list, against one cluster. Prints a Markdown table with the medians and
 * the ratio. Built and run by bench/kube_list/run.
 *
 *   kube_list --kubeconfig F [--context C] [--namespace NS] [--count N]
 *             [--runs R] [--page P] [--kubectl PATH] [--setup-only]
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "astra/common.h"
#include "core/clock.h"
#include "fmt/json.h"
#include "kube/kube.h"

extern char **environ;

static const char *kubeconfig, *context, *ns = "bench-list",
                                         *kubectl = "kubectl";
static int count = 5000, runs = 7, page = 500, setup_only;

static void die(const char *what, int rc)
{
	fprintf(stderr, "kube_list: %s: %d %s\n", what, rc,
	        astra_error_last()->message);
	exit(1);
}

typedef struct {
	astra__kube *k;
	const astra__kube_resource *r;
	int from, to, rc;
} job;

static void *create_range(void *p)
{
	job *j = p;
	for (int i = j->from; i < j->to && !j->rc; i++) {
		char buf[600];
		snprintf(buf, sizeof(buf),
		        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		        "\"metadata\":{\"name\":\"bench-%05d\",\"labels\":{"
		        "\"app\":\"bench\",\"shard\":\"%d\"}},\"data\":{"
		        "\"index\":\"%d\",\"payload\":\"%0200d\"}}",
		        i, i % 16, i, i);
		astra__json *o;
		j->rc = astra__json_parse(&o, buf, strlen(buf), "cm");
		if (!j->rc) {
			j->rc = astra__kube_create(
			        j->k, j->r, ns, o, NULL, NULL);
			if (j->rc == ASTRA_EEXISTS)
				j->rc = 0;
		}
		astra__json_free(o);
	}
	return NULL;
}

static int counter(void *p, astra__json *item)
{
	(void)item;
	(*(int *)p)++;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return (double)v[n / 2] / 1e6;
}

static uint64_t run_kubectl(const char *path)
{
	char *argv[] = { (char *)kubectl, "--kubeconfig", (char *)kubeconfig,
		"get", "--raw", (char *)path, NULL, NULL, NULL };
	char ctx[300];
	if (context) {
		snprintf(ctx, sizeof(ctx), "--context=%s", context);
		argv[6] = ctx;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	uint64_t t0 = astra__mono_ns();
	if (posix_spawnp(&pid, kubectl, &fa, NULL, argv, environ)) {
		fprintf(stderr, "kube_list: cannot run %s\n", kubectl);
		exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	uint64_t dt = astra__mono_ns() - t0;
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "kube_list: kubectl get --raw %s failed\n",
		        path);
		exit(1);
	}
	return dt;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--kubeconfig") && v)
			kubeconfig = argv[++i];
		else if (!strcmp(a, "--context") && v)
			context = argv[++i];
		else if (!strcmp(a, "--namespace") && v)
			ns = argv[++i];
		else if (!strcmp(a, "--count") && v)
			count = atoi(argv[++i]);
		else if (!strcmp(a, "--runs") && v)
			runs = atoi(argv[++i]);
		else if (!strcmp(a, "--page") && v)
			page = atoi(argv[++i]);
		else if (!strcmp(a, "--kubectl") && v)
			kubectl = argv[++i];
		else if (!strcmp(a, "--setup-only"))
			setup_only = 1;
		else {
			fprintf(stderr, "kube_list: unknown argument %s\n", a);
			return 2;
		}
	}
	if (!kubeconfig || runs < 1 || runs > 100 || count < 1) {
		fprintf(stderr, "usage: kube_list --kubeconfig F [--context C] "
		                "[--namespace NS] [--count N] [--runs R] "
		                "[--page P] [--kubectl PATH] [--setup-only]\n");
		return 2;
	}
	if (astra_init() < 0)
		die("init", -1);
	astra__kube_options o;
	memset(&o, 0, sizeof(o));
	o.kubeconfig = kubeconfig;
	o.context = context;
	o.qps = -1;
	astra__kube *k;
	int rc = astra__kube_open(&k, &o);
	if (rc)
		die("open", rc);

	/* setup: the namespace and `count` ConfigMaps */
	astra__kube_resource nsr, cm;
	if ((rc = astra__kube_find_kind(k, "", NULL, "Namespace", &nsr)) ||
	        (rc = astra__kube_find_kind(k, "", NULL, "ConfigMap", &cm)))
		die("discovery", rc);
	char buf[300];
	snprintf(buf, sizeof(buf),
	        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
	        "\"name\":\"%s\"}}",
	        ns);
	astra__json *nso;
	astra__json_parse(&nso, buf, strlen(buf), "ns");
	rc = astra__kube_create(k, &nsr, NULL, nso, NULL, NULL);
	if (rc && rc != ASTRA_EEXISTS)
		die("create namespace", rc);
	astra__json_free(nso);
	int have = 0;
	astra__kube_list_options lo;
	memset(&lo, 0, sizeof(lo));
	if ((rc = astra__kube_list(k, &cm, ns, &lo, counter, &have, NULL)))
		die("list", rc);
	if (have < count) {
		uint64_t t0 = astra__mono_ns();
		pthread_t th[8];
		job jobs[8];
		for (int i = 0; i < 8; i++) {
			jobs[i] = (job){ k, &cm, i * count / 8,
				(i + 1) * count / 8, 0 };
			pthread_create(&th[i], NULL, create_range, &jobs[i]);
		}
		for (int i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			if (jobs[i].rc)
				die("create", jobs[i].rc);
		}
		fprintf(stderr, "kube_list: created %d ConfigMaps in %.1f s\n",
		        count - have, (double)(astra__mono_ns() - t0) / 1e9);
	}
	if (setup_only)
		return 0;

	char path[400];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	uint64_t *lib = calloc((size_t)runs, sizeof(uint64_t));
	uint64_t *libp = calloc((size_t)runs, sizeof(uint64_t));
	uint64_t *kc = calloc((size_t)runs, sizeof(uint64_t));
	/* warm-up: connections, discovery, server caches */
	run_kubectl(path);
	int n = 0;
	lo.limit = (unsigned)count * 2;
	astra__kube_list(k, &cm, ns, &lo, counter, &n, NULL);
	for (int r = 0; r < runs; r++) {
		/* a new client each run: loading the kubeconfig and setting
		 * up the connection are counted, as they are for kubectl */
		astra__kube *k2;
		n = 0;
		lo.limit = (unsigned)count * 2; /* one page, like kubectl */
		uint64_t t0 = astra__mono_ns();
		if ((rc = astra__kube_open(&k2, &o)))
			die("open", rc);
		if ((rc = astra__kube_list(
		             k2, &cm, ns, &lo, counter, &n, NULL)))
			die("list", rc);
		lib[r] = astra__mono_ns() - t0;
		astra__kube_free(k2);
		if (n < count)
			die("list count", n);

		n = 0;
		lo.limit = (unsigned)page;
		t0 = astra__mono_ns();
		if ((rc = astra__kube_open(&k2, &o)))
			die("open", rc);
		if ((rc = astra__kube_list(
		             k2, &cm, ns, &lo, counter, &n, NULL)))
			die("list", rc);
		libp[r] = astra__mono_ns() - t0;
		astra__kube_free(k2);

		kc[r] = run_kubectl(path);
	}
	double ml = median_ms(lib, runs), mp = median_ms(libp, runs),
	       mk = median_ms(kc, runs);
	printf("| what (%d ConfigMaps, median of %d runs) | time (ms) | ratio to kubectl |\n",
	        count, runs);
	printf("|---|---:|---:|\n");
	printf("| `kubectl get --raw %s` | %.1f | 1.00 |\n", path, mk);
	printf("| libastra list, one request | %.1f | %.2f |\n", ml, ml / mk);
	printf("| libastra list, pages of %d | %.1f | %.2f |\n", page, mp,
	        mp / mk);
	free(lib);
	free(libp);
	free(kc);
	astra__kube_resource_clear(&nsr);
	astra__kube_resource_clear(&cm);
	astra__kube_free(k);
	astra_shutdown();
	return 0;
}
