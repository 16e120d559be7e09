/*
 * astractl backup create|list|show|delete, astractl restore
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char *volume_path(const ctl_args *a)
{
	const char *v = ctl_flag_get(a, "volume-path");
	return v ? v : getenv("ASTRA_VOLUME_PATH");
}

/* --mover hostpath|job [--mover-image IMG] [--mover-parallel N]
 * [--mover-timeout S] [--mover-host-network]
 * [--mover-control-namespace NS]: fills `m` and points *out at
 * it (NULL for the host-path strategy); EXIT_USAGE after printing. */
static int mover_options(const ctl_globals *g, const ctl_args *a,
        astra_mover_options *m, const astra_mover_options **out)
{
	*out = NULL;
	const char *s = ctl_flag_get(a, "mover");
	if (!s)
		s = getenv("ASTRA_MOVER");
	if (!s || !*s || !strcmp(s, "hostpath")) {
		if (ctl_flag_get(a, "mover-image") ||
		        ctl_flag_get(a, "mover-parallel") ||
		        ctl_flag_get(a, "mover-timeout") ||
		        ctl_flag_get(a, "mover-control-namespace") ||
		        ctl_flag_set(a, "mover-host-network"))
			return ctl_usage_error("--mover-* flags go with "
			                       "--mover job");
		return 0;
	}
	if (strcmp(s, "job"))
		return ctl_usage_error(
		        "--mover takes hostpath or job, not \"%s\"", s);
	if (astra_mover_options_init(m, ASTRA_MOVER_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	m->strategy = ASTRA_MOVER_JOB;
	m->image = ctl_flag_get(a, "mover-image");
	if (!m->image)
		m->image = getenv("ASTRA_MOVER_IMAGE");
	if (!m->image || !*m->image)
		return ctl_usage_error("--mover job needs --mover-image IMAGE "
		                       "(or $ASTRA_MOVER_IMAGE)");
	static const char *const num[] = { "mover-parallel", "mover-timeout" };
	for (int i = 0; i < 2; i++) {
		const char *v = ctl_flag_get(a, num[i]);
		if (!v)
			continue;
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 1 || n > (i ? 604800 : 256))
			return ctl_usage_error("--%s takes a number from 1 to "
			                       "%d, not \"%s\"",
			        num[i], i ? 604800 : 256, v);
		if (i)
			m->timeout_s = (unsigned)n;
		else
			m->parallelism = (unsigned)n;
	}
	m->host_network = ctl_flag_set(a, "mover-host-network");
	m->control_namespace = ctl_flag_get(a, "mover-control-namespace");
	/* the Jobs open the vault with the same secret as astractl */
	const char *pw = getenv("ASTRA_VAULT_PASSWORD");
	if (g->password_file)
		m->vault_password_file = g->password_file;
	else if (pw && *pw)
		m->vault_password = pw;
	*out = m;
	return 0;
}

#define MOVER_FLAGS                                                    \
	{ "mover", 1, 0 }, { "mover-image", 1, 0 },                    \
	        { "mover-parallel", 1, 0 }, { "mover-timeout", 1, 0 }, \
	        { "mover-control-namespace", 1, 0 },                   \
	{                                                              \
		"mover-host-network", 0, 0                             \
	}
#define MOVER_USAGE                                                       \
	" [--mover hostpath|job [--mover-image IMAGE] [--mover-parallel " \
	"N] [--mover-timeout S] [--mover-host-network] "                  \
	"[--mover-control-namespace NS]]"

static const ctl_flag create_flags[] = {
	{ "name", 1, 0 },
	{ "snapshot", 1, 0 },
	{ "volume-path", 1, 0 },
	MOVER_FLAGS,
	{ NULL, 0, 0 },
};

static int run_create(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("backup create needs an APP");
	astra_backup_options o;
	if (astra_backup_options_init(&o, ASTRA_BACKUP_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	o.name = ctl_flag_get(a, "name");
	o.snapshot = ctl_flag_get(a, "snapshot");
	o.volume_path = volume_path(a);
	astra_mover_options mo;
	int rc = mover_options(g, a, &mo, &o.mover);
	if (rc)
		return rc;
	astra_cluster *c = NULL;
	astra_vault *v = NULL;
	rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	rc = ctl_open_vault(g, &v);
	if (rc) {
		astra_cluster_free(c);
		return rc;
	}
	astra_app *app = NULL;
	astra_buf rec = ASTRA_BUF_INIT;
	rc = astra_app_get(&app, c, a->pos[0]);
	if (rc >= 0)
		rc = astra_backup_create(app, v, &o, &rec);
	if (rc < 0) {
		rc = ctl_fail(rc, "backup of %s failed", a->pos[0]);
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
	astra_vault_free(v);
	astra_cluster_free(c);
	return rc;
}

static out_val *backup_row(const out_val *s)
{
	out_val *r = out_obj();
	out_set_str(r, "name", out_str(out_get(s, "name")));
	out_set_str(r, "app", out_str(out_get(s, "app")));
	out_set_str(r, "created", out_str(out_get(s, "created")));
	out_set_str(r, "state", out_str(out_get(s, "state")));
	out_set_u64(r, "resources", (uint64_t)out_num(out_get(s, "resources")));
	out_set_u64(r, "volumes", (uint64_t)out_len(out_get(s, "volumes")));
	out_set_str(
	        r, "source", out_str(out_get(out_get(s, "source"), "context")));
	return r;
}

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos > 1)
		return ctl_usage_error("backup list takes at most an APP");
	astra_vault *v = NULL;
	int rc = ctl_open_vault(g, &v);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_backup_list(v, a->npos ? a->pos[0] : NULL, &b);
	rc = rc < 0 ? ctl_fail(rc, "cannot list backups")
	            : ctl_emit_list(g, b.ptr, backup_row);
	astra_buf_dispose(&b);
	astra_vault_free(v);
	return rc;
}

static int run_show(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("backup show needs a NAME");
	astra_vault *v = NULL;
	int rc = ctl_open_vault(g, &v);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_backup_get(v, a->pos[0], &b);
	if (rc < 0) {
		rc = ctl_fail(rc, "backup %s", a->pos[0]);
	} else {
		ctl_globals g2 = *g;
		if (g2.output == OUT_TABLE)
			g2.output = OUT_YAML;
		ctl_emit(&g2, out_parse_json(b.ptr));
		rc = EXIT_OK;
	}
	astra_buf_dispose(&b);
	astra_vault_free(v);
	return rc;
}

static int run_delete(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("backup delete needs a NAME");
	astra_vault *v = NULL;
	astra_cluster *c = NULL;
	astra_app *app = NULL;
	const char *an = ctl_flag_get(a, "app");
	int rc = ctl_open_vault(g, &v);
	if (rc)
		return rc;
	if (an) {
		/* only a backup of that app (as a policy deletes) */
		rc = ctl_open_cluster(g, &c);
		if (!rc && astra_app_get(&app, c, an) < 0)
			rc = ctl_fail(ASTRA_ERROR, "app %s", an);
		if (!rc)
			rc = astra_backup_delete_app(v, app, a->pos[0]);
	} else
		rc = astra_backup_delete(v, a->pos[0]);
	if (rc != EXIT_USAGE && rc != EXIT_FAILED)
		rc = rc < 0 ? ctl_fail(rc, "cannot delete backup %s", a->pos[0])
		            : EXIT_OK;
	astra_app_free(app);
	astra_cluster_free(c);
	astra_vault_free(v);
	return rc;
}

static const ctl_flag verify_flags[] = {
	{ "test-restore", 0, 0 },
	{ "to-context", 1, 0 },
	{ "namespace-prefix", 1, 0 },
	{ "timeout", 1, 0 },
	{ "volume-path", 1, 0 },
	MOVER_FLAGS,
	{ NULL, 0, 0 },
};

/* The verification report as a few lines: the totals, each problem, and
 * the test restore's outcome. */
static void verify_table(const out_val *r)
{
	printf("backup %s: %s (%.0f objects, %.0f bytes read)\n",
	        out_str(out_get(r, "backup")),
	        out_bool(out_get(r, "ok")) ? "ok" : "FAILED",
	        out_num(out_get(r, "objects")), out_num(out_get(r, "bytes")));
	const out_val *p = out_get(r, "problems");
	for (size_t i = 0; i < out_len(p); i++)
		printf("  damaged: %s: %s\n",
		        out_str(out_get(out_at(p, i), "object")),
		        out_str(out_get(out_at(p, i), "error")));
	const out_val *t = out_get(r, "testRestore");
	if (t)
		printf("test restore: %s%s%s (scratch namespaces: %s)\n",
		        out_bool(out_get(t, "ok")) ? "ok" : "FAILED",
		        out_get(t, "error") ? ": " : "",
		        out_get(t, "error") ? out_str(out_get(t, "error")) : "",
		        out_str(out_get(t, "cleanup")));
}

/* A DNS label of at most 50 characters (the scratch namespaces add 9). */
static int prefix_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 50 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		            (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int run_verify(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("backup verify needs a NAME");
	int test = ctl_flag_set(a, "test-restore");
	if (!test && (ctl_flag_get(a, "to-context") ||
	                     ctl_flag_get(a, "namespace-prefix") ||
	                     ctl_flag_get(a, "timeout") ||
	                     ctl_flag_get(a, "volume-path") ||
	                     ctl_flag_get(a, "mover")))
		return ctl_usage_error(
		        "--to-context, --namespace-prefix, "
		        "--timeout, --volume-path and --mover go "
		        "with --test-restore");
	astra_backup_verify_options o;
	if (astra_backup_verify_options_init(
	            &o, ASTRA_BACKUP_VERIFY_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	const char *t = ctl_flag_get(a, "timeout");
	if (t) {
		char *end;
		long n = strtol(t, &end, 10);
		if (!*t || *end || n < 1 || n > 86400)
			return ctl_usage_error("--timeout takes a number of "
			                       "seconds from 1 to 86400, not "
			                       "\"%s\"",
			        t);
		o.timeout_s = (unsigned)n;
	}
	o.namespace_prefix = ctl_flag_get(a, "namespace-prefix");
	if (o.namespace_prefix && !prefix_ok(o.namespace_prefix))
		return ctl_usage_error(
		        "--namespace-prefix takes a DNS label of "
		        "at most 50 characters (a-z, 0-9, '-'), "
		        "not \"%s\"",
		        o.namespace_prefix);
	o.volume_path = volume_path(a);
	astra_mover_options mo;
	int rc = mover_options(g, a, &mo, &o.mover);
	if (rc)
		return rc;
	astra_cluster *c = NULL;
	astra_vault *v = NULL;
	if (test) {
		ctl_globals tg = *g;
		if (ctl_flag_get(a, "to-context"))
			tg.context = ctl_flag_get(a, "to-context");
		if ((rc = ctl_open_cluster(&tg, &c)))
			return rc;
		o.flags |= ASTRA_BACKUP_VERIFY_F_TEST_RESTORE;
		o.cluster = c;
	}
	if ((rc = ctl_open_vault(g, &v))) {
		astra_cluster_free(c);
		return rc;
	}
	astra_cancel *tok = ctl_new_cancel();
	o.cancel = tok;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_backup_verify(v, a->pos[0], &o, &rep);
	if (rep.ptr) {
		out_val *r = out_parse_json(rep.ptr);
		if (g->output == OUT_TABLE) {
			verify_table(r);
			out_free(r);
		} else {
			ctl_emit(g, r);
		}
	}
	rc = rc < 0 ? ctl_fail(rc, "backup %s", a->pos[0]) : EXIT_OK;
	astra_buf_dispose(&rep);
	astra_cancel_free(tok);
	astra_vault_free(v);
	astra_cluster_free(c);
	return rc == EXIT_PARTIAL ? EXIT_FAILED : rc;
}

static const ctl_flag restore_flags[] = {
	{ "backup", 1, 0 },
	{ "snapshot", 1, 0 },
	{ "to-context", 1, 0 },
	{ "namespace-map", 1, 1 },
	{ "storage-class-map", 1, 1 },
	{ "in-place", 0, 0 },
	{ "conflict", 1, 0 },
	{ "inplace-timeout", 1, 0 },
	{ "include", 1, 1 },
	{ "exclude", 1, 1 },
	{ "include-selector", 1, 0 },
	{ "exclude-selector", 1, 0 },
	{ "cluster-resources", 0, 0 },
	{ "app-name", 1, 0 },
	{ "with-policies", 0, 0 },
	{ "volume-path", 1, 0 },
	MOVER_FLAGS,
	{ NULL, 0, 0 },
};

/* The workloads an in-place restore scaled down and back, as a table. */
static void print_workloads(const out_val *wls)
{
	if (!out_len(wls))
		return;
	out_val *rows = out_arr();
	for (size_t i = 0; i < out_len(wls); i++) {
		const out_val *e = out_at(wls, i);
		out_val *row = out_obj();
		static const char *const cols[] = { "kind", "namespace", "name",
			"replicas", "result", "reason" };
		for (size_t k = 0; k < 6; k++) {
			const out_val *f = out_get(e, cols[k]);
			char num[32];
			const char *s = out_str(f);
			if (f && k == 3) {
				snprintf(num, sizeof(num), "%.0f", out_num(f));
				s = num;
			}
			out_set_str(row, k ? cols[k] : "workload",
			        s && *s ? s : "-");
		}
		out_push(rows, row);
	}
	out_print(stdout, rows, OUT_TABLE);
	out_free(rows);
}

static int run_restore(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("restore takes flags only");
	const char *backup = ctl_flag_get(a, "backup");
	const char *snap = ctl_flag_get(a, "snapshot");
	if (!backup == !snap)
		return ctl_usage_error("restore needs --backup NAME or "
		                       "--snapshot APP/NAME");
	astra_restore_options o;
	if (astra_restore_options_init(&o, ASTRA_RESTORE_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	char snap_app[256] = "";
	o.backup = backup;
	if (snap) {
		const char *slash = strchr(snap, '/');
		if (!slash || slash == snap || !slash[1])
			return ctl_usage_error("--snapshot takes APP/NAME");
		snprintf(snap_app, sizeof(snap_app), "%.*s",
		        (int)(slash - snap), snap);
		o.snapshot_app = snap_app;
		o.snapshot = slash + 1;
	}
	const ctl_flag_values *v;
	if ((v = ctl_flag_all(a, "namespace-map"))) {
		o.namespace_map = v->values;
		o.n_namespace_map = (size_t)v->count;
	}
	if ((v = ctl_flag_all(a, "storage-class-map"))) {
		o.storage_class_map = v->values;
		o.n_storage_class_map = (size_t)v->count;
	}
	if ((v = ctl_flag_all(a, "include"))) {
		o.include = v->values;
		o.n_include = (size_t)v->count;
	}
	if ((v = ctl_flag_all(a, "exclude"))) {
		o.exclude = v->values;
		o.n_exclude = (size_t)v->count;
	}
	o.include_selector = ctl_flag_get(a, "include-selector");
	o.exclude_selector = ctl_flag_get(a, "exclude-selector");
	o.cluster_resources = ctl_flag_set(a, "cluster-resources");
	o.app_name = ctl_flag_get(a, "app-name");
	o.with_policies = ctl_flag_set(a, "with-policies");
	const char *conflict = ctl_flag_get(a, "conflict");
	if (conflict) {
		if (!ctl_flag_set(a, "in-place"))
			return ctl_usage_error(
			        "--conflict goes with --in-place");
		if (!strcmp(conflict, "replace"))
			o.flags |= ASTRA_RESTORE_F_REPLACE;
		else if (strcmp(conflict, "skip"))
			return ctl_usage_error(
			        "--conflict takes skip or replace");
	}
	const char *ipt = ctl_flag_get(a, "inplace-timeout");
	if (ipt) {
		char *end;
		long n = strtol(ipt, &end, 10);
		if (!(o.flags & ASTRA_RESTORE_F_REPLACE))
			return ctl_usage_error("--inplace-timeout goes with "
			                       "--in-place --conflict replace");
		if (!*ipt || *end || n < 1 || n > 86400)
			return ctl_usage_error(
			        "--inplace-timeout takes a number "
			        "from 1 to 86400, not \"%s\"",
			        ipt);
		o.inplace_timeout_s = (unsigned)n;
	}
	if (!ctl_flag_set(a, "in-place") && !o.n_namespace_map &&
	        !ctl_flag_get(a, "to-context"))
		return ctl_usage_error("say where: --in-place, --namespace-map "
		                       "SRC=DST or --to-context CTX");
	o.volume_path = volume_path(a);
	astra_mover_options mo;
	int rc = mover_options(g, a, &mo, &o.mover);
	if (rc)
		return rc;
	ctl_globals tg = *g;
	if (ctl_flag_get(a, "to-context"))
		tg.context = ctl_flag_get(a, "to-context");
	astra_cluster *c = NULL;
	astra_vault *vault = NULL;
	rc = ctl_open_cluster(&tg, &c);
	if (rc)
		return rc;
	if (backup && (rc = ctl_open_vault(g, &vault))) {
		astra_cluster_free(c);
		return rc;
	}
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_restore(c, vault, &o, &rep);
	int exit_code = EXIT_OK;
	if (rc < 0 && rc != ASTRA_EPARTIAL) {
		exit_code = ctl_fail(rc, "restore failed");
	} else {
		out_val *r = out_parse_json(rep.ptr);
		if (g->output == OUT_TABLE) {
			const out_val *items = out_get(r, "items");
			out_val *rows = out_arr();
			for (size_t i = 0; i < out_len(items); i++) {
				const out_val *e = out_at(items, i);
				out_val *row = out_obj();
				static const char *const cols[] = { "kind",
					"namespace", "name", "result", "reason",
					"source" };
				for (size_t k = 0; k < 6; k++) {
					const char *s =
					        out_str(out_get(e, cols[k]));
					out_set_str(row, cols[k], *s ? s : "-");
				}
				out_push(rows, row);
			}
			out_print(stdout, rows, OUT_TABLE);
			out_free(rows);
			print_workloads(out_get(r, "workloads"));
			printf("created %.0f, replaced %.0f, skipped %.0f, failed "
			       "%.0f",
			        out_num(out_get(r, "created")),
			        out_num(out_get(r, "replaced")),
			        out_num(out_get(r, "skipped")),
			        out_num(out_get(r, "failed")));
			if (out_get(r, "rolledBack"))
				printf(", rolled back %.0f",
				        out_num(out_get(r, "rolledBack")));
			printf("\n");
			const out_val *ap = out_get(r, "app");
			if (ap && *out_str(out_get(ap, "name")))
				printf("app %s defined (%zu hooks, %zu "
				       "policies)\n",
				        out_str(out_get(ap, "name")),
				        out_len(out_get(ap, "hooks")),
				        out_len(out_get(ap, "policies")));
			const out_val *hks = out_get(r, "hooks");
			for (size_t i = 0; i < out_len(hks); i++) {
				const out_val *hk = out_at(hks, i);
				if (out_len(out_get(hk, "results")))
					printf("%s hooks: %.0f ran, %.0f "
					       "failed\n",
					        out_str(out_get(hk, "stage")),
					        out_num(out_get(hk, "hooks")),
					        out_num(out_get(hk, "failed")));
			}
			out_free(r);
		} else {
			ctl_emit(g, r);
		}
		if (rc == ASTRA_EPARTIAL)
			exit_code = ctl_fail(rc, "restore");
	}
	astra_buf_dispose(&rep);
	astra_vault_free(vault);
	astra_cluster_free(c);
	return exit_code;
}

const ctl_command ctl_cmd_backup_create = { "backup", "create",
	"backup create APP [--name NAME] [--snapshot NAME] [--volume-path "
	"TEMPLATE]" MOVER_USAGE,
	"back up an app into the vault", create_flags, run_create };
const ctl_command ctl_cmd_backup_list = { "backup", "list", "backup list [APP]",
	"list the backups in the vault", NULL, run_list };
const ctl_command ctl_cmd_backup_show = { "backup", "show", "backup show NAME",
	"show a backup's record", NULL, run_show };
static const ctl_flag delete_flags[] = {
	{ "app", 1, 0 },
	{ NULL, 0, 0 },
};
const ctl_command ctl_cmd_backup_delete = { "backup", "delete",
	"backup delete NAME [--app APP]",
	"delete a backup (gc reclaims its data)", delete_flags, run_delete };
const ctl_command ctl_cmd_backup_verify = { "backup", "verify",
	"backup verify NAME [--test-restore [--to-context CTX] "
	"[--namespace-prefix PREFIX] [--timeout SECONDS] [--volume-path "
	"TEMPLATE]" MOVER_USAGE "]",
	"read and check everything one backup needs; optionally restore it "
	"into scratch namespaces",
	verify_flags, run_verify };
const ctl_command ctl_cmd_restore = { NULL, "restore",
	"restore (--backup NAME | --snapshot APP/NAME) [--to-context CTX] "
	"[--namespace-map SRC=DST]... [--storage-class-map SRC=DST]... "
	"[--in-place [--conflict skip|replace] [--inplace-timeout S]] "
	"[--include|--exclude "
	"GROUP/KIND[/NAMESPACE[/NAME]]]... [--include-selector SELECTOR] "
	"[--exclude-selector SELECTOR] [--cluster-resources] [--app-name NAME] "
	"[--with-policies] "
	"[--volume-path TEMPLATE]" MOVER_USAGE,
	"restore an app from a backup or a snapshot", restore_flags,
	run_restore };

static const ctl_flag clone_flags[] = {
	{ "namespace-map", 1, 1 },
	{ "storage-class-map", 1, 1 },
	{ "to-context", 1, 0 },
	{ "from-backup", 1, 0 },
	{ "from-snapshot", 1, 0 },
	{ "name", 1, 0 },
	{ "cluster-resources", 0, 0 },
	{ "with-policies", 0, 0 },
	{ "volume-path", 1, 0 },
	MOVER_FLAGS,
	{ NULL, 0, 0 },
};

static int run_clone(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("clone needs an APP");
	const ctl_flag_values *nm = ctl_flag_all(a, "namespace-map");
	if (!nm || !nm->count)
		return ctl_usage_error("clone needs --namespace-map SRC=DST");
	if (ctl_flag_set(a, "from-backup") && ctl_flag_set(a, "from-snapshot"))
		return ctl_usage_error("--from-backup or --from-snapshot, not "
		                       "both");
	astra_clone_options o;
	if (astra_clone_options_init(&o, ASTRA_CLONE_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	o.namespace_map = nm->values;
	o.n_namespace_map = (size_t)nm->count;
	const ctl_flag_values *sc = ctl_flag_all(a, "storage-class-map");
	if (sc) {
		o.storage_class_map = sc->values;
		o.n_storage_class_map = (size_t)sc->count;
	}
	o.from_backup = ctl_flag_get(a, "from-backup");
	o.from_snapshot = ctl_flag_get(a, "from-snapshot");
	o.name = ctl_flag_get(a, "name");
	o.cluster_resources = ctl_flag_set(a, "cluster-resources");
	o.with_policies = ctl_flag_set(a, "with-policies");
	o.volume_path = volume_path(a);
	astra_mover_options mo;
	int rc = mover_options(g, a, &mo, &o.mover);
	if (rc)
		return rc;
	astra_cluster *src = NULL, *dst = NULL;
	astra_vault *v = NULL;
	astra_app *app = NULL;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = ctl_open_cluster(g, &src);
	if (rc)
		return rc;
	if (ctl_flag_get(a, "to-context")) {
		ctl_globals tg = *g;
		tg.context = ctl_flag_get(a, "to-context");
		rc = ctl_open_cluster(&tg, &dst);
	}
	if (!rc)
		rc = ctl_open_vault(g, &v);
	if (rc)
		goto out;
	rc = astra_app_get(&app, src, a->pos[0]);
	if (rc >= 0)
		rc = astra_app_clone(app, v, dst ? dst : src, &o, &rep);
	if (rc < 0 && rc != ASTRA_EPARTIAL) {
		rc = ctl_fail(rc, "clone of %s failed", a->pos[0]);
	} else {
		out_val *r = out_parse_json(rep.ptr);
		if (g->output == OUT_TABLE) {
			printf("created %.0f, skipped %.0f, failed %.0f\n",
			        out_num(out_get(r, "created")),
			        out_num(out_get(r, "skipped")),
			        out_num(out_get(r, "failed")));
			const out_val *hk = out_at(out_get(r, "hooks"), 0);
			if (hk && out_len(out_get(hk, "results")))
				printf("post-restore hooks: %.0f ran, %.0f "
				       "failed\n",
				        out_num(out_get(hk, "hooks")),
				        out_num(out_get(hk, "failed")));
			out_free(r);
		} else {
			ctl_emit(g, r);
		}
		rc = rc == ASTRA_EPARTIAL ? ctl_fail(rc, "clone") : EXIT_OK;
	}
out:
	astra_buf_dispose(&rep);
	astra_app_free(app);
	astra_vault_free(v);
	astra_cluster_free(dst);
	astra_cluster_free(src);
	return rc;
}

const ctl_command ctl_cmd_clone = { NULL, "clone",
	"clone APP --namespace-map SRC=DST... [--to-context CTX] "
	"[--from-backup NAME | --from-snapshot NAME] [--name NEW] "
	"[--storage-class-map SRC=DST]... [--cluster-resources] "
	"[--with-policies] "
	"[--volume-path TEMPLATE]" MOVER_USAGE,
	"duplicate an app into new namespaces (same or another cluster)",
	clone_flags, run_clone };
