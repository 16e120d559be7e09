/*
 * libastra - execution hooks: scripts stored with an app and run inside the
 * app's containers (through the pods/exec API) before and after snapshots
 * and backups and after restores, e.g. to flush and freeze a database.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_HOOK_H
#define ASTRA_HOOK_H

/**
 * @file astra/hook.h
 * @defgroup astra_hook Execution hooks
 * @{
 */

#include <stddef.h>

#include "astra/app.h"
#include "astra/common.h"

ASTRA_BEGIN_DECL

/** Largest script a hook may hold, in bytes. */
#define ASTRA_HOOK_SCRIPT_MAX (64u * 1024u)

/** What a failing hook does to the operation. */
typedef enum {
	ASTRA_HOOK_ON_ERROR_FAIL = 0, /**< abort the operation (post hooks
	                                   of the stages that ran still run) */
	ASTRA_HOOK_ON_ERROR_CONTINUE = 1 /**< record the failure, go on */
} astra_hook_on_error;

/** astra_hook_create() flags */
#define ASTRA_HOOK_F_UPDATE 0x1u /**< replace a hook of the same name */

typedef struct {
	unsigned int version;
	/** "pre-snapshot", "post-snapshot", "pre-backup", "post-backup",
	 * "post-restore" or "verify" (astra_backup_verify). Required. */
	const char *stage;
	/** The script, run by /bin/sh in each matching container. Required;
	 * at most ASTRA_HOOK_SCRIPT_MAX bytes, no NUL bytes. */
	const char *script;
	/** Its length; 0: strlen(script). */
	size_t script_len;
	/** Arguments ($1, $2...) and their count. */
	const char *const *args;
	size_t nargs;
	/** POSIX extended regexes, searched (anchor with ^ and $); NULL or
	 * "": any. A container matches when every given regex matches. */
	const char *namespace_regex;
	const char *pod_regex;
	const char *container_regex;
	const char *image_regex;
	/** Kubernetes label selector on the pod; NULL or "": any. */
	const char *selector;
	/** Seconds one execution may take; 0: 60. */
	unsigned int timeout_s;
	/** An astra_hook_on_error. */
	int on_error;
} astra_hook_options;

#define ASTRA_HOOK_OPTIONS_VERSION 1
#define ASTRA_HOOK_OPTIONS_INIT            \
	{                                  \
		ASTRA_HOOK_OPTIONS_VERSION \
	}

ASTRA_API astra_status astra_hook_options_init(
        astra_hook_options *opts, unsigned int version);

/**
 * Stores hook `name` (a DNS label) for `app` in the cluster, beside the
 * app's definition. Invalid regexes, selectors, stages or scripts fail with
 * ASTRA_EINVALID naming the field; an existing name with ASTRA_EEXISTS
 * unless ASTRA_HOOK_F_UPDATE.
 */
ASTRA_API astra_status astra_hook_create(astra_app *app, const char *name,
        const astra_hook_options *opts, unsigned int flags) ASTRA_WARN_UNUSED;

/**
 * The app's hooks as a JSON array in execution order (by stage, then by
 * name): {"name", "app", "stage", "args", "namespaceRegex", "podRegex",
 * "containerRegex", "imageRegex", "selector", "timeoutSeconds", "onError",
 * "scriptBytes", "script"}.
 */
ASTRA_API astra_status astra_hook_list(
        astra_app *app, astra_buf *json_out) ASTRA_WARN_UNUSED;

/** Deletes a hook. ASTRA_ENOTFOUND if the app has none of that name. */
ASTRA_API astra_status astra_hook_delete(
        astra_app *app, const char *name) ASTRA_WARN_UNUSED;

/**
 * Runs the app's hooks of one stage now, as a snapshot or backup would,
 * and returns the stage's result as JSON: {"stage", "hooks" (executions),
 * "failed", "results": [{"hook", "namespace", "pod", "container",
 * "result" ("ok", "failed", "timeout", "error", "skipped"), "exitCode",
 * "stdout", "stderr", "stdoutTruncated", "stderrTruncated", "durationMs",
 * "error"}]}. A failed hook with on_error "fail" returns its error (the
 * JSON is filled all the same).
 */
ASTRA_API astra_status astra_hook_run(astra_app *app, const char *stage,
        astra_buf *json_out) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */
#endif
