/*
 * The REST client's error paths against a scripted loopback HTTP server:
 * garbage and truncated bodies, watch ERROR events, 429 with Retry-After,
 * classic discovery with an unavailable group. (The behaviour against a
 * real API server is covered by tests/integration/kube.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astra_test.h"
#include "kube/kube.h"

static int srv_fd = -1, srv_port;
static atomic_int n_busy;
static char kc_path[256];

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *extra, const char *body)
{
	char head[512];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
	        "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	        "Content-Length: %zu\r\n%s\r\n",
	        status, blen, extra ? extra : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, blen);
}

static void handle(int fd, const char *path)
{
	if (!strcmp(path, "/version")) {
		respond(fd, 200, NULL, "{\"gitVersion\":\"v9.9.9\"}");
	} else if (!strncmp(path, "/api/v1/namespaces/g/configmaps", 31)) {
		respond(fd, 200, NULL,
		        "{\"kind\":\"ConfigMapList\",\"items\":[{");
	} else if (!strncmp(path, "/api/v1/namespaces/x/configmaps", 31)) {
		respond(fd, 200, NULL,
		        "{\"kind\":\"ConfigMapList\",\"items\":7}");
	} else if (!strncmp(path, "/api/v1/namespaces/busy/configmaps", 34)) {
		if (atomic_fetch_add(&n_busy, 1) < 2)
			respond(fd, 429, "Retry-After: 0\r\n",
			        "{\"kind\":\"Status\",\"reason\":"
			        "\"TooManyRequests\",\"code\":429}");
		else
			respond(fd, 200, NULL,
			        "{\"kind\":\"ConfigMapList\",\"metadata\":{"
			        "\"resourceVersion\":\"42\"},\"items\":[{"
			        "\"metadata\":{\"name\":\"a\"}}]}");
	} else if (!strncmp(path, "/api/v1/namespaces/w/configmaps?", 32)) {
		respond(fd, 200, NULL,
		        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":"
		        "\"a\",\"resourceVersion\":\"7\"}}}\n"
		        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
		        "\"code\":410,\"reason\":\"Expired\",\"message\":\"too "
		        "old resource version: 1 (7)\"}}\n");
	} else if (!strncmp(path, "/api/v1/namespaces/wg/configmaps?", 33)) {
		respond(fd, 200, NULL,
		        "{\"type\":\"ADDED\",\"object\":{}}\nnot json\n");
	} else if (!strncmp(path, "/api/v1/namespaces/p/configmaps?", 32)) {
		/* two pages; the selector must stay on the second */
		if (!strstr(path, "labelSelector=app%3Dx"))
			respond(fd, 400, NULL, "{\"message\":\"no selector\"}");
		else if (!strstr(path, "continue="))
			respond(fd, 200, NULL,
			        "{\"metadata\":{\"continue\":\"c1\"},\"items\":"
			        "[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":"
			        "{\"name\":\"b\"}}]}");
		else if (strstr(path, "continue=c1"))
			respond(fd, 200, NULL,
			        "{\"metadata\":{},\"items\":[{\"metadata\":{"
			        "\"name\":\"c\"}}]}");
		else
			respond(fd, 410, NULL, "{\"reason\":\"Expired\"}");
	} else if (!strncmp(path, "/api/v1/namespaces/t/configmaps?", 32)) {
		/* a "continue" that is not the list's: the read-ahead must
		 * not be trusted */
		if (strstr(path, "continue="))
			respond(fd, 200, NULL,
			        "{\"items\":[{\"metadata\":{\"name\":\"bogus\"}}]}");
		else
			respond(fd, 200, NULL,
			        "{\"metadata\":{\"annotations\":{\"continue\":"
			        "\"zzz\"}},\"items\":[{\"metadata\":{\"name\":"
			        "\"only\"}}]}");
	} else if (!strcmp(path, "/api")) {
		respond(fd, 200, NULL,
		        "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}");
	} else if (!strcmp(path, "/api/v1")) {
		respond(fd, 200, NULL,
		        "{\"kind\":\"APIResourceList\",\"resources\":[{\"name\":"
		        "\"configmaps\",\"namespaced\":true,\"kind\":"
		        "\"ConfigMap\",\"verbs\":[\"get\",\"list\"]}]}");
	} else if (!strcmp(path, "/apis")) {
		respond(fd, 200, NULL,
		        "{\"kind\":\"APIGroupList\",\"groups\":[{\"name\":"
		        "\"metrics.example\",\"versions\":[{\"version\":"
		        "\"v1\"}]},{\"name\":\"ok.example\",\"versions\":[{"
		        "\"version\":\"v2\"}],\"preferredVersion\":{\"version\":"
		        "\"v2\"}}]}");
	} else if (!strcmp(path, "/apis/metrics.example/v1")) {
		respond(fd, 503, NULL, "service unavailable");
	} else if (!strcmp(path, "/apis/ok.example/v2")) {
		respond(fd, 200, NULL,
		        "{\"resources\":[{\"name\":\"things\",\"namespaced\":"
		        "false,\"kind\":\"Thing\"}]}");
	} else {
		respond(fd, 404, NULL,
		        "{\"kind\":\"Status\",\"reason\":\"NotFound\"}");
	}
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf))
				goto out;
			ssize_t r = read(fd, buf + have, sizeof(buf) - have);
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		size_t used = (size_t)(end - buf) + 4;
		char method[16] = "", path[1024] = "";
		sscanf(buf, "%15s %1023s", method, path);
		/* bodies are not used by these tests: requests are GETs */
		memmove(buf, buf + used, have - used);
		have -= used;
		handle(fd, path);
	}
