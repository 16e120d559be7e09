#include <stdint.h>
#include <stdio.h>

#include "astra_test.h"
#include "core/map.h"

Test(core_map, set_get_replace_delete)
{
	astra__map m = ASTRA_MAP_INIT;
	void *old = (void *)1;
	cr_assert_null(astra__map_get(&m, "missing"));
	cr_assert_astra_ok(astra__map_set(&m, "a", (void *)10, &old));
	cr_assert_null(old);
	cr_assert_astra_ok(astra__map_set(&m, "a", (void *)11, &old));
	cr_assert_eq((intptr_t)old, 10);
	cr_assert_eq((intptr_t)astra__map_get(&m, "a"), 11);
	cr_assert_eq(m.n, 1);
	cr_assert_eq((intptr_t)astra__map_del(&m, "a"), 11);
	cr_assert_eq(m.n, 0);
	cr_assert(!astra__map_has(&m, "a"));
	astra__map_free(&m);
}

Test(core_map, many_keys_with_deletes_and_iteration)
{
	astra__map m = ASTRA_MAP_INIT;
	char k[32];
	for (intptr_t i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "key-%ld", (long)i);
		cr_assert_astra_ok(
		        astra__map_set(&m, k, (void *)(i + 1), NULL));
	}
	for (intptr_t i = 0; i < 20000; i += 2) {
		snprintf(k, sizeof(k), "key-%ld", (long)i);
		cr_assert_eq((intptr_t)astra__map_del(&m, k), i + 1);
	}
	cr_assert_eq(m.n, 10000);
	for (intptr_t i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "key-%ld", (long)i);
		void *v = astra__map_get(&m, k);
		if (i % 2)
			cr_assert_eq((intptr_t)v, i + 1);
		else
			cr_assert_null(v);
	}
	size_t pos = 0, count = 0;
	const char *key;
	void *val;
	while (astra__map_next(&m, &pos, &key, &val))
		count++;
	cr_assert_eq(count, 10000);
	astra__map_free(&m);
}
