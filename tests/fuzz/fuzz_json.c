/* JSON documents from the store (records, trees, markers) and servers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fmt/json.h"
#include "repo/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__json *j = NULL;
	if (astra__json_parse(&j, (const char *)data, size, "fuzz") == 0) {
		/* exercise the accessors trees and records use */
		const astra__json *nodes = astra__json_get(j, "nodes");
		for (size_t i = 0; i < astra__json_size(nodes); i++) {
			const astra__json *n = astra__json_at(nodes, i);
			char *name = astra__tree_get_name(n, "name");
			free(name);
			struct timespec ts;
			(void)astra__tree_get_time(n, "mtime", &ts);
			(void)astra__json_int(n, "size", 0);
		}
		(void)astra__tree_find(j, "a");
		char *out = NULL;
		if (astra__json_print(&out, j, 0) == 0)
			free(out);
		astra__json_free(j);
	}
	return 0;
}
