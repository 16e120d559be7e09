/*
 * astractl app define|list|show|remove
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int ctl_open_cluster(const ctl_globals *g, astra_cluster **out)
{
	astra_cluster_options o;
	if (astra_cluster_options_init(&o, ASTRA_CLUSTER_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "cluster options");
	o.kubeconfig = g->kubeconfig;
	o.context = g->context;
	o.control_namespace = g->control_namespace;
	/* restores of thousands of objects: the API server's priority and
	 * fairness protects it; the library's default (100/s) is for
	 * embedders that share a client */
	o.qps = 500;
	o.burst = 1000;
	int rc = astra_cluster_open(out, &o);
	if (rc < 0)
		return ctl_fail(rc, "cannot connect to the cluster");
	return 0;
}

static char *to_json(const out_val *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	out_print(f, v, OUT_JSON);
	fclose(f);
	return text;
}

/* "NS[:SELECTOR]" */
static out_val *ns_entry(const char *arg)
{
	out_val *o = out_obj();
	const char *colon = strchr(arg, ':');
	char name[256];
	snprintf(name, sizeof(name), "%.*s",
	        (int)(colon ? (size_t)(colon - arg) : strlen(arg)), arg);
	out_set_str(o, "name", name);
	if (colon && colon[1])
		out_set_str(o, "selector", colon + 1);
	return o;
}

/* "GROUP/VERSION/KIND[:SELECTOR]"; "core" or "" for the core group */
static out_val *gvk_entry(const char *arg)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", arg);
	char *sel = strchr(buf, ':');
	if (sel)
		*sel++ = '\0';
	char *p1 = strchr(buf, '/');
	char *p2 = p1 ? strchr(p1 + 1, '/') : NULL;
	if (!p1 || !p2 || !p2[1])
		return NULL;
	*p1 = *p2 = '\0';
	out_val *o = out_obj();
	out_set_str(o, "group", strcmp(buf, "core") ? buf : "");
	out_set_str(o, "version", p1 + 1);
	out_set_str(o, "kind", p2 + 1);
	if (sel && *sel)
		out_set_str(o, "selector", sel);
	return o;
}

