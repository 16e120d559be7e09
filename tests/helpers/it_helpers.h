/*
 * Helpers shared by the integration suites that drive a test-bed cluster:
 * shell commands (kubectl, helm) and a cluster handle from $KUBECONFIG, or
 * from $ASTRA_IT_PROTECTOR_KUBECONFIG when set (run.sh with
 * ASTRA_IT_AS_PROTECTOR=1: the library runs as the ServiceAccount of
 * deploy/rbac/ while the tests' own kubectl set-up keeps admin rights).
 */
#ifndef ASTRA_IT_HELPERS_H
#define ASTRA_IT_HELPERS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra.h"
#include "astra_test.h"

/* Runs a shell command; fails the test when it fails. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

/* A command's output, without trailing newlines ("" when it fails). */
static void capture(char *out, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4), unused));
static void capture(char *out, size_t n, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	out[0] = 0;
	if (p) {
		size_t got = fread(out, 1, n - 1, p);
		out[got] = 0;
		pclose(p);
	}
	size_t l = strlen(out);
	while (l && out[l - 1] == '\n')
		out[--l] = 0;
}

/* The cluster of $KUBECONFIG (the test bed's), as the protector
 * ServiceAccount when $ASTRA_IT_PROTECTOR_KUBECONFIG names its kubeconfig. */
static astra_cluster *cluster(void)
{
	astra_cluster *c = NULL;
	astra_cluster_options o;
	cr_assert_astra_ok(
	        astra_cluster_options_init(&o, ASTRA_CLUSTER_OPTIONS_VERSION));
	const char *sa = getenv("ASTRA_IT_PROTECTOR_KUBECONFIG");
	if (sa && *sa)
		o.kubeconfig = sa;
	cr_assert_astra_ok(astra_cluster_open(&c, &o));
	return c;
}

#endif
