/*
 * YAML documents as JSON trees. This module (with json.c) is the only user
 * of libyaml.
 *
 * Typing of plain (unquoted) scalars follows what kubectl accepts (YAML 1.1
 * as go-yaml v2 resolves it, a superset of the YAML 1.2 core schema):
 *   null   ~, null, Null, NULL, empty
 *   bool   true/false, yes/no, on/off (lower, Title or UPPER case)
 *   int    123, -7, 0x1F, 0o17, 0b101, and 0644 (leading zero: octal)
 *   float  1.5, -2e3, .5 (.inf and .nan are refused: JSON has no such value)
 *   string everything else
 * Quoted and block scalars are strings; explicit tags (!!str, !!int,
 * !!float, !!bool, !!null, !!binary) are honoured. Anchors and aliases are
 * expanded (with a bound on the expansion against "billion laughs"), merge
 * keys (<<) are applied, duplicate keys are errors, complex (non-scalar)
 * keys are refused. Integers beyond 2^53 lose precision (JSON numbers are
 * doubles here).
 *
 * Errors are ASTRA_EPARSE with "WHAT: line L, column C: problem".
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_FMT_YAML_H
#define ASTRA_FMT_YAML_H

#include <stddef.h>

#include "fmt/json.h"

/*
 * Parses exactly one document (YAML or JSON). An empty stream gives JSON
 * null; a stream of several documents is an error.
 */
int astra__yaml_parse(
        astra__json **out, const char *text, size_t len, const char *what);

/*
 * Parses a stream of documents ("---" separated) into a JSON array of the
 * documents; empty (null) documents are skipped, as kubectl does.
 */
int astra__yaml_parse_all(
        astra__json **out, const char *text, size_t len, const char *what);

/*
 * Source lines of the nodes of a parsed document, for error messages about
 * the content ("line 7: clusters[0].cluster.server must be a string").
 */
typedef struct astra__yaml_lines astra__yaml_lines;

/* astra__yaml_parse that also records the line of every node. */
int astra__yaml_parse_lines(astra__json **out, astra__yaml_lines **lines,
        const char *text, size_t len, const char *what);
/* 1-based line of a node of the document, or 0 when unknown. */
size_t astra__yaml_line(
        const astra__yaml_lines *lines, const astra__json *node);
void astra__yaml_lines_free(astra__yaml_lines *lines);

/* Reads and parses a file (one document, or all when `all`); errors name
 * the path. */
int astra__yaml_parse_file(astra__json **out, const char *path, int all);

/* Reads a whole file into a buffer (at most max bytes; 0: 64 MiB). */
int astra__fmt_read_file(astra_buf *out, const char *path, size_t max);

#endif
