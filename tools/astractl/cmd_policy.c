/*
 * astractl policy set|list|remove, astractl scheduler run
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const ctl_flag set_flags[] = {
	{ "granularity", 1, 0 },
	{ "minute", 1, 0 },
	{ "hour", 1, 0 },
	{ "day-of-week", 1, 0 },
	{ "day-of-month", 1, 0 },
	{ "rrule", 1, 0 },
	{ "cron", 1, 0 },
	{ "time-zone", 1, 0 },
	{ "snapshot-retention", 1, 0 },
	{ "backup-retention", 1, 0 },
	{ "vault-ref", 1, 0 },
	{ NULL, 0, 0 },
};

/* An integer flag: 0 and the value, 1 when absent, -1 when malformed. */
static int int_flag(const ctl_args *a, const char *name, long *out)
{
	const char *v = ctl_flag_get(a, name);
	if (!v)
		return 1;
	char *end;
	long l = strtol(v, &end, 10);
	if (!*v || *end)
		return -1;
	*out = l;
	return 0;
}

static int run_set(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("policy set needs APP and NAME");
	astra_policy_options p;
	if (astra_policy_options_init(&p, ASTRA_POLICY_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	p.name = a->pos[1];
	const char *gr = ctl_flag_get(a, "granularity");
	static const char *const names[] = { "hourly", "daily", "weekly",
		"monthly", "custom" };
	for (unsigned i = 0; gr && i < 5; i++)
		if (!strcmp(gr, names[i]))
			p.granularity = i + 1;
	if (!p.granularity)
		return ctl_usage_error("--granularity takes hourly, daily, "
		                       "weekly, monthly or custom%s%s%s",
		        gr ? ", not \"" : "", gr ? gr : "", gr ? "\"" : "");
	static const struct {
		const char *flag;
		size_t off;
	} ints[] = {
		{ "minute", offsetof(astra_policy_options, minute) },
		{ "hour", offsetof(astra_policy_options, hour) },
		{ "day-of-week", offsetof(astra_policy_options, day_of_week) },
		{ "day-of-month",
		        offsetof(astra_policy_options, day_of_month) },
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		long v = 0;
		int r = int_flag(a, ints[i].flag, &v);
		if (r < 0)
			return ctl_usage_error(
			        "--%s takes a number, not \"%s\"", ints[i].flag,
			        ctl_flag_get(a, ints[i].flag));
		if (r == 0)
			*(int *)((char *)&p + ints[i].off) = v < -1000 ? -1000
			                                     : v > 1000
			                                             ? 1000
			                                             : (int)v;
	}
	const char *keeps[2] = { "snapshot-retention", "backup-retention" };
	for (int i = 0; i < 2; i++) {
		long v = 0;
		int r = int_flag(a, keeps[i], &v);
		if (r)
			return ctl_usage_error("--%s N is required (a count, "
			                       "0 for none)",
			        keeps[i]);
		if (v < 0 || v > 10000)
			return ctl_usage_error(
			        "--%s takes 0 to 10000, not %ld", keeps[i], v);
		if (i)
			p.backup_retention = (unsigned)v;
		else
			p.snapshot_retention = (unsigned)v;
	}
	p.rrule = ctl_flag_get(a, "rrule");
	p.cron = ctl_flag_get(a, "cron");
	p.time_zone = ctl_flag_get(a, "time-zone");
	const char *env = getenv("ASTRA_VAULT");
	p.vault = g->vault ? g->vault : (env && *env ? env : NULL);
	p.vault_ref = ctl_flag_get(a, "vault-ref");
	if (p.vault_ref && g->vault)
		return ctl_usage_error("--vault-ref and --vault exclude each "
		                       "other");
	if (p.vault_ref)
		p.vault = NULL;
	if (!p.backup_retention)
		p.vault = p.vault_ref = NULL;
	if (astra_policy_validate(&p) < 0)
		return ctl_fail(ASTRA_EINVALID, "policy %s of %s", a->pos[1],
		        a->pos[0]);
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	rc = astra_policy_set(c, a->pos[0], &p);
	rc = rc < 0 ? ctl_fail(rc, "cannot set policy %s of %s", a->pos[1],
	                      a->pos[0])
	            : EXIT_OK;
	if (rc == EXIT_OK && g->output == OUT_TABLE)
		printf("%s\n", a->pos[1]);
	astra_cluster_free(c);
	return rc;
}

static const char *schedule_text(const out_val *s, char *buf, size_t n)
{
	const char *g = out_str(out_get(s, "granularity"));
	int mi = (int)out_num(out_get(s, "minute"));
	int h = (int)out_num(out_get(s, "hour"));
	if (!strcmp(g, "hourly"))
		snprintf(buf, n, "hourly at :%02d", mi);
	else if (!strcmp(g, "daily"))
		snprintf(buf, n, "daily at %02d:%02d", h, mi);
	else if (!strcmp(g, "weekly"))
		snprintf(buf, n, "weekly on day %d at %02d:%02d",
		        (int)out_num(out_get(s, "dayOfWeek")), h, mi);
	else if (!strcmp(g, "monthly"))
		snprintf(buf, n, "monthly on day %d at %02d:%02d",
		        (int)out_num(out_get(s, "dayOfMonth")), h, mi);
	else if (out_get(s, "rrule"))
		snprintf(buf, n, "rrule %s", out_str(out_get(s, "rrule")));
	else
		snprintf(buf, n, "cron %s", out_str(out_get(s, "cron")));
	return buf;
}

static out_val *policy_row(const out_val *s)
{
	const out_val *st = out_get(s, "status");
	char sched[300];
	out_val *r = out_obj();
	out_set_str(r, "app", out_str(out_get(s, "app")));
	out_set_str(r, "name", out_str(out_get(s, "name")));
	out_set_str(r, "schedule", schedule_text(s, sched, sizeof(sched)));
	out_set_str(r, "zone", out_str(out_get(s, "timeZone")));
	out_set_u64(r, "snapshots",
	        (uint64_t)out_num(out_get(s, "snapshotRetention")));
	out_set_u64(
	        r, "backups", (uint64_t)out_num(out_get(s, "backupRetention")));
	const char *lr = out_str(out_get(st, "lastRun"));
	out_set_str(r, "last run", lr && *lr ? lr : "-");
	const char *res = out_str(out_get(st, "lastResult"));
	out_set_str(r, "result", res && *res ? res : "-");
	out_set_str(r, "next run", out_str(out_get(st, "nextRun")));
	return r;
}

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos > 1)
		return ctl_usage_error("policy list takes at most an APP");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra_policy_list(c, a->npos ? a->pos[0] : NULL, &b);
	rc = rc < 0 ? ctl_fail(rc, "cannot list policies")
	            : ctl_emit_list(g, b.ptr, policy_row);
	astra_buf_dispose(&b);
	astra_cluster_free(c);
	return rc;
}

