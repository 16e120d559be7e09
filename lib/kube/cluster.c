/*
 * The public astra_cluster_* API on lib/kube.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "astra/cluster.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "core/error.h"
#include "core/op.h"
#include "kube/cluster_internal.h"
#include "kube/kube.h"

struct astra_cluster {
	astra__kube *kube;
	astra_cancel *cancel;
	char *control_ns;
};

astra__kube *astra__cluster_kube(astra_cluster *c)
{
	return c ? c->kube : NULL;
}

astra_cancel *astra__cluster_cancel(astra_cluster *c)
{
	return c ? c->cancel : NULL;
}

const char *astra_cluster_control_namespace(const astra_cluster *c)
{
	return c ? c->control_ns : NULL;
}

int astra__cluster_is_control(const astra_cluster *c, const char *ns)
{
	return c && ns && !strcmp(c->control_ns, ns);
}

void astra_strarray_dispose(astra_strarray *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->count; i++)
		free(a->strings[i]);
	free(a->strings);
	a->strings = NULL;
	a->count = 0;
}

astra_status astra_cluster_options_init(
        astra_cluster_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_cluster_options, CLUSTER, o, version,
	        offsetof(astra_cluster_options, control_namespace),
	        sizeof(defaults));
}

/* a namespace name: a DNS label of at most 63 characters */
static int ns_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		            (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

astra_status astra_cluster_open(
        astra_cluster **out, const astra_cluster_options *opts)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	if (opts) {
		int rc = astra__check_version(opts->version,
		        ASTRA_CLUSTER_OPTIONS_VERSION, "astra_cluster_options");
		if (rc)
			return rc;
	}
	astra__kube_options ko;
	memset(&ko, 0, sizeof(ko));
	if (opts) {
		ko.kubeconfig = opts->kubeconfig;
		ko.context = opts->context;
		ko.timeout_ms = opts->timeout_ms;
		ko.retry_budget_ms = opts->retry_budget_ms;
		ko.qps = opts->qps;
		ko.burst = opts->burst;
		ko.cancel = opts->cancel;
	}
	const char *cns = opts && opts->version >= 2 &&
	                                  opts->control_namespace &&
	                                  *opts->control_namespace
	                          ? opts->control_namespace
	                          : ASTRA_CONTROL_NAMESPACE_DEFAULT;
	if (!ns_name(cns))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "control namespace \"%s\" is not a valid namespace "
		        "name (a DNS label of at most 63 characters)",
		        cns);
	astra_cluster *c = astra__calloc(1, sizeof(*c));
	ASTRA_CHECK_ALLOC(c);
	c->cancel = opts ? opts->cancel : NULL;
	c->control_ns = astra__strdup(cns);
	int rc = c->control_ns ? astra__kube_open(&c->kube, &ko) : ASTRA_ENOMEM;
	if (rc) {
		free(c->control_ns);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void astra_cluster_free(astra_cluster *c)
{
	if (!c)
		return;
	astra__kube_free(c->kube);
	free(c->control_ns);
	free(c);
}

const char *astra_cluster_context_name(const astra_cluster *c)
{
	return c ? astra__kube_config(c->kube)->context : NULL;
}

const char *astra_cluster_server(const astra_cluster *c)
{
	return c ? astra__kube_config(c->kube)->server : NULL;
}

const char *astra_cluster_namespace(const astra_cluster *c)
{
	return c ? astra__kube_namespace(c->kube) : NULL;
}

astra_status astra_cluster_server_version(astra_cluster *c, astra_buf *out)
{
	ASTRA_ASSERT_ARG(c && out);
	astra_buf_dispose(out);
	return astra__kube_server_version(c->kube, out);
}

static int add_name(void *p, astra__json *item)
{
	astra_strarray *a = p;
	const char *name =
	        astra__json_str(astra__json_get(item, "metadata"), "name");
	if (!name)
		return 0;
	char **s =
	        astra__reallocarray(a->strings, a->count + 1, sizeof(char *));
	ASTRA_CHECK_ALLOC(s);
	a->strings = s;
	s[a->count] = astra__strdup(name);
	ASTRA_CHECK_ALLOC(s[a->count]);
	a->count++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const astra__kube_resource astra__kube_namespaces_resource = {
	.group = "",
	.version = "v1",
	.resource = "namespaces",
	.kind = "Namespace",
	.singular = "namespace",
	.namespaced = 0,
	.verbs = ASTRA_KUBE_VERB_GET | ASTRA_KUBE_VERB_LIST |
	         ASTRA_KUBE_VERB_WATCH | ASTRA_KUBE_VERB_CREATE |
	         ASTRA_KUBE_VERB_UPDATE | ASTRA_KUBE_VERB_PATCH |
	         ASTRA_KUBE_VERB_DELETE,
	.preferred = 1,
};

astra_status astra_cluster_namespaces(astra_cluster *c, astra_strarray *out)
{
	ASTRA_ASSERT_ARG(c && out);
	astra_strarray_dispose(out);
	astra__op op;
	astra__op_init(&op, NULL, NULL, c->cancel);
	astra__kube_list_options lo;
	memset(&lo, 0, sizeof(lo));
	lo.op = &op;
	int rc = astra__kube_list(c->kube, &astra__kube_namespaces_resource,
	        NULL, &lo, add_name, out, NULL);
	if (rc) {
		astra_strarray_dispose(out);
		return rc;
	}
	qsort(out->strings, out->count, sizeof(char *), cmp_str);
	return 0;
}
