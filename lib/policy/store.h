/*
 * Policy ConfigMaps (store.c), used by the runner and the scheduler.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_POLICY_STORE_H
#define ASTRA_POLICY_STORE_H

#include "kube/kube.h"
#include "policy/policy.h"

int astra__policy_cm_resource(astra__kube *k, astra__kube_resource *r);
void astra__policy_cm_name(
        char *out, size_t n, const char *app, const char *name);
/* Every policy ConfigMap (of one app when app is not NULL). */
int astra__policy_list_cms(
        astra__kube *k, const char *app, astra__json **items);
/* Parsed "policy.json" (NULL when missing or damaged) and "status.json"
 * (an empty object when missing). Caller frees. */
astra__json *astra__policy_cm_spec(const astra__json *cm);
astra__json *astra__policy_cm_status(const astra__json *cm);
const char *astra__policy_cm_app(const astra__json *cm);
/* Stores v as JSON text under data[key]. */
int astra__policy_cm_put(
        astra__json *cm, const char *key, const astra__json *v);
/* PUT with the object's resourceVersion: ASTRA_ECONFLICT when it moved. */
int astra__policy_cm_update(
        astra__kube *k, const astra__json *cm, astra__json **out);
/* Read-modify-write of a status, retried on conflicts. */
typedef int (*astra__policy_status_fn)(astra__json *status, void *payload);
int astra__policy_status_update(astra__kube *k, const char *ns,
        const char *cmname, astra__policy_status_fn fn, void *payload);

#endif
