/*
 * Clone: an exact duplicate of an app in new namespaces, on the same or
 * another cluster, through a backup (given, or taken first), then defined
 * as a new managed app.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "app/app.h"
#include "astra/backup.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "kube/cluster_internal.h"
#include "restore/restore.h"

astra_status astra_clone_options_init(
        astra_clone_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_clone_options, CLONE, o, version,
	        offsetof(astra_clone_options, mover),
	        offsetof(astra_clone_options, cluster_resources),
	        sizeof(defaults));
}

static const char *target_of(const astra_clone_options *o, const char *src)
{
	size_t n = strlen(src);
	for (size_t i = 0; i < o->n_namespace_map; i++) {
		const char *m = o->namespace_map[i];
		if (m && !strncmp(m, src, n) && m[n] == '=')
			return m + n + 1;
	}
	return NULL;
}

astra_status astra_app_clone(astra_app *app, astra_vault *vault,
        astra_cluster *target, const astra_clone_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(vault);
	ASTRA_ASSERT_ARG(target);
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(
	        o->version, ASTRA_CLONE_OPTIONS_VERSION, "astra_clone_options");
	if (rc)
		return rc;
	if (o->from_backup && o->from_snapshot)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "clone from a backup or from a snapshot, not both");
	/* every namespace of the app: mapped, different, not existing */
	size_t nns = app->nns ? app->nns : 1;
	astra__kube *tk = astra__cluster_kube(target);
	for (size_t i = 0; i < nns; i++) {
		const char *src =
		        app->nns ? app->ns[i].name : app->helm_namespace;
		const char *dst = target_of(o, src);
		if (!dst)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "clone of app %s: namespace %s has no mapping "
			        "(--namespace-map %s=NEW)",
			        app->name, src, src);
		if (!strcmp(src, dst))
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "clone of app %s: the target namespace %s is "
			        "the source namespace",
			        app->name, dst);
		astra__json *obj = NULL;
		int g = astra__kube_get(
		        tk, &astra__kube_namespaces_resource, NULL, dst, &obj);
		astra__json_free(obj);
		if (g == 0)
			return astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
			        "clone of app %s: namespace %s already exists; a "
			        "clone creates its namespaces",
			        app->name, dst);
		if (g != ASTRA_ENOTFOUND)
			return g;
		astra_error_clear();
	}
	/* the source: a backup (given, or taken now) */
	char bname[300];
	if (o->from_backup) {
		snprintf(bname, sizeof(bname), "%s", o->from_backup);
	} else {
		/* seconds and microseconds: two clones of one app in the
		 * same second take different backups */
		int64_t now = astra__wall_ns();
		snprintf(bname, sizeof(bname), "%s-clone-%lld-%06lld",
		        app->name, (long long)(now / 1000000000LL),
		        (long long)(now / 1000 % 1000000));
		astra_backup_options bo;
		astra_backup_options_init(&bo, ASTRA_BACKUP_OPTIONS_VERSION);
		bo.name = bname;
		bo.snapshot = o->from_snapshot;
		bo.volume_path = o->volume_path;
		bo.volume_path_cb = o->volume_path_cb;
		bo.volume_path_payload = o->volume_path_payload;
		bo.progress_cb = o->progress_cb;
		bo.payload = o->payload;
		bo.cancel = o->cancel;
		bo.mover = o->version >= 2 ? o->mover : NULL;
		if ((rc = astra_backup_create(app, vault, &bo, NULL)))
			return astra__err_prefix(
			        rc, "clone of app %s", app->name);
	}
	astra_restore_options ro;
	astra_restore_options_init(&ro, ASTRA_RESTORE_OPTIONS_VERSION);
	ro.backup = bname;
	ro.namespace_map = o->namespace_map;
	ro.n_namespace_map = o->n_namespace_map;
	ro.storage_class_map = o->storage_class_map;
	ro.n_storage_class_map = o->n_storage_class_map;
	ro.volume_path = o->volume_path;
	ro.volume_path_cb = o->volume_path_cb;
	ro.volume_path_payload = o->volume_path_payload;
	ro.progress_cb = o->progress_cb;
	ro.payload = o->payload;
	ro.cancel = o->cancel;
	ro.mover = o->version >= 2 ? o->mover : NULL;
	ro.cluster_resources = o->version >= 3 ? o->cluster_resources : 0;
	rc = astra__restore(target, vault, &ro, 0, report);
	if (rc && rc != ASTRA_EPARTIAL)
		return astra__err_prefix(rc, "clone of app %s", app->name);
	int restore_rc = rc;
	/* the clone is a managed app of its own, with the app's hooks */
	char newname[128];
	if (o->name)
		snprintf(newname, sizeof(newname), "%s", o->name);
	else
		snprintf(newname, sizeof(newname), "%.50s-clone", app->name);
	astra__json *hookdefs = NULL, *info = NULL;
	rc = astra__restore_app_hooks(app, &hookdefs);
	if (!rc)
		rc = astra__restore_define_app(target, app->def,
		        o->namespace_map, o->n_namespace_map, newname, hookdefs,
		        &info);
	astra__json_free(hookdefs);
	if (!rc && o->version >= 3 && o->with_policies) {
		astra__json *pols = astra__json_new_array();
		rc = pols ? astra__restore_copy_policies(app->cluster,
		                    app->name, target, newname, pols)
		          : ASTRA_ENOMEM;
		astra__json_free(pols);
	}
	astra__json_free(info);
	if (rc)
		return astra__err_prefix(rc, "clone of app %s", app->name);
	if (restore_rc)
		return astra__err(restore_rc, ASTRA_ERROR_KUBE,
		        "clone %s created, but some objects failed (see the "
		        "report)",
		        newname);
	return 0;
}
