/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fmt/json.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
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

/*
 * A faster parser for large documents of many small objects (snapshot
 * trees): it builds the same cJSON items cJSON_Parse would, with keys
 * from a fixed list shared instead of copied (cJSON_StringIsConst), and
 * integers converted without strtod. It takes a strict subset of JSON:
 * anything else (a \u escape, a fraction or exponent, a control byte in a
 * string, deep nesting, bad syntax) makes it give up, and cJSON parses the
 * document instead, so results and error messages are cJSON's.
 */
#define K(s)                     \
	{                        \
		s, sizeof(s) - 1 \
	}
static const struct {
	const char *s;
	size_t n;
} fast_keys[] = { K("name"), K("type"), K("mode"), K("uid"), K("gid"),
	K("mtime"), K("ctime"), K("size"), K("inode"), K("dev"), K("nlink"),
	K("rdev"), K("xattrs"), K("extents"), K("offset"), K("chunks"),
	K("subtree"), K("target"), K("hardlink"), K("nodes"), K("name_b64"),
	K("target_b64"), K("source_type") };
#undef K

typedef struct {
	const unsigned char *p, *end;
	int depth;
} fast_in;

static cJSON *fast_item(int type)
{
	cJSON *c = cJSON_malloc(sizeof(*c));
	if (c) {
		memset(c, 0, sizeof(*c));
		c->type = type;
	}
	return c;
}

static void fast_ws(fast_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\n' ||
	                                  *in->p == '\r' || *in->p == '\t'))
		in->p++;
}

/* A string at in->p (past the quote): a new cJSON_malloc'd copy, or NULL
 * (give up). *len receives its length. */
static char *fast_string(fast_in *in, size_t *len)
{
	const unsigned char *s = in->p, *q = s;
	size_t esc = 0;
	while (q < in->end && *q != '"') {
		if (*q < 0x20)
			return NULL;
		if (*q == '\\') {
			if (q + 1 >= in->end)
				return NULL;
			q++;
			esc++;
		}
		q++;
	}
	if (q >= in->end)
		return NULL;
	size_t n = (size_t)(q - s) - esc;
	char *out = cJSON_malloc(n + 1);
	if (!out)
		return NULL;
	if (!esc) {
		memcpy(out, s, n);
	} else {
		size_t k = 0;
		for (const unsigned char *c = s; c < q; c++) {
			if (*c != '\\') {
				out[k++] = (char)*c;
				continue;
			}
			switch (*++c) {
			case '"':
			case '\\':
			case '/':
				out[k++] = (char)*c;
				break;
			case 'b':
				out[k++] = '\b';
				break;
			case 'f':
				out[k++] = '\f';
				break;
			case 'n':
				out[k++] = '\n';
				break;
			case 'r':
				out[k++] = '\r';
				break;
			case 't':
				out[k++] = '\t';
				break;
			default: /* \u and the invalid ones: cJSON's */
				cJSON_free(out);
				return NULL;
			}
		}
	}
	out[n] = '\0';
	*len = n;
	in->p = q + 1;
	return out;
}

static cJSON *fast_value(fast_in *in);

/* An integer of at most 15 digits; anything else gives up. */
static cJSON *fast_number(fast_in *in)
{
	const unsigned char *q = in->p;
	int neg = q < in->end && *q == '-';
	q += neg;
	const unsigned char *d = q;
	int64_t v = 0;
	while (q < in->end && *q >= '0' && *q <= '9' && q - d < 16)
		v = v * 10 + (*q++ - '0');
	if (q == d || q - d > 15 || (*d == '0' && q - d > 1) ||
	        (q < in->end && (*q == '.' || *q == 'e' || *q == 'E' ||
	                                (*q >= '0' && *q <= '9'))))
		return NULL;
	cJSON *c = fast_item(cJSON_Number);
	if (!c)
		return NULL;
	double n = neg ? -(double)v : (double)v;
	c->valuedouble = n;
	/* as cJSON does: saturated */
	c->valueint = n >= INT_MAX           ? INT_MAX
	              : n <= (double)INT_MIN ? INT_MIN
	                                     : (int)n;
	in->p = q;
	return c;
}

