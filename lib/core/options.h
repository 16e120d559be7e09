/*
 * Options structs' init functions. Each struct's defaults are defined once,
 * by its public _INIT macro; its astra_*_options_init() copies them from a
 * static object initialised with that macro, at most as many bytes as the
 * caller's version of the struct has (fields are only ever appended, so an
 * older caller's struct is a prefix of the current one).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_OPTIONS_H
#define ASTRA_CORE_OPTIONS_H

#include <stddef.h>

/* Checks `version` (1 to nsizes), copies sizes[version - 1] bytes of
 * `defaults` into `o` and sets its version; 0 or ASTRA_EVERSION. */
int astra__options_init(void *o, const void *defaults, const size_t *sizes,
        unsigned int nsizes, unsigned int version, const char *what);

/* Declares `defaults`, a static T initialised with the _INIT macro (which
 * names only the leading members: the rest are zero by C's rules). */
#define ASTRA__OPTIONS_DEFAULTS(T, init)                                                  \
	_Pragma("GCC diagnostic push") _Pragma(                                           \
	        "GCC diagnostic ignored \"-Wmissing-field-initializers\"") static const T \
	        defaults = init;                                                          \
	_Pragma("GCC diagnostic pop")

/* Number of entries of a static array. */
#define ASTRA__NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
