/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "commands.h"

const ctl_command *const ctl_commands[] = {
	&ctl_cmd_version,
	NULL,
};
