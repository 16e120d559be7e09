/*
 * A typed growable array:
 *     ASTRA_VEC(int) v = ASTRA_VEC_INIT;
 *     if (astra_vec_push(&v, 42)) ...;
 *     astra_vec_foreach(&v, i, x) { ... }
 *     astra_vec_free(&v);
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_VEC_H
#define ASTRA_CORE_VEC_H

#include <stddef.h>
#include <stdlib.h>

#include "core/alloc.h"

#define ASTRA_VEC(T)           \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}
#define ASTRA_VEC_INIT     \
	{                  \
		NULL, 0, 0 \
	}

/* Grows the vector to hold at least `want` elements. 0 or ASTRA_ENOMEM. */
int astra__vec_reserve(void **v, size_t *cap, size_t want, size_t elem);

#define astra_vec_reserve(vec, want) \
	astra__vec_reserve(          \
	        (void **)&(vec)->v, &(vec)->cap, (want), sizeof(*(vec)->v))

#define astra_vec_push(vec, x)                  \
	(astra_vec_reserve((vec), (vec)->n + 1) \
	                ? -6                    \
	                : ((vec)->v[(vec)->n++] = (x), 0))

#define astra_vec_free(vec)                \
	do {                               \
		free((vec)->v);            \
		(vec)->v = NULL;           \
		(vec)->n = (vec)->cap = 0; \
	} while (0)

#define astra_vec_foreach(vec, i, x) \
	for (size_t i = 0; i < (vec)->n && (((x) = (vec)->v[i]), 1); i++)

#endif