out:
	close(fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(srv_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_t t;
		pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static void start(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(listen(srv_fd, 16) == 0);
	getsockname(srv_fd, (struct sockaddr *)&a, &l);
	srv_port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, accept_main, NULL);
	pthread_detach(t);
	cr_assert(astra_init() > 0);
	snprintf(kc_path, sizeof(kc_path), "/tmp/astra-rest-%d.kubeconfig",
	        (int)getpid());
	FILE *f = fopen(kc_path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "clusters:\n- name: fake\n  cluster: {server: "
	        "'http://127.0.0.1:%d'}\n"
	        "contexts:\n- name: fake\n  context: {cluster: fake, "
	        "namespace: team}\n"
	        "current-context: fake\n",
	        srv_port);
	fclose(f);
}

static void stop(void)
{
	unlink(kc_path);
	astra_shutdown();
}

TestSuite(kube_rest, .init = start, .fini = stop, .timeout = 30);

static astra__kube *open_fake(void)
{
	astra__kube_options o;
	memset(&o, 0, sizeof(o));
	o.kubeconfig = kc_path;
	astra__kube *k;
	cr_assert_astra_ok(astra__kube_open(&k, &o));
	return k;
}

static astra__kube_resource cm = { .group = "",
	.version = "v1",
	.resource = "configmaps",
	.kind = "ConfigMap",
	.namespaced = 1 };

static int count(void *p, astra__json *item)
{
	(void)item;
	(*(int *)p)++;
	return 0;
}

Test(kube_rest, server_version_and_default_namespace)
{
	astra__kube *k = open_fake();
	astra_buf v = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__kube_server_version(k, &v));
	cr_assert_str_eq(v.ptr, "v9.9.9");
	cr_assert_str_eq(astra__kube_namespace(k), "team");
	astra_buf_dispose(&v);
	astra__kube_free(k);
}

Test(kube_rest, truncated_and_malformed_lists_are_eparse)
{
	astra__kube *k = open_fake();
	int n = 0;
	cr_assert_astra_fail(
	        astra__kube_list(k, &cm, "g", NULL, count, &n, NULL),
	        ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "configmaps in namespace "
	                                              "\"g\""),
	        "%s", astra_error_last()->message);
	cr_assert_astra_fail(
	        astra__kube_list(k, &cm, "x", NULL, count, &n, NULL),
	        ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "not a list"));
	cr_assert_eq(n, 0);
	astra__kube_free(k);
}

