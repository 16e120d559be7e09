/*
 * Private to lib/kube: the client structure shared by its files.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_INTERNAL_H
#define ASTRA_KUBE_INTERNAL_H

#include <pthread.h>

#include "kube/exec.h"
#include "kube/kube.h"
#include "net/http.h"

typedef struct astra__kube_disc astra__kube_disc;

struct astra__kube {
	astra__kubeconfig *cfg;
	astra__http *http;
	char **extra_headers; /* NULL-terminated (impersonation) */
	size_t nextra_headers;
	unsigned exec_timeout_ms;
	astra_cancel *cancel;

	pthread_mutex_t auth_mu; /* guards the credential caches */
	char *file_token;
	uint64_t file_token_ns;
	astra__kube_cred cred;
	int have_cred;

	pthread_mutex_t disc_mu; /* guards disc */
	astra__kube_disc *disc;
	int force_classic;
};

/* Drops the cached discovery (on free). */
void astra__kube_disc_drop(astra__kube *k);

#endif
