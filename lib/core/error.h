/*
 * Internal error reporting: every failing path sets the thread's last error
 * with a message that names the cause, and returns the code.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_ERROR_H
#define ASTRA_CORE_ERROR_H

#include <stdarg.h>

#include "astra/common.h"

#if defined(__GNUC__)
#define ASTRA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ASTRA_PRINTF(f, a)
#endif

/* Sets the last error and returns `code`. */
int astra__err(int code, int klass, const char *fmt, ...) ASTRA_PRINTF(3, 4);
int astra__verr(int code, int klass, const char *fmt, va_list ap)
        ASTRA_PRINTF(3, 0);

/*
 * Sets the last error from errno (saved on entry), appending strerror, and
 * returns a code mapped from errno: ENOENT -> ENOTFOUND, ENOSPC/EDQUOT ->
 * ENOSPACE, EEXIST -> EEXISTS, EACCES/EPERM -> EAUTH... otherwise EIO.
 */
int astra__err_os(const char *fmt, ...) ASTRA_PRINTF(1, 2);
int astra__errno_code(int err);

/* Out of memory: needs no allocation. */
int astra__err_oom(void);

/*
 * Prefixes the current message with a context ("vault file:///x: ") and
 * returns `code` unchanged, so callers can write
 *     return astra__err_prefix(rc, "vault %s", url);
 */
int astra__err_prefix(int code, const char *fmt, ...) ASTRA_PRINTF(2, 3);

/*
 * The last error, saved before clean-up work that may set its own (a
 * DELETE of a temporary object, serialising a report) and set again after
 * it, so that the caller sees the failure that mattered:
 *     astra__saved_err e;
 *     astra__err_save(&e);
 *     cleanup();
 *     astra__err_restore(&e);
 */
typedef struct {
	int code;
	int klass;
	char message[1024];
} astra__saved_err;

void astra__err_save(astra__saved_err *e);
/* Sets the saved error again, or clears the error when none was saved. */
void astra__err_restore(const astra__saved_err *e);

/* Checks an options struct's version: 0 < version <= max. */
int astra__check_version(
        unsigned int version, unsigned int max, const char *what);

#define ASTRA_ASSERT_ARG(expr)                                                 \
	do {                                                                   \
		if (!(expr))                                                   \
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID, \
			        "invalid argument: '%s'", #expr);              \
	} while (0)

#define ASTRA_CHECK_ALLOC(p)                     \
	do {                                     \
		if ((p) == NULL)                 \
			return astra__err_oom(); \
	} while (0)

#endif
