/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fmt/jsondec.h"

#include <stdio.h>

#include "core/alloc.h"
#include "core/error.h"

int astra__jdec_bad(const astra__jdec *d, const char *key, const char *problem)
{
	return astra__err(ASTRA_ECORRUPT, d->klass, "%s %s: %s %s%s %s",
	        d->kind, d->what, d->field, d->prefix, key, problem);
}

int astra__jdec_member(const astra__jdec *d, const astra__json *obj,
        const char *key, astra__json_type t, int required,
        const astra__json **out)
{
	static const char *const names[] = { "", "null", "a boolean",
		"a number", "a string", "an array", "an object" };
	const astra__json *m = astra__json_get(obj, key);
	*out = NULL;
	if (!m)
		return required ? astra__jdec_bad(d, key, "is missing") : 0;
	if (astra__json_type_of(m) != t) {
		char problem[32];
		snprintf(problem, sizeof(problem), "is not %s", names[t]);
		return astra__jdec_bad(d, key, problem);
	}
	*out = m;
	return 0;
}

int astra__jdec_str(const astra__jdec *d, const astra__json *obj,
        const char *key, int required, char **out)
{
	const astra__json *m;
	int rc = astra__jdec_member(
	        d, obj, key, ASTRA_JSON_STRING, required, &m);
	if (rc || !m)
		return rc;
	*out = astra__strdup(astra__json_string_value(m));
	return *out ? 0 : astra__err_oom();
}

int astra__jdec_int(const astra__jdec *d, const astra__json *obj,
        const char *key, int64_t *out, int *present)
{
	const astra__json *m;
	int rc = astra__jdec_member(d, obj, key, ASTRA_JSON_NUMBER, 0, &m);
	if (present)
		*present = !rc && m != NULL;
	if (rc || !m)
		return rc;
	double v = astra__json_number_value(m);
	/* the range of int64_t, exactly representable bounds */
	if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
		return astra__jdec_bad(d, key, "is out of range");
	*out = (int64_t)v;
	return 0;
}

int astra__jdec_bool(
        const astra__jdec *d, const astra__json *obj, const char *key, int *out)
{
	const astra__json *m;
	int rc = astra__jdec_member(d, obj, key, ASTRA_JSON_BOOL, 0, &m);
	if (!rc && m)
		*out = astra__json_bool(obj, key, 0);
	return rc;
}

int astra__jdec_tree(const astra__jdec *d, const astra__json *obj,
        const char *key, astra__json_type t, astra__json **out)
{
	const astra__json *m;
	int rc = astra__jdec_member(d, obj, key, t, 0, &m);
	if (rc || !m)
		return rc;
	*out = astra__json_dup(m);
	return *out ? 0 : ASTRA_ENOMEM;
}

int astra__jenc_str(astra__json *obj, const char *key, const char *s)
{
	return s ? astra__json_set_str(obj, key, s) : 0;
}

int astra__jenc_dup(astra__json *obj, const char *key, const astra__json *v)
{
	return v ? astra__json_set(obj, key, astra__json_dup(v)) : 0;
}

int astra__jenc_array(astra__json *obj, const char *key, const void *elems,
        size_t n, size_t size, int (*enc)(const void *elem, astra__json **out))
{
	astra__json *arr = astra__json_new_array();
	int rc = arr ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		astra__json *e = NULL;
		if (!(rc = enc((const char *)elems + i * size, &e)))
			rc = astra__json_push(arr, e);
	}
	if (rc) {
		astra__json_free(arr);
		return rc;
	}
	return astra__json_set(obj, key, arr);
}