/* "GROUP/KIND[/NAMESPACE[/NAME]]" (CLI.md's include/exclude form) */
static out_val *filter_entry(const char *arg)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", arg);
	char *parts[4] = { 0 };
	int n = 0;
	char *save = NULL;
	/* keep an empty group: "/ConfigMap" */
	char *p = buf;
	while (n < 4) {
		char *slash = strchr(p, '/');
		parts[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	(void)save;
	if (n < 2 || !parts[1][0])
		return NULL;
	out_val *o = out_obj();
	out_set_str(o, "group", strcmp(parts[0], "core") ? parts[0] : "");
	out_set_str(o, "kind", parts[1]);
	if (n > 2 && parts[2][0]) {
		out_val *a = out_arr();
		out_push(a, out_scalar_str(parts[2]));
		out_set(o, "namespaces", a);
	}
	if (n > 3 && parts[3][0]) {
		out_val *a = out_arr();
		out_push(a, out_scalar_str(parts[3]));
		out_set(o, "names", a);
	}
	return o;
}

static const ctl_flag define_flags[] = {
	{ "namespace", 1, 1 },
	{ "helm", 1, 0 },
	{ "cluster-resource", 1, 1 },
	{ "include", 1, 1 },
	{ "exclude", 1, 1 },
	{ "snapshot-class", 1, 0 },
	{ "from-file", 1, 0 },
	{ "update", 0, 0 },
	{ NULL, 0, 0 },
};

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return ctl_usage_error("cannot read %s", path);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (!buf)
		return ctl_usage_error("out of memory");
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int run_define(const ctl_globals *g, ctl_args *a)
{
	const char *from = ctl_flag_get(a, "from-file");
	char *json = NULL;
	if (from) {
		if (a->npos > 1)
			return ctl_usage_error("app define takes at most a "
			                       "NAME with --from-file");
		int rc = read_file(from, &json);
		if (rc)
			return rc;
	} else {
		if (a->npos != 1)
			return ctl_usage_error("app define needs a NAME");
		const ctl_flag_values *nss = ctl_flag_all(a, "namespace");
		const char *helm = ctl_flag_get(a, "helm");
		if ((!nss || !nss->count))
			return ctl_usage_error(
			        "app define needs --namespace "
			        "NS[:SELECTOR] or --helm RELEASE "
			        "--namespace NS");
		if (helm && nss->count != 1)
			return ctl_usage_error("--helm takes exactly one "
			                       "--namespace");
		out_val *def = out_obj();
		out_set_str(def, "name", a->pos[0]);
		if (helm) {
			out_val *h = out_obj();
			out_set_str(h, "release", helm);
			out_set_str(h, "namespace", nss->values[0]);
			out_set(def, "helm", h);
		} else {
			out_val *arr = out_arr();
			for (int i = 0; i < nss->count; i++)
				out_push(arr, ns_entry(nss->values[i]));
			out_set(def, "namespaces", arr);
		}
		static const char *const lists[][2] = {
			{ "cluster-resource", "clusterResources" },
			{ "include", "include" },
			{ "exclude", "exclude" },
		};
		for (size_t l = 0; l < 3; l++) {
			const ctl_flag_values *v = ctl_flag_all(a, lists[l][0]);
			if (!v || !v->count)
				continue;
			out_val *arr = out_arr();
			for (int i = 0; i < v->count; i++) {
				out_val *e =
				        l == 0 ? gvk_entry(v->values[i])
				               : filter_entry(v->values[i]);
				if (!e) {
					out_free(arr);
					out_free(def);
					return ctl_usage_error(
					        "--%s \"%s\": expected %s",
					        lists[l][0], v->values[i],
					        l == 0 ? "GROUP/VERSION/KIND[:"
					                 "SELECTOR]"
					               : "GROUP/KIND[/NAMESPACE[/"
					                 "NAME]]");
				}
				out_push(arr, e);
			}
			out_set(def, lists[l][1], arr);
		}
		const char *sc = ctl_flag_get(a, "snapshot-class");
		if (sc)
			out_set_str(def, "snapshotClass", sc);
		json = to_json(def);
		out_free(def);
		if (!json)
			return ctl_usage_error("out of memory");
	}
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc) {
		free(json);
		return rc;
	}
	astra_app *app = NULL;
	rc = astra_app_define(&app, c, json,
	        ctl_flag_set(a, "update") ? ASTRA_APP_F_UPDATE : 0);
	free(json);
	if (rc < 0) {
		rc = ctl_fail(rc, "cannot define the app");
	} else {
		if (g->output == OUT_TABLE) {
			printf("%s\n", astra_app_name(app));
		} else {
			astra_buf d = ASTRA_BUF_INIT;
			if (astra_app_definition(app, &d) == 0)
				ctl_emit(g, out_parse_json(d.ptr));
			astra_buf_dispose(&d);
		}
		rc = EXIT_OK;
	}
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

static const ctl_flag list_flags[] = {
	{ "unmanaged", 0, 0 },
	{ NULL, 0, 0 },
};

static out_val *app_row(const out_val *d)
{
	out_val *r = out_obj();
	char scope[1024] = "";
	const out_val *nss = out_get(d, "namespaces");
	for (size_t k = 0; k < out_len(nss); k++) {
		const out_val *n = out_at(nss, k);
		size_t l = strlen(scope);
		const char *sel = out_str(out_get(n, "selector"));
		snprintf(scope + l, sizeof(scope) - l, "%s%s%s%s", k ? " " : "",
		        out_str(out_get(n, "name")), *sel ? ":" : "", sel);
	}
	const out_val *h = out_get(d, "helm");
	if (h)
		snprintf(scope, sizeof(scope), "helm %s in %s",
		        out_str(out_get(h, "release")),
		        out_str(out_get(h, "namespace")));
	const out_val *rej = out_get(d, "rejected");
	if (rej)
		snprintf(scope, sizeof(scope), "REJECTED: %s", out_str(rej));
	out_set_str(r, "name", out_str(out_get(d, "name")));
	out_set_str(r, "scope", scope);
	out_set_str(r, "home", out_str(out_get(d, "home")));
	return r;
}

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("app list takes no arguments");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	int unmanaged = ctl_flag_set(a, "unmanaged");
	rc = unmanaged ? astra_app_list_unmanaged(c, &b)
	               : astra_app_list(c, &b);
	/* unmanaged namespaces are printed as they come, in every format */
	rc = rc < 0 ? ctl_fail(rc, "cannot list apps")
	            : ctl_emit_list(g, b.ptr, unmanaged ? NULL : app_row);
	astra_buf_dispose(&b);
	astra_cluster_free(c);
	return rc;
}

