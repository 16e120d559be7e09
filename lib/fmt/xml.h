/*
 * A small, strict XML reader for protocol responses (S3 and STS): it builds
 * a tree of elements with their text, and refuses anything that is not
 * well-formed (mismatched or unclosed tags, bad entities, a truncated
 * document, text outside the root, a DOCTYPE). Namespace prefixes are
 * stripped from element names; attributes are checked and then dropped.
 * Limits: 8 MiB of input, nesting depth 64.
 *
 * Also: escaping text for the request bodies we write.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_FMT_XML_H
#define ASTRA_FMT_XML_H

#include <stddef.h>

#include "astra/common.h"

typedef struct astra__xml astra__xml;

/*
 * Parses `len` bytes into a tree (the root element). On failure returns
 * ASTRA_EPARSE with a message naming `what` and the byte offset.
 */
int astra__xml_parse(
        astra__xml **out, const char *text, size_t len, const char *what);
void astra__xml_free(astra__xml *root);

/* Local name (without a namespace prefix). */
const char *astra__xml_name(const astra__xml *n);
/* The element's own character data (entities decoded; "" when none). */
const char *astra__xml_text(const astra__xml *n);
/* First child element, or the first named `name` (NULL: any). */
const astra__xml *astra__xml_child(const astra__xml *n, const char *name);
/* Next sibling element, or the next named `name` (NULL: any). */
const astra__xml *astra__xml_next(const astra__xml *n, const char *name);
/* Text of the first child named `name`, or NULL when there is none. */
const char *astra__xml_child_text(const astra__xml *n, const char *name);
/* Follows child names separated by '/', e.g. "Result/Credentials". */
const astra__xml *astra__xml_path(const astra__xml *n, const char *path);

/* Appends s with &, <, >, " and ' escaped. */
int astra__xml_escape(astra_buf *b, const char *s);

#endif
