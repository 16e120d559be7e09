/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fmt/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

#define C(j) ((cJSON *)(j))
#define J(c) ((astra__json *)(c))

/* Deeply nested input is refused (cJSON also limits nesting to 1000). */
int astra__json_parse(
        astra__json **out, const char *text, size_t len, const char *what)
{
	*out = NULL;
	if (!text || len == 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_JSON,
		        "%s: empty JSON document", what ? what : "input");
	const char *end = NULL;
	cJSON *c = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!c) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		if (off > len)
			off = len;
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_JSON,
		        "%s: malformed JSON at byte %zu of %zu",
		        what ? what : "input", off, len);
	}
	/* trailing garbage other than whitespace is an error */
	if (end) {
		while ((size_t)(end - text) < len &&
		        (*end == ' ' || *end == '\n' || *end == '\r' ||
		                *end == '\t' || *end == '\0'))
			end++;
		if ((size_t)(end - text) < len) {
			size_t off = (size_t)(end - text);
			cJSON_Delete(c);
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_JSON,
			        "%s: unexpected data after JSON at byte %zu",
			        what ? what : "input", off);
		}
	}
	*out = J(c);
	return 0;
}

int astra__json_print(char **out, const astra__json *j, int pretty)
{
	*out = pretty ? cJSON_Print(C(j)) : cJSON_PrintUnformatted(C(j));
	return *out ? 0 : astra__err_oom();
}

int astra__json_print_buf(astra_buf *out, const astra__json *j, int pretty)
{
	char *s;
	int rc = astra__json_print(&s, j, pretty);
	if (rc)
		return rc;
	rc = astra__buf_puts(out, s);
	cJSON_free(s);
	return rc;
}

void astra__json_free(astra__json *j)
{
	cJSON_Delete(C(j));
}

astra__json *astra__json_dup(const astra__json *j)
{
	cJSON *c = cJSON_Duplicate(C(j), 1);
	if (!c)
		astra__err_oom();
	return J(c);
}

int astra__json_equal(const astra__json *a, const astra__json *b)
{
	return cJSON_Compare(C(a), C(b), 1) ? 1 : 0;
}

astra__json_type astra__json_type_of(const astra__json *j)
{
	const cJSON *c = C(j);
	if (!c)
		return ASTRA_JSON_INVALID;
	if (cJSON_IsNull(c))
		return ASTRA_JSON_NULL;
	if (cJSON_IsBool(c))
		return ASTRA_JSON_BOOL;
	if (cJSON_IsNumber(c))
		return ASTRA_JSON_NUMBER;
	if (cJSON_IsString(c))
		return ASTRA_JSON_STRING;
	if (cJSON_IsArray(c))
		return ASTRA_JSON_ARRAY;
	if (cJSON_IsObject(c))
		return ASTRA_JSON_OBJECT;
	return ASTRA_JSON_INVALID;
}

astra__json *astra__json_get(const astra__json *obj, const char *key)
{
	if (!obj || !cJSON_IsObject(C(obj)))
		return NULL;
	return J(cJSON_GetObjectItemCaseSensitive(C(obj), key));
}

astra__json *astra__json_path(const astra__json *obj, const char *path)
{
	char part[256];
	const astra__json *cur = obj;
	while (cur && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		cur = astra__json_get(cur, part);
		path += n + (dot ? 1 : 0);
	}
	return (astra__json *)cur;
}

const char *astra__json_str(const astra__json *obj, const char *key)
{
	return astra__json_string_value(astra__json_get(obj, key));
}

const char *astra__json_string_value(const astra__json *j)
{
	return j && cJSON_IsString(C(j)) ? C(j)->valuestring : NULL;
}

double astra__json_number_value(const astra__json *j)
{
	return j && cJSON_IsNumber(C(j)) ? C(j)->valuedouble : 0;
}

int64_t astra__json_int(const astra__json *obj, const char *key, int64_t def)
{
	const cJSON *c = C(astra__json_get(obj, key));
	if (!c || !cJSON_IsNumber(c) || !isfinite(c->valuedouble))
		return def;
	double d = c->valuedouble;
	if (d >= 9.2e18 || d <= -9.2e18)
		return def;
	return (int64_t)d;
}