/* Members or elements up to `close`; NULL gives up. */
static cJSON *fast_container(fast_in *in, int type, unsigned char close)
{
	if (++in->depth > CJSON_NESTING_LIMIT)
		return NULL;
	cJSON *c = fast_item(type), *last = NULL;
	if (!c)
		return NULL;
	in->p++;
	fast_ws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		in->depth--;
		return c;
	}
	for (;;) {
		char *key = NULL;
		int is_const = 0;
		if (type == cJSON_Object) {
			size_t kl = 0;
			if (in->p >= in->end || *in->p != '"')
				goto fail;
			in->p++;
			const unsigned char *ks = in->p;
			/* a key of the list: shared, not copied */
			for (size_t i = 0;
			        i < sizeof(fast_keys) / sizeof(*fast_keys);
			        i++) {
				size_t n = fast_keys[i].n;
				if ((size_t)(in->end - ks) > n &&
				        ks[n] == '"' &&
				        memcmp(ks, fast_keys[i].s, n) == 0) {
					key = (char *)fast_keys[i].s;
					is_const = 1;
					in->p = ks + n + 1;
					break;
				}
			}
			if (!key && !(key = fast_string(in, &kl)))
				goto fail;
			fast_ws(in);
			if (in->p >= in->end || *in->p != ':') {
				if (!is_const)
					cJSON_free(key);
				goto fail;
			}
			in->p++;
			fast_ws(in);
		}
		cJSON *v = fast_value(in);
		if (!v) {
			if (key && !is_const)
				cJSON_free(key);
			goto fail;
		}
		if (key) {
			v->string = key;
			if (is_const)
				v->type |= cJSON_StringIsConst;
		}
		if (last) {
			last->next = v;
			v->prev = last;
		} else {
			c->child = v;
		}
		last = v;
		fast_ws(in);
		if (in->p >= in->end)
			goto fail;
		if (*in->p == ',') {
			in->p++;
			fast_ws(in);
			continue;
		}
		if (*in->p != close)
			goto fail;
		in->p++;
		break;
	}
	/* as cJSON keeps it: the first child's prev is the last one */
	c->child->prev = last;
	in->depth--;
	return c;
fail:
	if (last)
		c->child->prev = last;
	cJSON_Delete(c);
	return NULL;
}

static cJSON *fast_value(fast_in *in)
{
	if (in->p >= in->end)
		return NULL;
	size_t left = (size_t)(in->end - in->p), n = 0;
	cJSON *c;
	switch (*in->p) {
	case '{':
		return fast_container(in, cJSON_Object, '}');
	case '[':
		return fast_container(in, cJSON_Array, ']');
	case '"':
		in->p++;
		if (!(c = fast_item(cJSON_String)))
			return NULL;
		if (!(c->valuestring = fast_string(in, &n))) {
			cJSON_Delete(c);
			return NULL;
		}
		return c;
	case 't':
		if (left < 4 || memcmp(in->p, "true", 4) != 0)
			return NULL;
		in->p += 4;
		if ((c = fast_item(cJSON_True)))
			c->valueint = 1;
		return c;
	case 'f':
		if (left < 5 || memcmp(in->p, "false", 5) != 0)
			return NULL;
		in->p += 5;
		return fast_item(cJSON_False);
	case 'n':
		if (left < 4 || memcmp(in->p, "null", 4) != 0)
			return NULL;
		in->p += 4;
		return fast_item(cJSON_NULL);
	default:
		return fast_number(in);
	}
}

int astra__json_parse_fast(
        astra__json **out, const char *text, size_t len, const char *what)
{
	*out = NULL;
	if (text && len) {
		fast_in in = { (const unsigned char *)text,
			(const unsigned char *)text + len, 0 };
		fast_ws(&in);
		cJSON *c = in.p < in.end && (*in.p == '{' || *in.p == '[')
		                   ? fast_value(&in)
		                   : NULL;
		while (c && in.p < in.end &&
		        (*in.p == ' ' || *in.p == '\n' || *in.p == '\r' ||
		                *in.p == '\t' || *in.p == '\0'))
			in.p++;
		if (c && in.p == in.end) {
			*out = J(c);
			return 0;
		}
		cJSON_Delete(c);
	}
	return astra__json_parse(out, text, len, what);
}

