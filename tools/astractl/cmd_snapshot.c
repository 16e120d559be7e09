/*
 * astractl snapshot create|list|show|delete
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const ctl_flag create_flags[] = {
	{ "name", 1, 0 },
	{ "no-group", 0, 0 },
	{ "timeout", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_create(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("snapshot create needs an APP");
	astra_snapshot_options o;
	if (astra_snapshot_options_init(&o, ASTRA_SNAPSHOT_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	o.name = ctl_flag_get(a, "name");
	if (ctl_flag_set(a, "no-group"))
		o.flags |= ASTRA_SNAPSHOT_F_NO_GROUP;
	const char *t = ctl_flag_get(a, "timeout");
	if (t) {
		char *end;
		long v = strtol(t, &end, 10);
		if (*end || v <= 0)
			return ctl_usage_error("--timeout takes seconds");
		o.timeout_s = (unsigned)v;
	}
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_app *app = NULL;
	astra_buf rec = ASTRA_BUF_INIT;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = astra_snapshot_create(app, &o, &rec);
	if (rc < 0) {
		rc = ctl_fail(rc, "snapshot of %s failed", a->pos[0]);
	} else {
		out_val *r = out_parse_json(rec.ptr);
		if (g->output == OUT_TABLE) {
			printf("%s\n", out_str(out_get(r, "name")));
			out_free(r);
		} else {
			ctl_emit(g, r);
		}
		rc = EXIT_OK;
	}
	astra_buf_dispose(&rec);
	astra_app_free(app);
	astra_cluster_free(c);
	return rc;
}

static out_val *snapshot_row(const out_val *s)
{
	out_val *r = out_obj();
	out_set_str(r, "app", out_str(out_get(s, "app")));
	out_set_str(r, "name", out_str(out_get(s, "name")));
	out_set_str(r, "created", out_str(out_get(s, "created")));
	out_set_str(r, "state", out_str(out_get(s, "state")));
	out_set_str(r, "consistency", out_str(out_get(s, "consistency")));
	out_set_u64(r, "volumes", (uint64_t)out_len(out_get(s, "volumes")));
	out_set_u64(r, "resources", (uint64_t)out_num(out_get(s, "resources")));
	return r;
}

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos > 1)
		return ctl_usage_error("snapshot list takes at most an APP");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_snapshot_list(c, a->npos ? a->pos[0] : NULL, &b);
	rc = rc < 0 ? ctl_fail(rc, "cannot list snapshots")
	            : ctl_emit_list(g, b.ptr, snapshot_row);
	astra_buf_dispose(&b);
	astra_cluster_free(c);
	return rc;
}

static const ctl_flag show_flags[] = {
	{ "manifests", 0, 0 },
	{ NULL, 0, 0 },
};

static int run_show(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("snapshot show needs APP and NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_snapshot_get(
	        c, a->pos[0], a->pos[1], ctl_flag_set(a, "manifests"), &b);
	if (rc < 0)
		rc = ctl_fail(rc, "snapshot %s/%s", a->pos[0], a->pos[1]);
	else {
		ctl_globals g2 = *g;
		if (g2.output == OUT_TABLE)
			g2.output = OUT_YAML; /* a record reads best as YAML */
		ctl_emit(&g2, out_parse_json(b.ptr));
		rc = EXIT_OK;
	}
	astra_buf_dispose(&b);
	astra_cluster_free(c);
	return rc;
}

static int run_delete(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("snapshot delete needs APP and NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	rc = astra_snapshot_delete(c, a->pos[0], a->pos[1]);
	rc = rc < 0 ? ctl_fail(rc, "cannot delete snapshot %s/%s", a->pos[0],
	                      a->pos[1])
	            : EXIT_OK;
	astra_cluster_free(c);
	return rc;
}

const ctl_command ctl_cmd_snapshot_create = { "snapshot", "create",
	"snapshot create APP [--name NAME] [--no-group] [--timeout SECONDS]",
	"snapshot an app (manifests and volumes, one consistency group)",
	create_flags, run_create };
const ctl_command ctl_cmd_snapshot_list = { "snapshot", "list",
	"snapshot list [APP]", "list snapshots", NULL, run_list };
const ctl_command ctl_cmd_snapshot_show = { "snapshot", "show",
	"snapshot show APP NAME [--manifests]", "show a snapshot's record",
	show_flags, run_show };
const ctl_command ctl_cmd_snapshot_delete = { "snapshot", "delete",
	"snapshot delete APP NAME",
	"delete a snapshot and its volume snapshots", NULL, run_delete };
