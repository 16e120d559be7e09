/*
 * libastra - protection policies: schedules (hourly, daily, weekly,
 * monthly, RRULE or cron, in an IANA time zone), snapshot and backup
 * retention counts combined grandfather-father-son style, and the
 * scheduler that runs them (embeddable, or replicated with a Lease).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_POLICY_H
#define ASTRA_POLICY_H

/**
 * @file astra/policy.h
 * @defgroup astra_policy Protection policies and the scheduler
 * @{
 */

#include <stdint.h>

#include "astra/backup.h"
#include "astra/cluster.h"
#include "astra/common.h"

ASTRA_BEGIN_DECL

/** astra_policy_options.granularity */
typedef enum {
	ASTRA_POLICY_HOURLY = 1, /**< every hour at `minute` */
	ASTRA_POLICY_DAILY = 2, /**< every day at `hour`:`minute` */
	ASTRA_POLICY_WEEKLY = 3, /**< on `day_of_week` at `hour`:`minute` */
	ASTRA_POLICY_MONTHLY = 4, /**< on `day_of_month` at `hour`:`minute` */
	ASTRA_POLICY_CUSTOM = 5 /**< an RRULE or a cron expression */
} astra_policy_granularity;

/**
 * A protection policy of an app. Times are wall-clock times of
 * `time_zone`; docs/policies.md states the rules for short months and
 * daylight-saving changes.
 */
typedef struct {
	unsigned int version;
	/** The policy's name: a DNS label of at most 40 characters. */
	const char *name;
	/** ASTRA_POLICY_* */
	unsigned int granularity;
	/** 0-59 (hourly, daily, weekly, monthly). */
	int minute;
	/** 0-23 (daily, weekly, monthly). */
	int hour;
	/** 0-7, 0 and 7 both Sunday (weekly). */
	int day_of_week;
	/** 1-31 (monthly); in a shorter month: its last day. */
	int day_of_month;
	/** Custom: an RFC 5545 RRULE ("FREQ=DAILY;BYHOUR=2,14") or... */
	const char *rrule;
	/** ...a 5-field cron expression ("30 2 * * 1-5"); exactly one. */
	const char *cron;
	/** IANA time zone; NULL or "": UTC. */
	const char *time_zone;
	/** Snapshots to keep; 0: the policy takes none. */
	unsigned int snapshot_retention;
	/** Backups to keep; 0: the policy takes none. */
	unsigned int backup_retention;
	/** The target vault's URL (needed when backup_retention > 0, unless
	 *  `vault_ref` is given). The scheduler follows it only for a policy
	 *  in the control namespace or when it is the vault the scheduler
	 *  was given (astra_policy_run_options.vault); docs/policies.md. */
	const char *vault;
	/* v2 */
	/** Instead of `vault`: the name of a vault defined in the control
	 *  namespace (ConfigMap "astra-vault-<name>", docs/policies.md). */
	const char *vault_ref;
} astra_policy_options;

#define ASTRA_POLICY_OPTIONS_VERSION 2
/* day_of_month 1: a monthly policy runs on the first unless told */
#define ASTRA_POLICY_OPTIONS_INIT                                 \
	{                                                         \
		ASTRA_POLICY_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 1 \
	}
ASTRA_API astra_status astra_policy_options_init(
        astra_policy_options *opts, unsigned int version);

/**
 * Checks a policy: ASTRA_EINVALID naming the field and the value (minute
 * 60, day of month 32, an unknown time zone, a malformed RRULE or cron,
 * a policy that takes nothing). Needs no cluster.
 */
ASTRA_API astra_status astra_policy_validate(
        const astra_policy_options *policy) ASTRA_WARN_UNUSED;

/**
 * The policy's first run strictly after `after` (Unix seconds) in
 * `*next_out`. ASTRA_EINVALID for an invalid policy, ASTRA_ENOTFOUND when
 * it never runs within ten years.
 */
ASTRA_API astra_status astra_policy_next_run(const astra_policy_options *policy,
        int64_t after, int64_t *next_out) ASTRA_WARN_UNUSED;

/**
 * Whether a run is due at `now` for a policy that last ran at `last_run`
 * (or was created then): 1 when at least one scheduled time lies in
 * (last_run, now], else 0; a negative code for an invalid policy. Several
 * missed times make one run: `slot_out` (may be NULL) receives the latest
 * of them.
 */
ASTRA_API astra_status astra_policy_due(const astra_policy_options *policy,
        int64_t last_run, int64_t now, int64_t *slot_out) ASTRA_WARN_UNUSED;

/**
 * Creates or replaces policy `policy->name` of app `app` (stored beside
 * the app definition in the cluster). ASTRA_ENOTFOUND when the app is not
 * defined; ASTRA_EINVALID as astra_policy_validate().
 */
ASTRA_API astra_status astra_policy_set(astra_cluster *cluster, const char *app,
        const astra_policy_options *policy) ASTRA_WARN_UNUSED;

