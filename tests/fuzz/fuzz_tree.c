/*
 * Snapshot trees: tree JSON to nodes, as backup (the parent snapshot's
 * nodes), restore and check read them: the fast JSON parser, the shape
 * check of astra__tree_load, names and link targets (plain or base64),
 * times, the comparison with a stat, extents and lookups by name.
 *   first byte even: the rest is the tree blob's plaintext;
 *   first byte odd: the harness stores the rest as a tree blob with the
 *     known key (id = keyed BLAKE3 of it, sealed with "id || type") and
 *     decodes it as restore does before parsing.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "fmt/json.h"
#include "fuzz_vault.h"
#include "repo/tree.h"

static void walk_tree(const char *text, size_t n)
{
	astra__json *t = NULL;
	if (astra__json_parse_fast(&t, text, n, "tree") != 0)
		return;
	const astra__json *nodes = astra__json_get(t, "nodes");
	if (astra__json_type_of(nodes) != ASTRA_JSON_ARRAY) {
		astra__json_free(t);
		return;
	}
	struct stat sb;
	memset(&sb, 0, sizeof(sb));
	sb.st_mode = S_IFREG | 0644;
	sb.st_nlink = 1;
	sb.st_size = 5;
	size_t count = 0;
	for (astra__json *nd = astra__json_first(nodes); nd && count < 4096;
	        nd = astra__json_next(nd), count++) {
		char *name = astra__tree_get_name(nd, "name");
		char *target = astra__tree_get_name(nd, "target");
		struct timespec ts;
		(void)astra__tree_get_time(nd, "mtime", &ts);
		(void)astra__tree_get_time(nd, "ctime", &ts);
		const astra__json *ex = NULL;
		if (name) {
			(void)astra__tree_same_node(nd, name, &sb, target,
			        target ? strlen(target) : 0, &ex);
			(void)astra__tree_find(t, name);
		}
		const astra__json *exs = astra__json_get(nd, "extents");
		for (size_t e = 0; e < astra__json_size(exs); e++) {
			const astra__json *ch = astra__json_get(
			        astra__json_at(exs, e), "chunks");
			for (size_t k = 0; k < astra__json_size(ch); k++) {
				astra__id id;
				(void)astra__id_parse(&id,
				        astra__json_string_value(astra__json_at(
				                astra__json_at(ch, k), 0)));
			}
		}
		const char *st = astra__json_str(nd, "subtree");
		astra__id id;
		if (st)
			(void)astra__id_parse(&id, st);
		free(name);
		free(target);
	}
	astra__json_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	if (!(mode & 1)) {
		char *copy = malloc(size + 1);
		memcpy(copy, data, size);
		copy[size] = 0;
		walk_tree(copy, size);
		free(copy);
		return 0;
	}
	astra__repo *r = fuzz_repo();
	astra__idx_entry e = { 0 };
	e.type = ASTRA_BLOB_TREE;
	e.raw = (uint32_t)size;
	if (astra__repo_blob_id(r, data, size, &e.id))
		abort();
	uint8_t aad[ASTRA_ID_LEN + 1];
	memcpy(aad, e.id.b, ASTRA_ID_LEN);
	aad[ASTRA_ID_LEN] = e.type;
	uint8_t *sealed = malloc(size + ASTRA_AEAD_OVERHEAD);
	if (astra__aead_seal_with(
	            r->aead, aad, sizeof(aad), data, size, sealed) != 0)
		abort();
	e.length = (uint32_t)(size + ASTRA_AEAD_OVERHEAD);
	astra_buf out = ASTRA_BUF_INIT;
	if (astra__repo_decode_blob(r, &e, sealed, &out) == 0)
		walk_tree(out.ptr, out.size);
	else
		abort(); /* a blob sealed with the right key must decode */
	astra_buf_dispose(&out);
	free(sealed);
	return 0;
}
