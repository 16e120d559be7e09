/*
 * libastra - applications: what to protect, defined by namespaces with
 * optional label selectors, or by a Helm 3 release, kept in the cluster
 * beside the app so that every client sees the same definitions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_APP_H
#define ASTRA_APP_H

/**
 * @file astra/app.h
 * @defgroup astra_app Applications
 * @{
 */

#include "astra/cluster.h"
#include "astra/common.h"

ASTRA_BEGIN_DECL

/** A defined application (a snapshot of its definition). Opaque. */
typedef struct astra_app astra_app;

/**
 * App definitions are JSON objects (docs/apps.md has the full schema):
 *
 *     {"name": "shop",
 *      "namespaces": [{"name": "shop", "selector": "tier in (web,db)"}],
 *      "helm": {"release": "shop", "namespace": "shop"},
 *      "clusterResources": [{"group": "rbac.authorization.k8s.io",
 *                            "kind": "ClusterRole", "selector": "app=shop"}],
 *      "include": [{"group": "", "kind": "ConfigMap", "names": ["x"]}],
 *      "exclude": [{"group": "", "kind": "Secret", "selector": "tmp=1"}],
 *      "snapshotClass": "csi-hostpath-snapclass"}
 *
 * Either "namespaces" or "helm" is required. Selectors use the full
 * Kubernetes label selector syntax.
 */

/** astra_app_define() flags */
#define ASTRA_APP_F_UPDATE 0x1u /**< replace an existing definition */

/**
 * Defines (or with ASTRA_APP_F_UPDATE, redefines) an app. The definition is
 * validated against the cluster: invalid selectors fail with
 * ASTRA_EINVALID naming the position, missing namespaces or Helm releases
 * with ASTRA_ENOTFOUND, a name already used with ASTRA_EEXISTS.
 *
 * @param out may be NULL; else receives the defined app.
 */
ASTRA_API astra_status astra_app_define(astra_app **out, astra_cluster *cluster,
        const char *definition_json, unsigned int flags) ASTRA_WARN_UNUSED;

/** Loads the app called `name`. ASTRA_ENOTFOUND if there is none. */
ASTRA_API astra_status astra_app_get(astra_app **out, astra_cluster *cluster,
        const char *name) ASTRA_WARN_UNUSED;

/**
 * Removes an app's definition. The app's resources are never touched.
 */
ASTRA_API astra_status astra_app_remove(
        astra_cluster *cluster, const char *name) ASTRA_WARN_UNUSED;

/**
 * The managed apps as a JSON array of definitions, each with "name",
 * "home" (the namespace holding the definition) and the fields above.
 */
ASTRA_API astra_status astra_app_list(
        astra_cluster *cluster, astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * What no managed app covers, as a JSON array of {"kind": "namespace",
 * "name"} and {"kind": "helm", "name", "namespace"}. System namespaces
 * (kube-*, default when empty) are left out.
 */
ASTRA_API astra_status astra_app_list_unmanaged(
        astra_cluster *cluster, astra_buf *json_out) ASTRA_WARN_UNUSED;

/** The app's name (borrowed; valid until astra_app_free()). */
ASTRA_API const char *astra_app_name(const astra_app *app);

/** The app's definition as JSON. */
ASTRA_API astra_status astra_app_definition(
        const astra_app *app, astra_buf *json_out) ASTRA_WARN_UNUSED;

/**
 * A dry run of collection: exactly what a snapshot would capture, as JSON
 * {"app", "resources": [{"apiVersion", "kind", "namespace", "name",
 * "reason", "restore"}], "warnings": [...], "counts": {...}}. "restore" is
 * "yes", or "owner" for objects recreated by their controller.
 */
ASTRA_API astra_status astra_app_resources(
        astra_app *app, astra_buf *json_out) ASTRA_WARN_UNUSED;

/** Frees the handle. The cluster must outlive it. NULL is ok. */
ASTRA_API void astra_app_free(astra_app *app);

ASTRA_END_DECL

/** @} */
#endif
