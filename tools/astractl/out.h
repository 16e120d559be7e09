/*
 * astractl output: a small ordered tree of values rendered as a table,
 * JSON or YAML (-o). Only astractl uses it; the library never prints.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRACTL_OUT_H
#define ASTRACTL_OUT_H

#include <stdint.h>
#include <stdio.h>

typedef enum { OUT_TABLE = 0, OUT_JSON, OUT_YAML } out_format;

typedef struct out_val out_val;

out_val *out_obj(void);
out_val *out_arr(void);
/* Each setter takes ownership of `child` and copies strings. */
void out_set(out_val *obj, const char *key, out_val *child);
void out_set_str(out_val *obj, const char *key, const char *v);
void out_set_int(out_val *obj, const char *key, int64_t v);
void out_set_u64(out_val *obj, const char *key, uint64_t v);
void out_set_num(out_val *obj, const char *key, double v);
void out_set_bool(out_val *obj, const char *key, int v);
void out_push(out_val *arr, out_val *child);
out_val *out_null(void);
out_val *out_scalar_str(const char *s);
out_val *out_scalar_num(double d, int integral);
out_val *out_scalar_bool(int b);
/* Read access to parsed trees (NULL-safe; "" / 0 when absent). */
size_t out_len(const out_val *v);
const out_val *out_at(const out_val *v, size_t i);
const out_val *out_get(const out_val *obj, const char *key);
const char *out_key(const out_val *member);
const char *out_str(const out_val *v);
double out_num(const out_val *v);
/* 1 for a true boolean, else 0. */
int out_bool(const out_val *v);
/* Parses JSON text (from the library) into a tree; NULL if malformed. */
out_val *out_parse_json(const char *text);
void out_free(out_val *v);

/* Prints `v`; a table shows an array of objects as rows, an object as
 * KEY/VALUE lines. */
void out_print(FILE *f, const out_val *v, out_format fmt);

#endif
