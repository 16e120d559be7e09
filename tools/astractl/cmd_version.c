/*
 * astractl version
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include "ctl.h"

static int run(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("version takes no arguments");
	out_val *o = out_obj();
	out_set_str(o, "astractl", ASTRA_VERSION_STRING);
	out_set_str(o, "library", astra_version_string());
	out_set_int(o, "abi", ASTRA_ABI_VERSION);
	out_set_int(o, "format", astra_format_version());
	ctl_emit(g, o);
	return EXIT_OK;
}

const ctl_command ctl_cmd_version = {
	.noun = NULL,
	.verb = "version",
	.usage = "version",
	.summary = "print the library, ABI and vault format versions",
	.flags = NULL,
	.run = run,
};