int astra__json_print(char **out, const astra__json *j, int pretty)
{
	*out = pretty ? cJSON_Print(C(j)) : cJSON_PrintUnformatted(C(j));
	return *out ? 0 : astra__err_oom();
}

/*
 * Compact printing as cJSON_PrintUnformatted does it, byte for byte (tree
 * ids are hashes of these bytes), without its sprintf and sscanf round
 * trip for integers. 1: an item it leaves to cJSON (raw JSON).
 */
static int put_int(astra_buf *out, long long v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p = e;
	unsigned long long u =
	        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return astra__buf_put(out, p, (size_t)(e - p));
}

static int put_number(astra_buf *out, const cJSON *c)
{
	double d = c->valuedouble;
	if (isnan(d) || isinf(d))
		return astra__buf_put(out, "null", 4);
	/* "%1.15g" of an integer below 10^15 is its digits (but -0) */
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d &&
	        !(d == 0 && signbit(d)))
		return put_int(out, (long long)d);
	char num[32];
	double test = 0;
	snprintf(num, sizeof(num), "%1.15g", d);
	int back = sscanf(num, "%lg", &test) == 1;
	/* (cJSON's compare_double, without libm) */
	double diff = test > d ? test - d : d - test;
	double big = test < 0 ? -test : test, ad = d < 0 ? -d : d;
	if (ad > big)
		big = ad;
	if (!back || !(diff <= big * DBL_EPSILON))
		snprintf(num, sizeof(num), "%1.17g", d);
	/* cJSON writes the decimal point as '.' whatever the locale */
	char dp = localeconv()->decimal_point[0];
	for (char *q = num; *q; q++)
		if (*q == dp)
			*q = '.';
	return astra__buf_puts(out, num);
}

static int put_string(astra_buf *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	int rc = astra__buf_putc(out, '"');
	while (!rc && *s) {
		const unsigned char *run = s;
		while (*s >= 32 && *s != '"' && *s != '\\')
			s++;
		if (s > run)
			rc = astra__buf_put(out, run, (size_t)(s - run));
		if (rc || !*s)
			break;
		char esc[8] = { '\\', 0 };
		size_t n = 2;
		switch (*s) {
		case '"':
		case '\\':
			esc[1] = (char)*s;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			n = 6;
		}
		rc = astra__buf_put(out, esc, n);
		s++;
	}
	return rc ? rc : astra__buf_putc(out, '"');
}

static int put_value(astra_buf *out, const cJSON *c)
{
	int rc = 0;
	switch (c->type & 0xFF) {
	case cJSON_NULL:
		return astra__buf_put(out, "null", 4);
	case cJSON_False:
		return astra__buf_put(out, "false", 5);
	case cJSON_True:
		return astra__buf_put(out, "true", 4);
	case cJSON_Number:
		return put_number(out, c);
	case cJSON_String:
		return put_string(out, c->valuestring);
	case cJSON_Array:
	case cJSON_Object: {
		int obj = (c->type & 0xFF) == cJSON_Object;
		rc = astra__buf_putc(out, obj ? '{' : '[');
		for (const cJSON *e = c->child; e && !rc; e = e->next) {
			if (e != c->child)
				rc = astra__buf_putc(out, ',');
			if (!rc && obj) {
				rc = put_string(out, e->string);
				if (!rc)
					rc = astra__buf_putc(out, ':');
			}
			if (!rc)
				rc = put_value(out, e);
		}
		return rc ? rc : astra__buf_putc(out, obj ? '}' : ']');
	}
	default:
		return 1;
	}
}

int astra__json_print_buf(astra_buf *out, const astra__json *j, int pretty)
{
	if (!pretty && j) {
		size_t at = out->size;
		int rc = put_value(out, C(j));
		if (rc <= 0)
			return rc;
		out->size = at; /* raw JSON: cJSON's */
		if (out->ptr)
			out->ptr[at] = '\0';
	}
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
