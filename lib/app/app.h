/*
 * Applications: parsed definitions, their persistence as ConfigMaps, and
 * resource collection (used by snapshots and backups).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_APP_APP_H
#define ASTRA_APP_APP_H

#include "astra/app.h"
#include "core/op.h"
#include "fmt/json.h"
#include "kube/kube.h"
#include "kube/selector.h"

/* Labels and names of the definition ConfigMaps (docs/apps.md). */
#define ASTRA_APP_LABEL_DEF "apps.astra.dev/definition"
#define ASTRA_APP_LABEL_NAME "apps.astra.dev/name"
#define ASTRA_APP_CM_PREFIX "astra-app-"
#define ASTRA_APP_CM_KEY "app.json"

typedef struct {
	char *name;
	char *selector_text; /* NULL: the whole namespace */
	astra__selector *selector;
} astra__app_ns;

/* A resource filter: every field optional (NULL / empty: any). */
typedef struct {
	char *group; /* "" is the core group */
	char *version;
	char *kind;
	char **names;
	size_t nnames;
	char **namespaces;
	size_t nnamespaces;
	char *selector_text;
	astra__selector *selector;
} astra__app_filter;

struct astra_app {
	astra_cluster *cluster;
	astra__kube *k;
	char *name;
	char *home; /* namespace holding the definition */
	astra__json *def;
	astra__app_ns *ns;
	size_t nns;
	char *helm_release;
	char *helm_namespace;
	astra__app_filter *cluster_res;
	size_t ncluster_res;
	astra__app_filter *include;
	size_t ninclude;
	astra__app_filter *exclude;
	size_t nexclude;
	char *snapshot_class;
};

/* Parses and validates a definition (no cluster access). */
int astra__app_parse(astra_app **out, const astra__json *def);
void astra__app_release(astra_app *app);

/* 1 when the filter matches the object of resource r. */
int astra__app_filter_matches(const astra__app_filter *f,
        const astra__kube_resource *r, const astra__json *obj);

/* Every app definition in the cluster, parsed (array of astra_app *). */
typedef struct {
	astra_app **apps;
	size_t n;
	/* definitions ignored by the scoping rule: [{"name", "home",
	 * "rejected": reason}] */
	astra__json *rejected;
} astra__app_set;
/* Every definition that parses and keeps the scoping rule; the others are
 * logged as warnings and listed in `rejected`. */
int astra__app_load_all(astra_cluster *c, astra__app_set *out);
/* The scoping rule (docs/security.md): an app defined in namespace `home`
 * that is not the control namespace (`control` 0) covers `home` only and
 * names no cluster resources. 0, or ASTRA_EPOLICY naming the app, its
 * namespace and the rule. */
int astra__app_scope_check(const astra_app *a, const char *home, int control);
void astra__app_set_free(astra__app_set *s);

/* 1 when the app's scope (namespaces/selectors or Helm objects) claims the
 * namespaced object. Helm apps need their manifest list (helm_objects). */
int astra__app_claims(const astra_app *app, const astra__json *obj,
        const astra__json *helm_objects);

/* Helm 3 release: the latest deployed revision's objects as a JSON array of
 * {"apiVersion", "kind", "namespace", "name"}, and the release's Secrets. */
int astra__helm_release_objects(astra__kube *k, const char *release,
        const char *ns, astra__json **objects, astra__json **secrets);
/* Decodes a release Secret's data.release into the release JSON. */
int astra__helm_decode(
        const char *data_release_b64, astra__json **release, const char *what);
/* Distinct Helm releases in the cluster: [{"name", "namespace"}]. */
int astra__helm_list_releases(astra__kube *k, astra__json **out);

/* Collection */
typedef struct {
	astra__json *objects; /* full manifests (when requested) */
	astra__json *index; /* [{"apiVersion","kind","namespace","name",
	                       "reason","restore"}] */
	astra__json *warnings; /* [string] */
	astra__json *pvcs; /* the PVC objects, for snapshots */
} astra__app_collection;

int astra__app_collect(astra_app *app, int with_objects, astra__op *op,
        astra__app_collection *out);
void astra__app_collection_free(astra__app_collection *c);

#endif
