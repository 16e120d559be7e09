/*
 * Snapshot trees: one JSON tree blob per directory, listing its entries in
 * name order (see docs/format.md, "Trees"), and snapshot records.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_TREE_H
#define ASTRA_REPO_TREE_H

#include <sys/stat.h>

#include "fmt/json.h"
#include "repo/repo.h"

/* Names and link targets: "name" when valid UTF-8, else "name_b64". */
int astra__tree_set_name(
        astra__json *node, const char *field, const char *name, size_t len);
/* Decodes into a new NUL-terminated string; NULL on error (message set). */
char *astra__tree_get_name(const astra__json *node, const char *field);

/* Sets type, mode, uid, gid, times, size, inode, dev, nlink from sb. */
int astra__tree_set_stat(astra__json *node, const struct stat *sb);
/* Reads a [seconds, nanoseconds] pair. */
int astra__tree_get_time(
        const astra__json *node, const char *field, struct timespec *ts);

/*
 * Whether `node` (from the parent snapshot) is exactly the node a backup
 * would build now for the entry `name` with metadata sb: the same members
 * in the same order with the same values. Not for directories (their
 * "subtree" is only known once they are walked). A symlink's node must
 * name `target` (tlen bytes); a regular file's node must end with its
 * "extents", returned in *extents for the caller to check.
 *
 * An "xattrs" member is taken as it is, without reading the file's
 * extended attributes: on Linux, setting or removing one changes the
 * file's ctime, which must be equal here.
 */
int astra__tree_same_node(const astra__json *node, const char *name,
        const struct stat *sb, const char *target, size_t tlen,
        const astra__json **extents);

/* Loads and parses a tree blob; checks its shape. */
int astra__tree_load(astra__repo *r, const astra__id *id, astra__json **out);
/* Node of the tree with that name, or NULL. */
const astra__json *astra__tree_find(const astra__json *tree, const char *name);

/* Snapshot records */
int astra__snapshot_save(astra__repo *r, astra__json *rec, char id_out[33]);
/* Resolves a full id or a unique prefix (at least 4 characters). */
int astra__snapshot_load(astra__repo *r, const char *id_or_prefix,
        astra__json **out, char id_out[33]);
/* All records as a JSON array, oldest first. */
int astra__snapshot_list(astra__repo *r, astra__json **out);
int astra__snapshot_delete(astra__repo *r, const char *id);

#endif
