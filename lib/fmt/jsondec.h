/*
 * Encoding a C struct as a JSON record and decoding it back, member by member,
 * with errors that name the record and the member: "backup nightly: field
 * volumes[1].data is not a string". Used by every typed record (the
 * app-backup record, the snapshot record, the policy status).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_FMT_JSONDEC_H
#define ASTRA_FMT_JSONDEC_H

#include <stdint.h>

#include "fmt/json.h"

/* Where decoding is, for the errors. */
typedef struct {
	int klass; /* astra_error_class of the errors */
	const char *kind; /* "backup", "snapshot", "policy" */
	const char *what; /* the record's name */
	const char *field; /* "field", "status field" */
	char prefix[48]; /* the object being read: "" or "volumes[2]." */
} astra__jdec;

/* ASTRA_ECORRUPT: "<kind> <what>: <field> <prefix><key> <problem>". */
int astra__jdec_bad(const astra__jdec *d, const char *key, const char *problem);
/* Member `key` of `obj` when it has type `t` (*out NULL when absent and
 * not `required`); ASTRA_ECORRUPT naming it when missing or of another
 * type. */
int astra__jdec_member(const astra__jdec *d, const astra__json *obj,
        const char *key, astra__json_type t, int required,
        const astra__json **out);
/* String member copied to *out (NULL when absent and not `required`). */
int astra__jdec_str(const astra__jdec *d, const astra__json *obj,
        const char *key, int required, char **out);
/* Number member into *out (left as is when absent); *present (may be
 * NULL) says whether it was there. */
int astra__jdec_int(const astra__jdec *d, const astra__json *obj,
        const char *key, int64_t *out, int *present);
/* Boolean member into *out (left as is when absent). */
int astra__jdec_bool(const astra__jdec *d, const astra__json *obj,
        const char *key, int *out);
/* A copy of member `key` of type `t` (*out NULL when absent). */
int astra__jdec_tree(const astra__jdec *d, const astra__json *obj,
        const char *key, astra__json_type t, astra__json **out);

/* Encoding: sets string member `key` when `s` is not NULL; 0 or
 * ASTRA_ENOMEM. */
int astra__jenc_str(astra__json *obj, const char *key, const char *s);
/* Sets a copy of `v` as member `key` when `v` is not NULL. */
int astra__jenc_dup(astra__json *obj, const char *key, const astra__json *v);
/* Sets member `key` to an array of the n elements at `elems` (each
 * `size` bytes), each encoded by `enc`; 0, or the first error (nothing
 * set). */
int astra__jenc_array(astra__json *obj, const char *key, const void *elems,
        size_t n, size_t size, int (*enc)(const void *elem, astra__json **out));

#endif
