/*
 * JSON documents. This module (with yaml.c) is the only user of cJSON; other
 * modules see the opaque astra__json type only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_FMT_JSON_H
#define ASTRA_FMT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"

typedef struct astra__json astra__json;

typedef enum {
	ASTRA_JSON_INVALID = 0,
	ASTRA_JSON_NULL,
	ASTRA_JSON_BOOL,
	ASTRA_JSON_NUMBER,
	ASTRA_JSON_STRING,
	ASTRA_JSON_ARRAY,
	ASTRA_JSON_OBJECT
} astra__json_type;

/*
 * Parses `len` bytes. On failure returns ASTRA_EPARSE with a message naming
 * `what` (a file, URL or object) and the byte offset of the problem.
 */
int astra__json_parse(
        astra__json **out, const char *text, size_t len, const char *what);
/* The same, faster on big documents of many small objects (snapshot
 * trees): integers and common keys take a short path; what it does not
 * handle is left to astra__json_parse. */
int astra__json_parse_fast(
        astra__json **out, const char *text, size_t len, const char *what);
/* Serialises; compact unless `pretty`. The caller frees *out with free(). */
int astra__json_print(char **out, const astra__json *j, int pretty);
/* Appends; compact output is written by a faster printer of the same bytes
 * as cJSON_PrintUnformatted (tree ids are hashes of them). */
int astra__json_print_buf(astra_buf *out, const astra__json *j, int pretty);
void astra__json_free(astra__json *j);
astra__json *astra__json_dup(const astra__json *j);

astra__json_type astra__json_type_of(const astra__json *j);
/* Deep equality (object members in any order). */
int astra__json_equal(const astra__json *a, const astra__json *b);
/* Member of an object, or NULL. */
astra__json *astra__json_get(const astra__json *obj, const char *key);
/* Follows a path of member names separated by '.', e.g. "metadata.name". */
astra__json *astra__json_path(const astra__json *obj, const char *path);
/* String value of a member (or NULL when absent or not a string). */
const char *astra__json_str(const astra__json *obj, const char *key);
/* Numeric member; `def` when absent or not a number. */
int64_t astra__json_int(const astra__json *obj, const char *key, int64_t def);
double astra__json_num(const astra__json *obj, const char *key, double def);
/* Bool member; `def` when absent or not a bool. */
int astra__json_bool(const astra__json *obj, const char *key, int def);
const char *astra__json_string_value(const astra__json *j);
double astra__json_number_value(const astra__json *j);

size_t astra__json_size(const astra__json *arr_or_obj);
astra__json *astra__json_at(const astra__json *arr_or_obj, size_t i);
/* Key of an object member returned by astra__json_at. */
const char *astra__json_key(const astra__json *member);
/*
 * Iterates over the elements of an array or the members of an object in
 * constant time per step (astra__json_at is linear):
 *     for (astra__json *it = astra__json_first(a); it;
 *             it = astra__json_next(it))
 */
astra__json *astra__json_first(const astra__json *arr_or_obj);
astra__json *astra__json_next(const astra__json *item);

astra__json *astra__json_new_object(void);
astra__json *astra__json_new_array(void);
astra__json *astra__json_new_string(const char *s);
astra__json *astra__json_new_number(double v);
astra__json *astra__json_new_bool(int v);
astra__json *astra__json_new_null(void);
/* Adds (replacing an existing member); takes ownership of `v`. */
int astra__json_set(astra__json *obj, const char *key, astra__json *v);
int astra__json_set_str(astra__json *obj, const char *key, const char *s);
int astra__json_set_int(astra__json *obj, const char *key, int64_t v);
int astra__json_set_bool(astra__json *obj, const char *key, int v);
/* Removes and frees a member; 0 even when absent. */
void astra__json_del(astra__json *obj, const char *key);
/* Detaches a member and returns it (caller owns), or NULL. */
astra__json *astra__json_take(astra__json *obj, const char *key);
int astra__json_push(astra__json *arr, astra__json *v);

#endif
