/* JSON documents from the store (records, trees, markers) and servers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fmt/json.h"
#include "repo/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* astra__json_parse_fast must agree with astra__json_parse exactly */
static void same_as_cjson(
        const uint8_t *data, size_t size, int rc, const astra__json *j)
{
	astra__json *f = NULL;
	int frc = astra__json_parse_fast(&f, (const char *)data, size, "fuzz");
	if (frc != rc)
		abort();
	if (rc == 0) {
		char *a = NULL, *b = NULL;
		astra_buf c = ASTRA_BUF_INIT;
		if (astra__json_print(&a, j, 0) ||
		        astra__json_print(&b, f, 0) || strcmp(a, b) != 0)
			abort();
		/* and the compact printer writes cJSON's bytes */
		if (astra__json_print_buf(&c, f, 0) || strcmp(c.ptr, a) != 0)
			abort();
		astra_buf_dispose(&c);
		free(a);
		free(b);
	}
	astra__json_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__json *j = NULL;
	int rc = astra__json_parse(&j, (const char *)data, size, "fuzz");
	same_as_cjson(data, size, rc, j);
	if (rc == 0) {
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
