/*
 * Allocation helpers that set the last error on failure, and secret wiping.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_ALLOC_H
#define ASTRA_CORE_ALLOC_H

#include <stddef.h>

void *astra__malloc(size_t n);
void *astra__calloc(size_t count, size_t size);
void *astra__realloc(void *p, size_t n);
/* realloc of count*size with overflow check */
void *astra__reallocarray(void *p, size_t count, size_t size);
char *astra__strdup(const char *s);
char *astra__strndup(const char *s, size_t n);
/* printf into a new string; NULL (and the OOM error) on failure */
char *astra__aprintf(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* Overwrites memory in a way the compiler cannot elide. */
void astra__wipe(void *p, size_t n);
/* Wipes n bytes, then frees. */
void astra__free_secret(void *p, size_t n);
/* Wipes a NUL-terminated string, then frees it. */
void astra__free_secret_str(char *s);

#endif
