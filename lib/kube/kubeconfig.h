/*
 * kubeconfig loading as kubectl does it, resolved to one context: the
 * cluster (server, TLS, proxy) and the user (token, token file, client
 * certificate, basic auth, exec credential plugin, impersonation).
 *
 * Sources, when no path is given: $KUBECONFIG (a ':'-separated list of
 * files merged in order: for each named cluster, user and context the first
 * file that defines it wins; current-context comes from the first file that
 * sets it; files that do not exist are skipped), else ~/.kube/config, else
 * the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and
 * /var/run/secrets/kubernetes.io/serviceaccount). An explicit path may also
 * be a ':'-separated list; each of its files must exist.
 *
 * Relative file paths (certificate-authority, client-certificate,
 * client-key, tokenFile, and an exec command containing '/') are resolved
 * against the directory of the file that defined them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_KUBECONFIG_H
#define ASTRA_KUBE_KUBECONFIG_H

#include <stddef.h>

#include "astra/common.h"

/* The kubeconfig cluster extension (cluster.extensions[].name) whose
 * `extension: {allowCredentials: true}` lets a token, a password or an exec
 * plugin's credential go to a plain http:// server that is not on
 * loopback. Without it such a kubeconfig is refused. */
#define ASTRA_KUBE_EXT_PLAIN_HTTP "astra.dev/plain-http"

typedef struct {
	char *name;
	char *value; /* may be a secret */
} astra__kube_env;

typedef struct {
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;
	char **args;
	size_t nargs;
	astra__kube_env *env;
	size_t nenv;
	char *install_hint;
	char *interactive_mode; /* Never, IfAvailable, Always */
	int provide_cluster_info;
	char *dir; /* directory of the defining kubeconfig (working dir) */
} astra__kube_exec;

typedef struct {
	char *context; /* context name ("in-cluster" for in-cluster) */
	char *source; /* file that defined the context, or "in-cluster" */
	char *namespace; /* context namespace, or NULL ("default") */
	char **contexts; /* every context name known, sorted */
	size_t ncontexts;

	/* cluster */
	char *cluster_name;
	char *server; /* without a trailing '/' */
	char *ca_file;
	char *ca_data; /* PEM, decoded from certificate-authority-data */
	size_t ca_data_len;
	int insecure;
	char *tls_server_name;
	char *proxy_url;
	int disable_compression;
	/* extension astra.dev/plain-http {allowCredentials: true}: send
	 * credentials to an http:// server that is not on loopback */
	int allow_plain_http_credentials;

	/* user */
	char *user_name;
	char *token; /* secret */
	char *token_file;
	char *cert_file;
	char *key_file;
	char *cert_data; /* PEM */
	size_t cert_data_len;
	char *key_data; /* PEM, secret */
	size_t key_data_len;
	char *username; /* basic auth */
	char *password; /* secret */
	astra__kube_exec *exec;
	char *impersonate_user; /* as */
	char *impersonate_uid; /* as-uid */
	char **impersonate_groups; /* as-groups */
	size_t nimpersonate_groups;
	astra__kube_env *impersonate_extra; /* as-user-extra, one per value */
	size_t nimpersonate_extra;
} astra__kubeconfig;

/*
 * Loads and resolves. `paths`: NULL for the defaults above; `context`: NULL
 * for current-context. Errors: ASTRA_EPARSE (file and line), ASTRA_ENOTFOUND
 * (no kubeconfig; unknown context, listing the known ones; missing cluster
 * or user), ASTRA_EINVALID (e.g. a context without a server).
 */
int astra__kubeconfig_load(
        astra__kubeconfig **out, const char *paths, const char *context);

/* Parses kubeconfig text (for tests and fuzzing); `what` names it and
 * relative paths resolve against `dir`. */
int astra__kubeconfig_parse(astra__kubeconfig **out, const char *text,
        size_t len, const char *what, const char *dir, const char *context);

/* The in-cluster configuration from the environment and `sa_dir` (NULL:
 * /var/run/secrets/kubernetes.io/serviceaccount). ASTRA_ENOTFOUND when not
 * running in a cluster. */
int astra__kubeconfig_in_cluster(astra__kubeconfig **out, const char *sa_dir);

void astra__kubeconfig_free(astra__kubeconfig *cfg);

#endif
