/*
 * astractl internals shared by the command files.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRACTL_CTL_H
#define ASTRACTL_CTL_H

#include <astra.h>
#include <stddef.h>

#include "out.h"

/* Exit codes (../docs/cli.md) */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_PARTIAL 3

typedef struct {
	const char *kubeconfig;
	const char *context;
	const char *vault;
	const char *password_file;
	const char *control_namespace; /* --control-namespace or env */
	out_format output;
	int progress; /* -1 auto, 0 off */
	int verbosity; /* 0 normal, >0 -v, <0 -q */
} ctl_globals;

/* A command-specific flag. */
typedef struct {
	const char *name; /* long name without dashes */
	int takes_value; /* 1: --name VALUE or --name=VALUE */
	int repeatable;
} ctl_flag;

#define CTL_MAX_VALUES 64

typedef struct {
	const char *values[CTL_MAX_VALUES];
	int count;
} ctl_flag_values;

typedef struct {
	const ctl_flag *spec;
	size_t nspec;
	ctl_flag_values *vals; /* one per spec entry */
	const char *pos[CTL_MAX_VALUES];
	int npos;
	int help;
} ctl_args;

typedef struct ctl_command {
	const char *noun; /* NULL for top-level verbs such as "version" */
	const char *verb;
	const char *usage;
	const char *summary;
	const ctl_flag *flags;
	int (*run)(const ctl_globals *g, ctl_args *a);
} ctl_command;

/* Value of flag `name` (last one given), or NULL. */
const char *ctl_flag_get(const ctl_args *a, const char *name);
const ctl_flag_values *ctl_flag_all(const ctl_args *a, const char *name);
int ctl_flag_set(const ctl_args *a, const char *name);

/* Prints "astractl: <what>: <astra_error_last()>" and returns EXIT_FAILED
 * (or EXIT_PARTIAL for ASTRA_EPARTIAL). */
int ctl_fail(int rc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Prints "astractl: <msg>" and the command's usage; returns EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints v in the selected format and frees it. */
void ctl_emit(const ctl_globals *g, out_val *v);

/* The table row of one element of a list call's JSON array. */
typedef out_val *(*ctl_row_fn)(const out_val *item);
/* Prints the JSON array `json` a list call returned: as it is in JSON and
 * YAML (and in a table when row is NULL), else as a table of one row per
 * element. Returns EXIT_OK. */
int ctl_emit_list(const ctl_globals *g, const char *json, ctl_row_fn row);

extern const ctl_command ctl_cmd_version, ctl_cmd_completion, ctl_cmd_man;
extern const ctl_command ctl_cmd_vault_init, ctl_cmd_vault_info,
        ctl_cmd_vault_check, ctl_cmd_vault_gc, ctl_cmd_vault_repair,
        ctl_cmd_vault_replicate, ctl_cmd_vault_change_password;
extern const ctl_command ctl_cmd_app_define, ctl_cmd_app_list, ctl_cmd_app_show,
        ctl_cmd_app_remove;
extern const ctl_command ctl_cmd_snapshot_create, ctl_cmd_snapshot_list,
        ctl_cmd_snapshot_show, ctl_cmd_snapshot_delete;
extern const ctl_command ctl_cmd_backup_create, ctl_cmd_backup_list,
        ctl_cmd_backup_show, ctl_cmd_backup_delete, ctl_cmd_backup_verify,
        ctl_cmd_restore, ctl_cmd_clone;
extern const ctl_command ctl_cmd_hook_create, ctl_cmd_hook_list,
        ctl_cmd_hook_delete;
extern const ctl_command ctl_cmd_policy_set, ctl_cmd_policy_list,
        ctl_cmd_policy_remove, ctl_cmd_scheduler_run;
/* A cancel token that SIGINT and SIGTERM request (NULL when none could be
 * made: the command then runs to its end); free with astra_cancel_free. */
astra_cancel *ctl_new_cancel(void);
/* Opens the vault of --vault/--password-file; prints the error. */
int ctl_open_vault(const ctl_globals *g, astra_vault **out);
/* Opens the cluster of --kubeconfig/--context; prints the error. */
int ctl_open_cluster(const ctl_globals *g, astra_cluster **out);
extern const ctl_command ctl_cmd_data_backup, ctl_cmd_data_restore,
        ctl_cmd_data_list, ctl_cmd_data_forget;

#endif
