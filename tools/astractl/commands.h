/*
 * The table of astractl commands.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRACTL_COMMANDS_H
#define ASTRACTL_COMMANDS_H

#include "ctl.h"

extern const ctl_command *const ctl_commands[];

#endif
