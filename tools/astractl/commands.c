/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "commands.h"

const ctl_command *const ctl_commands[] = {
	&ctl_cmd_version,
	&ctl_cmd_vault_init,
	&ctl_cmd_vault_info,
	&ctl_cmd_vault_check,
	&ctl_cmd_vault_gc,
	&ctl_cmd_vault_repair,
	&ctl_cmd_data_backup,
	&ctl_cmd_data_restore,
	&ctl_cmd_data_list,
	&ctl_cmd_data_forget,
	&ctl_cmd_app_define,
	&ctl_cmd_app_list,
	&ctl_cmd_app_show,
	&ctl_cmd_app_remove,
	&ctl_cmd_hook_create,
	&ctl_cmd_hook_list,
	&ctl_cmd_hook_delete,
	&ctl_cmd_snapshot_create,
	&ctl_cmd_snapshot_list,
	&ctl_cmd_snapshot_show,
	&ctl_cmd_snapshot_delete,
	&ctl_cmd_backup_create,
	&ctl_cmd_backup_list,
	&ctl_cmd_backup_show,
	&ctl_cmd_backup_delete,
	&ctl_cmd_restore,
	&ctl_cmd_clone,
	&ctl_cmd_policy_set,
	&ctl_cmd_policy_list,
	&ctl_cmd_policy_remove,
	&ctl_cmd_scheduler_run,
	NULL,
};
