/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/map.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static char tombstone[1];

uint64_t astra__hash_bytes(const void *data, size_t n)
{
	/* FNV-1a, 64-bit, with a final avalanche */
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static size_t find(const astra__map *m, const char *key, int *found)
{
	size_t mask = m->cap - 1;
	size_t i = astra__hash_bytes(key, strlen(key)) & mask;
	size_t first_free = (size_t)-1;
	for (;;) {
		char *k = m->keys[i];
		if (k == NULL) {
			*found = 0;
			return first_free != (size_t)-1 ? first_free : i;
		}
		if (k == tombstone) {
			if (first_free == (size_t)-1)
				first_free = i;
		} else if (strcmp(k, key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static int resize(astra__map *m, size_t cap)
{
	astra__map nm = ASTRA_MAP_INIT;
	nm.keys = astra__calloc(cap, sizeof(char *));
	nm.vals = astra__calloc(cap, sizeof(void *));
	if (!nm.keys || !nm.vals) {
		free(nm.keys);
		free(nm.vals);
		return ASTRA_ENOMEM;
	}
	nm.cap = cap;
	for (size_t i = 0; i < m->cap; i++) {
		char *k = m->keys[i];
		if (k && k != tombstone) {
			int found;
			size_t j = find(&nm, k, &found);
			nm.keys[j] = k;
			nm.vals[j] = m->vals[i];
			nm.n++;
			nm.used++;
		}
	}
	free(m->keys);
	free(m->vals);
	*m = nm;
	return 0;
}

int astra__map_set(astra__map *m, const char *key, void *val, void **old)
{
	if (old)
		*old = NULL;
	if ((m->used + 1) * 4 >= m->cap * 3) {
		size_t cap = m->cap ? m->cap : 16;
		while ((m->n + 1) * 2 >= cap)
			cap *= 2;
		int rc = resize(m, cap);
		if (rc)
			return rc;
	}
	int found;
	size_t i = find(m, key, &found);
	if (found) {
		if (old)
			*old = m->vals[i];
		m->vals[i] = val;
		return 0;
	}
	char *k = astra__strdup(key);
	if (!k)
		return ASTRA_ENOMEM;
	if (m->keys[i] == NULL)
		m->used++;
	m->keys[i] = k;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void *astra__map_get(const astra__map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	int found;
	size_t i = find(m, key, &found);
	return found ? m->vals[i] : NULL;
}

int astra__map_has(const astra__map *m, const char *key)
{
	if (!m->cap)
		return 0;
	int found;
	find(m, key, &found);
	return found;
}

void *astra__map_del(astra__map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	int found;
	size_t i = find(m, key, &found);
	if (!found)
		return NULL;
	void *v = m->vals[i];
	free(m->keys[i]);
	m->keys[i] = tombstone;
	m->vals[i] = NULL;
	m->n--;
	return v;
}

int astra__map_next(
        const astra__map *m, size_t *pos, const char **key, void **val)
{
	while (*pos < m->cap) {
		size_t i = (*pos)++;
		char *k = m->keys[i];
		if (k && k != tombstone) {
			if (key)
				*key = k;
			if (val)
				*val = m->vals[i];
			return 1;
		}
	}
	return 0;
}

void astra__map_free(astra__map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] && m->keys[i] != tombstone)
			free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