static int run_remove(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("policy remove needs APP and NAME");
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (rc)
		return rc;
	rc = astra_policy_remove(c, a->pos[0], a->pos[1]);
	rc = rc < 0 ? ctl_fail(rc, "cannot remove policy %s of %s", a->pos[1],
	                      a->pos[0])
	            : EXIT_OK;
	astra_cluster_free(c);
	return rc;
}

static astra_cancel *sched_token;

static void on_signal(int sig)
{
	(void)sig;
	astra_cancel_request(sched_token);
}

static const ctl_flag sched_flags[] = {
	{ "once", 0, 0 },
	{ "interval", 1, 0 },
	{ "identity", 1, 0 },
	{ "lease-namespace", 1, 0 },
	{ "lease-name", 1, 0 },
	{ "lease-duration", 1, 0 },
	{ "volume-path", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_scheduler(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 0)
		return ctl_usage_error("scheduler run takes no arguments");
	long interval = 0, dur = 0;
	if (int_flag(a, "interval", &interval) < 0 || interval < 0 ||
	        interval > 3600)
		return ctl_usage_error("--interval takes seconds (1-3600)");
	if (int_flag(a, "lease-duration", &dur) < 0 || dur < 0 || dur > 3600)
		return ctl_usage_error(
		        "--lease-duration takes seconds (1-3600)");
	astra_policy_run_options ro;
	astra_policy_scheduler_options so;
	if (astra_policy_run_options_init(
	            &ro, ASTRA_POLICY_RUN_OPTIONS_VERSION) < 0 ||
	        astra_policy_scheduler_options_init(
	                &so, ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION) < 0)
		return ctl_fail(ASTRA_ERROR, "options");
	const char *envpw = getenv("ASTRA_VAULT_PASSWORD");
	if (g->password_file)
		ro.vault_password_file = g->password_file;
	else if (envpw && *envpw)
		ro.vault_password = envpw;
	/* the vault this scheduler was given is trusted for every policy
	 * that names it (docs/policies.md) */
	const char *envv = getenv("ASTRA_VAULT");
	ro.vault = g->vault ? g->vault : (envv && *envv ? envv : NULL);
	const char *vp = ctl_flag_get(a, "volume-path");
	ro.volume_path = vp ? vp : getenv("ASTRA_VOLUME_PATH");
	so.run = &ro;
	so.identity = ctl_flag_get(a, "identity");
	so.lease_namespace = ctl_flag_get(a, "lease-namespace");
	so.lease_name = ctl_flag_get(a, "lease-name");
	so.lease_duration_s = (unsigned)dur;
	so.interval_s = (unsigned)interval;
	if (ctl_flag_set(a, "once"))
		so.flags |= ASTRA_POLICY_SCHEDULER_F_ONCE;
	if (astra_cancel_new(&sched_token) < 0)
		return ctl_fail(ASTRA_ENOMEM, "scheduler");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	so.cancel = sched_token;
	astra_cluster *c = NULL;
	int rc = ctl_open_cluster(g, &c);
	if (!rc) {
		rc = astra_policy_scheduler_run(c, &so);
		rc = rc < 0 ? ctl_fail(rc, "scheduler") : EXIT_OK;
		astra_cluster_free(c);
	}
	astra_cancel_free(sched_token);
	sched_token = NULL;
	return rc;
}

const ctl_command ctl_cmd_policy_set = { "policy", "set",
	"policy set APP NAME --granularity hourly|daily|weekly|monthly|custom "
	"[--minute M] [--hour H] [--day-of-week D] [--day-of-month D] "
	"[--rrule RULE] [--cron EXPR] [--time-zone TZ] --snapshot-retention N "
	"--backup-retention N [--vault URL | --vault-ref NAME]",
	"create or replace a protection policy of an app", set_flags, run_set };
const ctl_command ctl_cmd_policy_list = { "policy", "list", "policy list [APP]",
	"list policies with last run, result and next run", NULL, run_list };
const ctl_command ctl_cmd_policy_remove = { "policy", "remove",
	"policy remove APP NAME", "remove a policy (its backups stay)", NULL,
	run_remove };
const ctl_command ctl_cmd_scheduler_run = { "scheduler", "run",
	"scheduler run [--once] [--interval S] [--identity ID] "
	"[--lease-namespace NS] [--lease-name NAME] [--lease-duration S] "
	"[--volume-path TEMPLATE]",
	"run due policies (leader elected through a Lease)", sched_flags,
	run_scheduler };
