/*
 * Snapshot records (sealed JSON, snapshots/<32 hex>): opened and parsed
 * as listing does (astra__repo_get_json's steps), then the fields that
 * listing, check, gc and restore take from them.
 *   first byte even: the rest is sealed as it is with the known key and
 *     the object key as additional data (the parser sees any plaintext);
 *   first byte odd: the rest is taken as the stored object (sealed bytes;
 *     authentication must refuse it cleanly).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "fmt/json.h"
#include "fuzz_vault.h"

static void use_record(const astra__json *rec)
{
	const char *id = astra__json_str(rec, "id");
	const char *tree = astra__json_str(rec, "tree");
	const char *parent = astra__json_str(rec, "parent");
	astra__id t;
	if (tree)
		(void)astra__id_parse(&t, tree);
	if (parent)
		(void)astra__id_parse(&t, parent);
	(void)id;
	(void)astra__json_str(rec, "time_ns");
	(void)astra__json_str(rec, "time");
	const astra__json *st = astra__json_get(rec, "stats");
	(void)astra__json_int(st, "files", 0);
	(void)astra__json_int(st, "bytes", 0);
	(void)astra__json_int(st, "errors", 0);
	const astra__json *tags = astra__json_get(rec, "tags");
	for (astra__json *x = astra__json_first(tags); x;
	        x = astra__json_next(x))
		(void)astra__json_string_value(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char key[] = "snapshots/00112233445566778899aabbccddeeff";
	if (size < 1)
		return 0;
	astra__repo *r = fuzz_repo();
	uint8_t mode = data[0];
	data++;
	size--;
	astra_buf sealed = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
	if (!(mode & 1)) {
		if (astra__repo_seal(r, key, data, size, &sealed))
			abort();
	} else if (astra__buf_put(&sealed, data, size)) {
		abort();
	}
	uint8_t *p = malloc(sealed.size ? sealed.size : 1);
	memcpy(p, sealed.ptr, sealed.size);
	astra__json *rec = NULL;
	int rc = astra__repo_open_sealed(r, key, p, sealed.size, &plain, key);
	if (!(mode & 1) && rc)
		abort(); /* sealed with the right key */
	if (!rc && astra__json_parse(&rec, plain.ptr, plain.size, key) == 0)
		use_record(rec);
	astra__json_free(rec);
	free(p);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	return 0;
}
