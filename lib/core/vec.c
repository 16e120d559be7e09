/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/vec.h"

#include "core/error.h"

int astra__vec_reserve(void **v, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap : 8;
	while (n < want)
		n *= 2;
	void *p = astra__reallocarray(*v, n, elem);
	if (!p)
		return ASTRA_ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}
