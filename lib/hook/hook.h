/*
 * Execution hooks: definitions stored as ConfigMaps beside the app's
 * definition, matching of containers, ordering, and running a stage
 * through pods/exec (docs/hooks.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_HOOK_HOOK_H
#define ASTRA_HOOK_HOOK_H

#include <regex.h>
#include <stddef.h>

#include "astra/hook.h"
#include "core/op.h"
#include "fmt/json.h"
#include "kube/kube.h"
#include "kube/selector.h"

#define ASTRA_HOOK_LABEL_DEF "hooks.astra.dev/definition"
#define ASTRA_HOOK_LABEL_APP "hooks.astra.dev/app"
#define ASTRA_HOOK_LABEL_NAME "hooks.astra.dev/name"
#define ASTRA_HOOK_CM_PREFIX "astra-hook-"
#define ASTRA_HOOK_CM_DEF "hook.json"
#define ASTRA_HOOK_CM_SCRIPT "script"
/* kept per stream and execution in records */
#define ASTRA_HOOK_OUTPUT_MAX ((size_t)4096)

typedef struct {
	char *name;
	char *stage;
	char *script;
	size_t script_len;
	char **args;
	size_t nargs;
	char *re_text[4]; /* namespace, pod, container, image; NULL: any */
	regex_t re[4];
	int has_re[4];
	char *selector_text;
	astra__selector *selector;
	unsigned timeout_s;
	int on_error;
} astra__hook;

typedef struct {
	astra__hook *v;
	size_t n;
} astra__hook_set;

/* 1 for the seven stage names. */
int astra__hook_stage_valid(const char *stage);

/*
 * Parses and validates a definition {"name", "stage", "args", "namespaceRegex",
 * "podRegex", "containerRegex", "imageRegex", "selector", "timeoutSeconds",
 * "onError", "script"} (the script may also be given apart: script != NULL).
 */
int astra__hook_parse(astra__hook *h, const astra__json *def,
        const char *script, size_t script_len);
void astra__hook_clear(astra__hook *h);
/* The definition as JSON (with the script when with_script). */
astra__json *astra__hook_json(const astra__hook *h, int with_script);

/* Sorts by stage order, then name (execution order). */
void astra__hook_set_sort(astra__hook_set *s);
void astra__hook_set_free(astra__hook_set *s);

/* The app's hooks from the cluster (ConfigMaps in `home`), sorted. */
int astra__hook_load(astra__kube *k, const char *home, const char *app,
        astra__hook_set *out);

/* Hooks from a record's "hookDefinitions" array. */
int astra__hook_from_json(const astra__json *arr, astra__hook_set *out);

/* 1 when the container matches every filter of the hook. */
int astra__hook_matches(const astra__hook *h, const char *ns, const char *pod,
        const char *container, const char *image, const astra__json *labels);

/* One execution of a hook in one container, in order. */
typedef struct {
	size_t hook; /* index in the set */
	const char *ns, *pod, *container; /* borrowed from the pods JSON */
	const char *not_running; /* NULL, or why it cannot run there */
} astra__hook_target;

/*
 * The executions of a stage, in order: hooks by name, and for each hook
 * its matching containers by namespace, pod and container name. `pods`
 * is an array of Pod objects. Caller frees *out.
 */
int astra__hook_plan(const astra__hook_set *s, const char *stage,
        const astra__json *pods, astra__hook_target **out, size_t *n);

typedef struct {
	const char *const *namespaces; /* where the app's pods run */
	size_t nnamespaces;
	/* wait up to this long for matching pods to run (post-restore) */
	unsigned wait_pods_ms;
	astra__op *op;
	/* for messages, e.g. "snapshot s1 of app shop" */
	const char *what;
} astra__hook_run_options;

/*
 * Runs the stage's hooks and appends {"stage", "hooks", "failed",
 * "results"} to `stages` (an array; may be NULL). Returns 0 when every
 * execution succeeded or failed with on_error "continue"; else the first
 * failure's code (the stage stops there), with a message naming the hook,
 * the container, the exit code and the end of its stderr.
 */
int astra__hook_run_stage(astra__kube *k, const astra__hook_set *s,
        const char *stage, const astra__hook_run_options *o,
        astra__json *stages);

/* The namespaces of an app's pods (borrowed strings; free the array). */
int astra__hook_app_namespaces(const astra_app *app, char ***out, size_t *n);

/* A captured stream as text for a record (allocated): control characters
 * other than newline and tab, and bytes that are not UTF-8 (a cut at the
 * size limit, binary output), become '?'. NUL bytes too. */
char *astra__hook_printable(const char *p, size_t n);

/* 1 when the set has hooks of the stage. */
int astra__hook_has_stage(const astra__hook_set *s, const char *stage);

#endif
