/*
 * What later modules use of an astra_cluster: its Kubernetes client.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_CLUSTER_INTERNAL_H
#define ASTRA_KUBE_CLUSTER_INTERNAL_H

#include "astra/cluster.h"
#include "kube/kube.h"

/* The client of a cluster handle (borrowed). */
astra__kube *astra__cluster_kube(astra_cluster *cluster);
/* The cancellation token given at open, or NULL. */
astra_cancel *astra__cluster_cancel(astra_cluster *cluster);

/* 1 when `ns` is the cluster's control namespace (docs/security.md). */
int astra__cluster_is_control(const astra_cluster *cluster, const char *ns);

/* core/v1 namespaces, usable without discovery. */
extern const astra__kube_resource astra__kube_namespaces_resource;

#endif
