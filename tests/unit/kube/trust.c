/*
 * Trust boundaries of the kube client without an API server: the
 * impersonation headers built from a kubeconfig, the TLS-off switches and
 * credentials over plain HTTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "kube/internal.h"
#include "kube/kube.h"
#include "kube/kubeconfig.h"

/* A kubeconfig with one cluster (`cluster` lines) and one user (`user`
 * lines), both indented under their key. */
static char *kc_text(const char *cluster, const char *user)
{
	static char text[4096];
	snprintf(text, sizeof(text),
	        "apiVersion: v1\n"
	        "kind: Config\n"
	        "current-context: ctx\n"
	        "clusters:\n"
	        "- name: c1\n"
	        "  cluster:\n"
	        "%s"
	        "users:\n"
	        "- name: u1\n"
	        "  user:\n"
	        "%s"
	        "contexts:\n"
	        "- name: ctx\n"
	        "  context: {cluster: c1, user: u1}\n",
	        cluster, user);
	return text;
}

static int kc_open(astra__kube **k, const char *cluster, const char *user)
{
	astra__kubeconfig *cfg = NULL;
	const char *t = kc_text(cluster, user);
	int rc = astra__kubeconfig_parse(
	        &cfg, t, strlen(t), "test.kubeconfig", "/tmp", NULL);
	if (rc)
		return rc;
	return astra__kube_open_config(k, cfg, NULL);
}

static const char *https_server = "    server: https://api.example.test\n";

static int has_header(const astra__kube *k, const char *line)
{
	for (size_t i = 0; i < k->nextra_headers; i++)
		if (!strcmp(k->extra_headers[i], line))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Impersonation                                                       */
/* ------------------------------------------------------------------ */

Test(kube_trust, impersonation_headers_are_well_formed)
{
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, https_server,
	        "    token: abc\n"
	        "    as: alice\n"
	        "    as-uid: uid-1234\n"
	        "    as-groups: [dev, ops]\n"
	        "    as-user-extra:\n"
	        "      scopes: [view, edit]\n"
	        "      example.com/Reason Why: [audit]\n"));
	cr_assert(has_header(k, "Impersonate-User: alice"), "%s",
	        k->extra_headers[0]);
	cr_assert_eq(k->nextra_headers, 7);
	cr_assert(has_header(k, "Impersonate-Uid: uid-1234"));
	cr_assert(has_header(k, "Impersonate-Group: dev"));
	cr_assert(has_header(k, "Impersonate-Group: ops"));
	cr_assert(has_header(k, "Impersonate-Extra-scopes: view"));
	cr_assert(has_header(k, "Impersonate-Extra-scopes: edit"));
	cr_assert(has_header(
	        k, "Impersonate-Extra-example.com%2FReason%20Why: audit"));
	cr_assert_null(k->extra_headers[k->nextra_headers]);
	for (size_t i = 0; i < k->nextra_headers; i++)
		cr_assert_null(strstr(k->extra_headers[i], "%s"), "%s",
		        k->extra_headers[i]);
	astra__kube_free(k);
}

Test(kube_trust, no_impersonation_no_headers)
{
	astra__kube *k = NULL;
	cr_assert_astra_ok(kc_open(&k, https_server, "    token: abc\n"));
	cr_assert_eq(k->nextra_headers, 0);
	astra__kube_free(k);
}

Test(kube_trust, impersonated_groups_need_a_user)
{
	astra__kube *k = NULL;
	cr_assert_astra_fail(kc_open(&k, https_server,
	                             "    token: abc\n"
	                             "    as-groups: [dev]\n"),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "need as"), "%s",
	        astra_error_last()->message);
	cr_assert_null(k);
}

Test(kube_trust, impersonation_value_cannot_inject_a_header)
{
	astra__kube *k = NULL;
	cr_assert_astra_fail(kc_open(&k, https_server,
	                             "    token: abc\n"
	                             "    as: \"alice\\r\\nX-Evil: 1\"\n"),
	        ASTRA_EINVALID);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "Impersonate-User") && strstr(m, "u1"), "%s", m);
	cr_assert_null(k);
}
