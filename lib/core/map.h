/*
 * A hash map from NUL-terminated string keys (copied) to void * values.
 * Open addressing with linear probing; not thread-safe.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_MAP_H
#define ASTRA_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	char **keys;
	void **vals;
	size_t cap; /* power of two */
	size_t n; /* live entries */
	size_t used; /* live + tombstones */
} astra__map;

#define ASTRA_MAP_INIT              \
	{                           \
		NULL, NULL, 0, 0, 0 \
	}

uint64_t astra__hash_bytes(const void *data, size_t n);

/* Inserts or replaces. 0 or ASTRA_ENOMEM. `old` receives a replaced value. */
int astra__map_set(astra__map *m, const char *key, void *val, void **old);
/* The value, or NULL when absent (check astra__map_has for NULL values). */
void *astra__map_get(const astra__map *m, const char *key);
int astra__map_has(const astra__map *m, const char *key);
/* Removes the key; returns its value or NULL. */
void *astra__map_del(astra__map *m, const char *key);
/* Iterates: start with *pos = 0; returns 0 at the end. */
int astra__map_next(
        const astra__map *m, size_t *pos, const char **key, void **val);
/* Frees keys and tables; values are the caller's. */
void astra__map_free(astra__map *m);

#endif
