/*
 * Test helpers.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_TEST_H
#define ASTRA_TEST_H

#include <criterion/criterion.h>

#include "astra/common.h"

/* Asserts a call returned >= 0 and prints the library's message if not. */
#define cr_assert_astra_ok(expr)                                            \
	do {                                                                \
		int rc__ = (expr);                                          \
		cr_assert(rc__ >= 0, "%s failed: %d (%s): %s", #expr, rc__, \
		        astra_strerror(rc__), astra_error_last()->message); \
	} while (0)

/* Asserts a call failed with `code`. */
#define cr_assert_astra_fail(expr, code)                                       \
	do {                                                                   \
		int rc__ = (expr);                                             \
		cr_assert_eq(rc__, (code), "%s: expected %d (%s), got %d: %s", \
		        #expr, (code), astra_strerror(code), rc__,             \
		        astra_error_last()->message);                          \
	} while (0)

#endif
