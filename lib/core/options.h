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

/* The body of astra_<name>_options_init(o, version) for the struct
 * astra_<name>_options (NAME: its macros' infix): its defaults from
 * ASTRA_<NAME>_OPTIONS_INIT, one size per version (the offsets where later
 * versions begin, then sizeof(defaults)), copied by astra__options_init. */
#define ASTRA__OPTIONS_INIT_BODY(type, NAME, o, version, ...)                                \
	_Pragma("GCC diagnostic push") _Pragma(                                              \
	        "GCC diagnostic ignored \"-Wmissing-field-initializers\"") static const type \
	        defaults = ASTRA_##NAME##_OPTIONS_INIT;                                      \
	_Pragma("GCC diagnostic pop") static const size_t sizes[] = {                        \
		__VA_ARGS__                                                                  \
	};                                                                                   \
	_Static_assert(ASTRA__NELEM(sizes) == ASTRA_##NAME##_OPTIONS_VERSION,                \
	        "one size per version");                                                     \
	return astra__options_init(                                                          \
	        (o), &defaults, sizes, ASTRA__NELEM(sizes), (version), #type)

/* Number of entries of a static array. */
#define ASTRA__NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
