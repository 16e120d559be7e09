/*
 * astractl hook create|list|delete
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const ctl_flag create_flags[] = {
	{ "stage", 1, 0 },
	{ "script", 1, 0 },
	{ "args", 1, 1 },
	{ "namespace-regex", 1, 0 },
	{ "pod-regex", 1, 0 },
	{ "container-regex", 1, 0 },
	{ "image-regex", 1, 0 },
	{ "selector", 1, 0 },
	{ "timeout", 1, 0 },
	{ "on-error", 1, 0 },
	{ NULL, 0, 0 },
};

/* Reads at most ASTRA_HOOK_SCRIPT_MAX bytes; longer files are refused. */
static int read_script(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "astractl: cannot open script %s: %s\n", path,
		        strerror(errno));
		return EXIT_FAILED;
	}
	size_t cap = ASTRA_HOOK_SCRIPT_MAX + 1;
	char *buf = malloc(cap + 1);
	if (!buf) {
		if (f != stdin)
			fclose(f);
		fprintf(stderr, "astractl: out of memory\n");
		return EXIT_FAILED;
	}
	size_t n = fread(buf, 1, cap, f);
	int err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		fprintf(stderr, "astractl: cannot read script %s\n", path);
		return EXIT_FAILED;
	}
	if (n > ASTRA_HOOK_SCRIPT_MAX) {
		free(buf);
		fprintf(stderr, "astractl: script %s is larger than %u bytes\n",
		        path, ASTRA_HOOK_SCRIPT_MAX);
		return EXIT_FAILED;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return EXIT_OK;
}

static int run_create(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("hook create needs APP and NAME");
	astra_hook_options o;
	if (astra_hook_options_init(&o, ASTRA_HOOK_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	o.stage = ctl_flag_get(a, "stage");
	if (!o.stage)
		return ctl_usage_error("hook create needs --stage");
	const char *script_path = ctl_flag_get(a, "script");
	if (!script_path)
		return ctl_usage_error("hook create needs --script FILE");
	const ctl_flag_values *args = ctl_flag_all(a, "args");
	if (args && args->count) {
		o.args = args->values;
		o.nargs = (size_t)args->count;
	}
	o.namespace_regex = ctl_flag_get(a, "namespace-regex");
	o.pod_regex = ctl_flag_get(a, "pod-regex");
	o.container_regex = ctl_flag_get(a, "container-regex");
	o.image_regex = ctl_flag_get(a, "image-regex");
	o.selector = ctl_flag_get(a, "selector");
	const char *t = ctl_flag_get(a, "timeout");
	if (t) {
		char *end;
		long v = strtol(t, &end, 10);
		if (*end || v <= 0 || v > 86400)
			return ctl_usage_error(
			        "--timeout takes seconds (1 to 86400)");
		o.timeout_s = (unsigned)v;
	}
	const char *oe = ctl_flag_get(a, "on-error");
	if (oe && !strcmp(oe, "continue"))
		o.on_error = ASTRA_HOOK_ON_ERROR_CONTINUE;
	else if (oe && strcmp(oe, "fail"))
		return ctl_usage_error("--on-error is fail or continue");
	char *script = NULL;
	int rc = read_script(script_path, &script, &o.script_len);
	if (rc)
		return rc;
	if (o.script_len == 0) {
		free(script);
		fprintf(stderr, "astractl: script %s is empty\n", script_path);
		return EXIT_FAILED;
	}
	o.script = script;
	astra_cluster *c = NULL;
	rc = ctl_open_cluster(g, &c);
	if (rc) {
		free(script);
		return rc;
	}
	astra_app *app = NULL;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = astra_hook_create(app, a->pos[1], &o, 0);
	if (rc < 0) {
		rc = ctl_fail(rc, "cannot create hook %s of app %s", a->pos[1],
		        a->pos[0]);
	} else {
		printf("%s\n", a->pos[1]);
		rc = EXIT_OK;
	}
	free(script);
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

static out_val *hook_row(const out_val *h)
{
	static const char *const keys[] = { "namespaceRegex", "podRegex",
		"containerRegex", "imageRegex" };
	static const char *const tags[] = { "ns~", "pod~", "container~",
		"image~" };
	out_val *r = out_obj();
	out_set_str(r, "name", out_str(out_get(h, "name")));
	out_set_str(r, "stage", out_str(out_get(h, "stage")));
	char match[512] = "";
	for (size_t k = 0; k < 4; k++)
		if (out_get(h, keys[k])) {
			size_t l = strlen(match);
			snprintf(match + l, sizeof(match) - l, "%s%s%s",
			        l ? " " : "", tags[k],
			        out_str(out_get(h, keys[k])));
		}
	if (out_get(h, "selector")) {
		size_t l = strlen(match);
		snprintf(match + l, sizeof(match) - l, "%slabels:%s",
		        l ? " " : "", out_str(out_get(h, "selector")));
	}
	out_set_str(r, "match", match[0] ? match : "(all containers)");
	out_set_u64(
	        r, "timeout", (uint64_t)out_num(out_get(h, "timeoutSeconds")));
	out_set_str(r, "on-error", out_str(out_get(h, "onError")));
	out_set_u64(r, "script-bytes",
	        (uint64_t)out_num(out_get(h, "scriptBytes")));
	return r;
}

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("hook list needs an APP");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_app *app = NULL;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = astra_hook_list(app, &b);
	rc = rc < 0 ? ctl_fail(rc, "cannot list the hooks of app %s", a->pos[0])
	            : ctl_emit_list(g, b.ptr, hook_row);
	astra_buf_dispose(&b);
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

static int run_delete(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("hook delete needs APP and NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_app *app = NULL;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = astra_hook_delete(app, a->pos[1]);
	rc = rc < 0 ? ctl_fail(rc, "cannot delete hook %s of app %s", a->pos[1],
	                      a->pos[0])
	            : EXIT_OK;
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

const ctl_command ctl_cmd_hook_create = { "hook", "create",
	"hook create APP NAME --stage "
	"pre-snapshot|post-snapshot|pre-backup|post-backup|pre-restore|"
	"post-restore|verify\n"
	"    --script FILE [--args ARG]... [--namespace-regex RE] "
	"[--pod-regex RE]\n"
	"    [--container-regex RE] [--image-regex RE] [--timeout SECONDS] "
	"[--on-error fail|continue]",
	"store a hook: a script run in the app's matching containers",
	create_flags, run_create };
const ctl_command ctl_cmd_hook_list = { "hook", "list", "hook list APP",
	"list an app's hooks in execution order", NULL, run_list };
const ctl_command ctl_cmd_hook_delete = { "hook", "delete",
	"hook delete APP NAME", "delete a hook", NULL, run_delete };