double astra__json_num(const astra__json *obj, const char *key, double def)
{
	const cJSON *c = C(astra__json_get(obj, key));
	return c && cJSON_IsNumber(c) ? c->valuedouble : def;
}

int astra__json_bool(const astra__json *obj, const char *key, int def)
{
	const cJSON *c = C(astra__json_get(obj, key));
	if (!c || !cJSON_IsBool(c))
		return def;
	return cJSON_IsTrue(c);
}

size_t astra__json_size(const astra__json *j)
{
	if (!j || !(cJSON_IsArray(C(j)) || cJSON_IsObject(C(j))))
		return 0;
	return (size_t)cJSON_GetArraySize(C(j));
}

astra__json *astra__json_at(const astra__json *j, size_t i)
{
	if (!j || i > (size_t)INT32_MAX)
		return NULL;
	return J(cJSON_GetArrayItem(C(j), (int)i));
}

const char *astra__json_key(const astra__json *member)
{
	return member ? C(member)->string : NULL;
}

astra__json *astra__json_first(const astra__json *j)
{
	if (!j || !(cJSON_IsArray(C(j)) || cJSON_IsObject(C(j))))
		return NULL;
	return J(C(j)->child);
}

astra__json *astra__json_next(const astra__json *item)
{
	return item ? J(C(item)->next) : NULL;
}

static astra__json *chk(cJSON *c)
{
	if (!c)
		astra__err_oom();
	return J(c);
}

astra__json *astra__json_new_object(void)
{
	return chk(cJSON_CreateObject());
}

astra__json *astra__json_new_array(void)
{
	return chk(cJSON_CreateArray());
}

astra__json *astra__json_new_string(const char *s)
{
	return chk(cJSON_CreateString(s ? s : ""));
}

astra__json *astra__json_new_number(double v)
{
	return chk(cJSON_CreateNumber(v));
}

astra__json *astra__json_new_bool(int v)
{
	return chk(cJSON_CreateBool(v ? 1 : 0));
}

astra__json *astra__json_new_null(void)
{
	return chk(cJSON_CreateNull());
}

int astra__json_set(astra__json *obj, const char *key, astra__json *v)
{
	if (!v)
		return ASTRA_ENOMEM;
	if (!obj || !cJSON_IsObject(C(obj))) {
		cJSON_Delete(C(v));
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_JSON,
		        "cannot set \"%s\": not a JSON object", key);
	}
	if (cJSON_HasObjectItem(C(obj), key)) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(
		            C(obj), key, C(v))) {
			cJSON_Delete(C(v));
			return astra__err_oom();
		}
		return 0;
	}
	if (!cJSON_AddItemToObject(C(obj), key, C(v))) {
		cJSON_Delete(C(v));
		return astra__err_oom();
	}
	return 0;
}

int astra__json_set_str(astra__json *obj, const char *key, const char *s)
{
	return astra__json_set(obj, key, astra__json_new_string(s));
}

int astra__json_set_int(astra__json *obj, const char *key, int64_t v)
{
	return astra__json_set(obj, key, astra__json_new_number((double)v));
}

int astra__json_set_bool(astra__json *obj, const char *key, int v)
{
	return astra__json_set(obj, key, astra__json_new_bool(v));
}

void astra__json_del(astra__json *obj, const char *key)
{
	if (obj)
		cJSON_DeleteItemFromObjectCaseSensitive(C(obj), key);
}

astra__json *astra__json_take(astra__json *obj, const char *key)
{
	if (!obj)
		return NULL;
	return J(cJSON_DetachItemFromObjectCaseSensitive(C(obj), key));
}

int astra__json_push(astra__json *arr, astra__json *v)
{
	if (!v)
		return ASTRA_ENOMEM;
	if (!arr || !cJSON_IsArray(C(arr))) {
		cJSON_Delete(C(v));
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_JSON,
		        "cannot append: not a JSON array");
	}
	if (!cJSON_AddItemToArray(C(arr), C(v))) {
		cJSON_Delete(C(v));
		return astra__err_oom();
	}
	return 0;
}