static const ctl_flag show_flags[] = {
	{ "resources", 0, 0 },
	{ NULL, 0, 0 },
};

static int run_show(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("app show needs a NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_app *app = NULL;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = ctl_flag_set(a, "resources")
		             ? astra_app_resources(app, &b)
		             : astra_app_definition(app, &b);
	if (rc < 0) {
		rc = ctl_fail(rc, "app %s", a->pos[0]);
	} else if (ctl_flag_set(a, "resources") && g->output == OUT_TABLE) {
		out_val *all = out_parse_json(b.ptr);
		const out_val *res = out_get(all, "resources");
		out_val *rows = out_arr();
		for (size_t i = 0; i < out_len(res); i++) {
			const out_val *e = out_at(res, i);
			out_val *r = out_obj();
			static const char *const cols[] = { "kind", "namespace",
				"name", "reason", "restore" };
			for (size_t k = 0; k < 5; k++) {
				const char *v = out_str(out_get(e, cols[k]));
				out_set_str(r, cols[k], *v ? v : "-");
			}
			out_push(rows, r);
		}
		out_print(stdout, rows, OUT_TABLE);
		out_free(rows);
		const out_val *w = out_get(all, "warnings");
		for (size_t i = 0; i < out_len(w); i++)
			fprintf(stderr, "warning: %s\n", out_str(out_at(w, i)));
		out_free(all);
		rc = EXIT_OK;
	} else {
		ctl_emit(g, out_parse_json(b.ptr));
		rc = EXIT_OK;
	}
	astra_buf_dispose(&b);
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

static int run_remove(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("app remove needs a NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	rc = astra_app_remove(c, a->pos[0]);
	rc = rc < 0 ? ctl_fail(rc, "cannot remove app %s", a->pos[0]) : EXIT_OK;
	astra_cluster_free(c);
	return rc;
}

const ctl_command ctl_cmd_app_define = { "app", "define",
	"app define NAME --namespace NS[:SELECTOR]... | --helm RELEASE "
	"--namespace NS [--cluster-resource GROUP/VERSION/KIND[:SELECTOR]]... "
	"[--include|--exclude GROUP/KIND[/NAMESPACE[/NAME]]]... "
	"[--snapshot-class NAME] [--update] | --from-file FILE.json",
	"define (or --update) an application", define_flags, run_define };
const ctl_command ctl_cmd_app_list = { "app", "list", "app list [--unmanaged]",
	"list managed (or unmanaged) apps", list_flags, run_list };
const ctl_command ctl_cmd_app_show = { "app", "show",
	"app show NAME [--resources]",
	"show an app, or exactly what a snapshot would capture", show_flags,
	run_show };
const ctl_command ctl_cmd_app_remove = { "app", "remove", "app remove NAME",
	"remove an app's definition (never its resources)", NULL, run_remove };
