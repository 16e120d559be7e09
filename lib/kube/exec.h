/*
 * Exec credential plugins (client.authentication.k8s.io/v1 and v1beta1), as
 * EKS (aws eks get-token), GKE (gke-gcloud-auth-plugin) and AKS (kubelogin)
 * use them: the command runs non-interactively with the kubeconfig's env
 * plus KUBERNETES_EXEC_INFO, and prints an ExecCredential whose status
 * carries a token or a client certificate and key, and an optional
 * expirationTimestamp.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_EXEC_H
#define ASTRA_KUBE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "kube/kubeconfig.h"

typedef struct {
	char *token; /* secret */
	char *cert_pem;
	size_t cert_len;
	char *key_pem; /* secret */
	size_t key_len;
	int64_t expiry; /* Unix seconds; 0: does not expire */
} astra__kube_cred;

/* Wipes and frees the members. */
void astra__kube_cred_clear(astra__kube_cred *c);

/*
 * Runs the plugin of cfg->exec (cluster information from cfg when
 * provideClusterInfo is set). Errors: ASTRA_ENOTFOUND (command missing,
 * with the install hint), ASTRA_EAUTH (non-zero exit, with the last line of
 * its stderr; interactiveMode Always), ASTRA_ETIMEOUT, ASTRA_EPARSE (output
 * not an ExecCredential of the requested apiVersion).
 */
int astra__kube_exec_run(const astra__kubeconfig *cfg, unsigned timeout_ms,
        astra__kube_cred *out);

/* Parses a plugin's output (exposed for tests and fuzzing). */
int astra__kube_exec_parse(const char *text, size_t len,
        const char *api_version, const char *command, astra__kube_cred *out);

#endif