/**
 * The policies of one app (or of all when `app_name` is NULL) as a JSON array
 * of {"app", "name", "granularity", "minute", "hour", "dayOfWeek",
 * "dayOfMonth", "rrule", "cron", "timeZone", "snapshotRetention",
 * "backupRetention", "vault", "created", "status": {"lastRun",
 * "lastResult", "lastError", "nextRun", "snapshots", "backups",
 * "pendingDeletes"}} (times as RFC 3339 UTC strings).
 */
ASTRA_API astra_status astra_policy_list(astra_cluster *cluster,
        const char *app_name, astra_buf *json_out) ASTRA_WARN_UNUSED;

/** Removes a policy (its snapshots and backups stay). */
ASTRA_API astra_status astra_policy_remove(astra_cluster *cluster,
        const char *app, const char *name) ASTRA_WARN_UNUSED;

/** Options of astra_policy_run_due(). */
typedef struct {
	unsigned int version;
	/** The time to evaluate (Unix seconds); 0: now. */
	int64_t now;
	/** Only this app's policies; NULL: every app's. */
	const char *app;
	/** Password or password file of the policies' vaults. */
	const char *vault_password;
	const char *vault_password_file;
	/** Volume access for backups (as astra_backup_options). */
	const char *volume_path;
	astra_volume_path_cb volume_path_cb;
	void *volume_path_payload;
	astra_cancel *cancel;
	/* v2 */
	/** A vault URL the caller trusts for every policy: a policy outside
	 *  the control namespace that names exactly this URL is backed up
	 *  into it (the single-user flow). NULL: only policies in the
	 *  control namespace may name a vault by URL. */
	const char *vault;
} astra_policy_run_options;

#define ASTRA_POLICY_RUN_OPTIONS_VERSION 2
#define ASTRA_POLICY_RUN_OPTIONS_INIT            \
	{                                        \
		ASTRA_POLICY_RUN_OPTIONS_VERSION \
	}
ASTRA_API astra_status astra_policy_run_options_init(
        astra_policy_run_options *opts, unsigned int version);

/**
 * Runs every due policy once: per app, one snapshot serves every due
 * policy that keeps snapshots and one backup per vault serves every due
 * policy that keeps backups; then retention deletes the oldest objects
 * beyond each policy's counts, except those another policy of the app
 * still keeps and backups still under an object lock (retried on later
 * runs). Each policy's slot is claimed in the cluster first (with the
 * object's resourceVersion), so two runners never run the same slot.
 * A failed run is recorded in the policy's status and retried at the next
 * slot; only successful objects count towards retention.
 *
 * `report` (may be NULL) receives JSON {"ran": [{"app", "policies",
 * "snapshot", "backups": [{"vault", "name", "result", "error"}],
 * "result", "error"}], "deleted": [...], "failed": n}. Returns ASTRA_EPARTIAL
 * when some runs failed.
 */
ASTRA_API astra_status astra_policy_run_due(astra_cluster *cluster,
        const astra_policy_run_options *opts,
        astra_buf *report) ASTRA_WARN_UNUSED;

/** astra_policy_scheduler_options.flags */
#define ASTRA_POLICY_SCHEDULER_F_ONCE 0x1u /**< one pass, then return */
/** Deprecated: ASTRA_POLICY_SCHEDULER_F_ONCE. */
#define ASTRA_SCHEDULER_F_ONCE ASTRA_POLICY_SCHEDULER_F_ONCE

/** Options of astra_policy_scheduler_run(). */
typedef struct {
	unsigned int version;
	/** What each pass runs (now is ignored). Required. */
	const astra_policy_run_options *run;
	/** The Lease for leader election; NULL: the context's namespace and
	 *  "astra-scheduler". */
	const char *lease_namespace;
	const char *lease_name;
	/** This replica's identity; NULL: "<hostname>-<pid>". */
	const char *identity;
	/** Seconds a leader holds the Lease without renewing it; 0: 15. */
	unsigned int lease_duration_s;
	/** Seconds between passes; 0: 5. */
	unsigned int interval_s;
	unsigned int flags;
	/** Stops the loop (checked between passes and during runs). */
	astra_cancel *cancel;
} astra_policy_scheduler_options;

#define ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION 1
#define ASTRA_POLICY_SCHEDULER_OPTIONS_INIT            \
	{                                              \
		ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION \
	}
ASTRA_API astra_status astra_policy_scheduler_options_init(
        astra_policy_scheduler_options *opts, unsigned int version);

/**
 * The scheduler: every `interval_s`, take or renew the Lease; while this
 * replica leads, run astra_policy_run_due(). The leader renews the Lease
 * every third of `lease_duration_s`, also during a pass (from a second
 * thread); when it loses the Lease during a pass, or cannot renew it
 * before it expires, it cancels the pass. Failed runs are logged and
 * recorded, never end the loop. Returns 0 when cancelled (or after one
 * pass with ASTRA_SCHEDULER_F_ONCE, then the pass's status; a replica that
 * is not the leader returns 0 without running anything).
 */
ASTRA_API astra_status astra_policy_scheduler_run(astra_cluster *cluster,
        const astra_policy_scheduler_options *opts) ASTRA_WARN_UNUSED;

ASTRA_END_DECL

/** @} */

#endif
