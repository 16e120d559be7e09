/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void *astra__malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		astra__err_oom();
	return p;
}

void *astra__calloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		astra__err_oom();
	return p;
}

void *astra__realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		astra__err_oom();
	return q;
}

void *astra__reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size) {
		astra__err_oom();
		return NULL;
	}
	return astra__realloc(p, count * size);
}

char *astra__strdup(const char *s)
{
	return s ? astra__strndup(s, strlen(s)) : NULL;
}

char *astra__strndup(const char *s, size_t n)
{
	char *p = astra__malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *astra__aprintf(const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID, "bad format");
		return NULL;
	}
	char *p = astra__malloc((size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

void astra__wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void astra__free_secret(void *p, size_t n)
{
	if (!p)
		return;
	astra__wipe(p, n);
	free(p);
}

void astra__free_secret_str(char *s)
{
	if (s)
		astra__free_secret(s, strlen(s));
}
