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
	&ctl_cmd_data_backup,
	&ctl_cmd_data_restore,
	&ctl_cmd_data_list,
	&ctl_cmd_data_forget,
	NULL,
};