Test(kube_rest, throttling_429_is_retried)
{
	astra__kube *k = open_fake();
	int n = 0;
	char *rv = NULL;
	cr_assert_astra_ok(
	        astra__kube_list(k, &cm, "busy", NULL, count, &n, &rv));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(rv, "42");
	cr_assert_eq(atomic_load(&n_busy), 3);
	free(rv);
	astra__kube_free(k);
}

Test(kube_rest, not_found_is_enotfound)
{
	astra__kube *k = open_fake();
	astra__json *o;
	cr_assert_astra_fail(
	        astra__kube_get(k, &cm, NULL, "nope", &o), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message,
	        "get configmaps \"nope\" in namespace \"team\": not found"));
	astra__kube_free(k);
}

Test(kube_rest, pagination_keeps_selectors_on_every_page)
{
	astra__kube *k = open_fake();
	int n = 0;
	astra__kube_list_options lo = { .label_selector = "app=x", .limit = 2 };
	cr_assert_astra_ok(astra__kube_list(k, &cm, "p", &lo, count, &n, NULL));
	cr_assert_eq(n, 3);
	astra__kube_free(k);
}

Test(kube_rest, a_misleading_read_ahead_token_is_discarded)
{
	astra__kube *k = open_fake();
	int n = 0;
	cr_assert_astra_ok(
	        astra__kube_list(k, &cm, "t", NULL, count, &n, NULL));
	cr_assert_eq(n, 1);
	astra__kube_free(k);
}

static int events;
static int on_ev(void *p, const char *type, astra__json *obj)
{
	(void)p;
	(void)type;
	(void)obj;
	events++;
	return 0;
}

Test(kube_rest, watch_error_event_maps_to_econflict)
{
	astra__kube *k = open_fake();
	astra__kube_list_options lo = { .resource_version = "1" };
	char *rv = NULL;
	cr_assert_astra_fail(
	        astra__kube_watch(k, &cm, "w", &lo, on_ev, NULL, &rv),
	        ASTRA_ECONFLICT);
	const char *m = astra_error_last()->message;
	cr_assert_eq(events, 1);
	cr_assert(strstr(m, "too old resource version"), "%s", m);
	cr_assert(strstr(m, "cluster \"fake\": watch configmaps"), "%s", m);
	cr_assert_null(strstr(m + 1, "cluster \"fake\""), "once: %s", m);
	astra__kube_free(k);
}

Test(kube_rest, garbage_watch_events_are_eparse)
{
	astra__kube *k = open_fake();
	cr_assert_astra_fail(
	        astra__kube_watch(k, &cm, "wg", NULL, on_ev, NULL, NULL),
	        ASTRA_EPARSE);
	astra__kube_free(k);
}

Test(kube_rest, classic_discovery_skips_unavailable_groups)
{
	astra__kube *k = open_fake();
	astra__kube_resource r;
	cr_assert_astra_ok(astra__kube_find_kind(k, "", NULL, "ConfigMap", &r));
	cr_assert_str_eq(r.resource, "configmaps");
	astra__kube_resource_clear(&r);
	cr_assert_astra_ok(
	        astra__kube_find_kind(k, "ok.example", NULL, "Thing", &r));
	cr_assert_eq(r.preferred, 1);
	cr_assert_eq(r.namespaced, 0);
	astra__kube_resource_clear(&r);
	cr_assert_astra_ok(astra__kube_find_resource(k, "things", &r));
	astra__kube_resource_clear(&r);
	const astra__kube_discovery *d;
	cr_assert_astra_ok(astra__kube_discovery_get(k, 0, &d));
	cr_assert_eq(d->aggregated, 0);
	cr_assert_eq(d->n, 2);
	astra__kube_discovery_release(k, d);
	cr_assert_astra_fail(
	        astra__kube_find_kind(k, "metrics.example", NULL, "X", &r),
	        ASTRA_ENOTFOUND);
	astra__kube_free(k);
}
