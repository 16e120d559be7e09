/*
 * What restore.c shares with clone.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_RESTORE_RESTORE_H
#define ASTRA_RESTORE_RESTORE_H

#include "astra/cluster.h"
#include "astra/restore.h"
#include "fmt/json.h"

/* astra_restore; with define 0 the restored app is not defined (clone
 * defines its own). */
int astra__restore(astra_cluster *target, astra_vault *vault,
        const astra_restore_options *o, int define, astra_buf *out);

/* Defines app `name` in `target` from definition `def` (a source app's),
 * its namespaces (and Helm namespace) mapped by the "SRC=DST" entries, and
 * stores the hooks `hookdefs` (a record's "hookDefinitions", may be NULL)
 * for it. *out: {"name", "hooks": [names]}. The error names the app. */
int astra__restore_define_app(astra_cluster *target, const astra__json *def,
        const char *const *namespace_map, size_t n_namespace_map,
        const char *name, const astra__json *hookdefs, astra__json **out);

/* *out: app a's hooks (all stages, with their scripts) as a JSON array in
 * the form of a record's "hookDefinitions". */
int astra__restore_app_hooks(astra_app *a, astra__json **out);

/* Copies the policies of app `src` in cluster `from` to app `dst` of `to`
 * (schedule, retention and vault; a fresh status), pushing their names to
 * `names`. The error names the policy and both apps. */
int astra__restore_copy_policies(astra_cluster *from, const char *src,
        astra_cluster *to, const char *dst, astra__json *names);

#endif
