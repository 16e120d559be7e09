/*
 * libastra - a Kubernetes cluster: a kubeconfig context and a connection
 * to its API server.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CLUSTER_H
#define ASTRA_CLUSTER_H

/**
 * @file astra/cluster.h
 * @defgroup astra_cluster Kubernetes clusters
 * @{
 */

#include "astra/common.h"

ASTRA_BEGIN_DECL

/**
 * A list of strings returned by astra. Release with
 * astra_strarray_dispose(), never free(). Initialise with
 * ASTRA_STRARRAY_INIT before passing it to a call that fills it.
 */
typedef struct {
	char **strings; /**< `count` NUL-terminated strings */
	size_t count;
} astra_strarray;

#define ASTRA_STRARRAY_INIT \
	{                   \
		NULL, 0     \
	}

/** Frees the strings and resets the array. NULL is ok. */
ASTRA_API void astra_strarray_dispose(astra_strarray *array);

/** A connection to one Kubernetes cluster. Opaque. */
typedef struct astra_cluster astra_cluster;

/** Options of astra_cluster_open(). Fields are appended only. */
typedef struct {
	unsigned int version; /**< ASTRA_CLUSTER_OPTIONS_VERSION */
	/**
	 * Path of a kubeconfig file, or several separated by ':' (merged as
	 * kubectl merges $KUBECONFIG). NULL: $KUBECONFIG, else
	 * ~/.kube/config, else the in-cluster service account.
	 */
	const char *kubeconfig;
	/** Context name; NULL: the kubeconfig's current-context. */
	const char *context;
	/** Timeout of one API request in milliseconds; 0: 60 000. */
	unsigned int timeout_ms;
	/**
	 * Total time spent retrying a failing request (server errors, 429,
	 * connection failures) in milliseconds; 0: 30 000. An unreachable
	 * server fails with ASTRA_ENET once it is spent.
	 */
	unsigned int retry_budget_ms;
	/** Client-side rate limit in requests per second; 0: 100;
	 *  negative: unlimited. */
	double qps;
	/** Requests allowed in a burst above qps; 0: 200. */
	unsigned int burst;
	/** Cancels calls in progress on this cluster; may be NULL. Must
	 *  outlive the cluster. */
	astra_cancel *cancel;
	/* v2 */
	/**
	 * The control namespace: the one namespace whose app definitions
	 * may span namespaces and whose policies may name a vault URL, and
	 * where vault definitions live (docs/security.md, "Trust model").
	 * NULL or "": "astra-system".
	 */
	const char *control_namespace;
} astra_cluster_options;

#define ASTRA_CLUSTER_OPTIONS_VERSION 2
#define ASTRA_CLUSTER_OPTIONS_INIT                                             \
	{                                                                      \
		ASTRA_CLUSTER_OPTIONS_VERSION, NULL, NULL, 0, 0, 0.0, 0, NULL, \
		        NULL                                                   \
	}

/** The default control namespace. */
#define ASTRA_CONTROL_NAMESPACE_DEFAULT "astra-system"

/**
 * Initialises `opts` with defaults.
 * @return 0, or ASTRA_EVERSION when `version` is unknown.
 */
ASTRA_API astra_status astra_cluster_options_init(
        astra_cluster_options *opts, unsigned int version) ASTRA_WARN_UNUSED;

/**
 * Loads the kubeconfig and prepares a connection; does not contact the
 * server. `opts` may be NULL for the defaults. Release with
 * astra_cluster_free().
 *
 * @return 0; ASTRA_EPARSE for a malformed kubeconfig (the message names
 * the file and the line); ASTRA_ENOTFOUND when no kubeconfig exists or
 * the context is unknown (the message lists the known contexts);
 * ASTRA_EINVALID, ASTRA_ENOTSUPPORTED for unusable settings.
 */
ASTRA_API astra_status astra_cluster_open(astra_cluster **out,
        const astra_cluster_options *opts) ASTRA_WARN_UNUSED;

/** Closes the connection and frees the handle. NULL is ok. */
ASTRA_API void astra_cluster_free(astra_cluster *cluster);

/** The context name (borrowed; valid until astra_cluster_free()). */
ASTRA_API const char *astra_cluster_context_name(const astra_cluster *cluster);

/** The API server URL (borrowed; valid until astra_cluster_free()). */
ASTRA_API const char *astra_cluster_server(const astra_cluster *cluster);

/** The control namespace (borrowed; valid until astra_cluster_free()):
 *  astra_cluster_options.control_namespace or "astra-system". */
ASTRA_API const char *astra_cluster_control_namespace(
        const astra_cluster *cluster);

/** The context's default namespace, "default" when it sets none
 *  (borrowed; valid until astra_cluster_free()). */
ASTRA_API const char *astra_cluster_namespace(const astra_cluster *cluster);

/**
 * The server's version, e.g. "v1.36.3", into `out` (initialise it with
 * ASTRA_BUF_INIT; release with astra_buf_dispose()).
 *
 * @return 0; ASTRA_ENET (unreachable after the retry budget),
 * ASTRA_ECERTIFICATE, ASTRA_EAUTH (with the server's reason),
 * ASTRA_ETIMEOUT, ASTRA_ECANCELLED.
 */
ASTRA_API astra_status astra_cluster_server_version(
        astra_cluster *cluster, astra_buf *out) ASTRA_WARN_UNUSED;

/**
 * The names of all namespaces, sorted, into `out` (initialise it with
 * ASTRA_STRARRAY_INIT; release with astra_strarray_dispose()).
 *
 * @return 0, or the errors of astra_cluster_server_version(); ASTRA_EAUTH
 * when the user may not list namespaces.
 */
ASTRA_API astra_status astra_cluster_namespaces(
        astra_cluster *cluster, astra_strarray *out) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */
#endif
