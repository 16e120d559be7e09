/*
 * Options structs' init functions: see options.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/options.h"

#include <string.h>

#include "core/error.h"

int astra__options_init(void *o, const void *defaults, const size_t *sizes,
        unsigned int nsizes, unsigned int version, const char *what)
{
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(version, nsizes, what);
	if (rc)
		return rc;
	memcpy(o, defaults, sizes[version - 1]);
	/* every options struct starts with `unsigned int version` */
	memcpy(o, &version, sizeof(version));
	return 0;
}
