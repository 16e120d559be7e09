/*
 * A small JSON reader so that astractl can print the library's JSON
 * results as tables, YAML or JSON alike. Rejects malformed input.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

typedef struct {
	const char *p;
	int depth;
} rd;

static void ws(rd *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')
		r->p++;
}

static out_val *value(rd *r);

static char *string(rd *r)
{
	if (*r->p != '"')
		return NULL;
	r->p++;
	size_t cap = 64, n = 0;
	char *s = malloc(cap);
	while (s && *r->p && *r->p != '"') {
		char c = *r->p++;
		char buf[4];
		size_t k = 1;
		buf[0] = c;
		if (c == '\\') {
			char e = *r->p++;
			switch (e) {
			case 'n':
				buf[0] = '\n';
				break;
			case 't':
				buf[0] = '\t';
				break;
			case 'r':
				buf[0] = '\r';
				break;
			case 'b':
				buf[0] = '\b';
				break;
			case 'f':
				buf[0] = '\f';
				break;
			case '/':
			case '\\':
			case '"':
				buf[0] = e;
				break;
			case 'u': {
				unsigned cp = 0;
				for (int i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)*r->p)) {
						free(s);
						return NULL;
					}
					char h = *r->p++;
					cp = cp * 16 +
					     (unsigned)(isdigit((
					                        unsigned char)h)
					                        ? h - '0'
					                        : (tolower(h) -
					                                  'a' +
					                                  10));
				}
				if (cp < 0x80) {
					buf[0] = (char)cp;
				} else if (cp < 0x800) {
					buf[0] = (char)(0xc0 | (cp >> 6));
					buf[1] = (char)(0x80 | (cp & 0x3f));
					k = 2;
				} else {
					buf[0] = (char)(0xe0 | (cp >> 12));
					buf[1] = (char)(0x80 |
					                ((cp >> 6) & 0x3f));
					buf[2] = (char)(0x80 | (cp & 0x3f));
					k = 3;
				}
				break;
			}
			default:
				free(s);
				return NULL;
			}
		}
		if (n + k + 1 > cap) {
			cap *= 2;
			char *t = realloc(s, cap);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
		}
		memcpy(s + n, buf, k);
		n += k;
	}
	if (!s || *r->p != '"') {
		free(s);
		return NULL;
	}
	r->p++;
	s[n] = '\0';
	return s;
}

static out_val *value(rd *r)
{
	ws(r);
	if (++r->depth > 200)
		return NULL;
	out_val *v = NULL;
	if (*r->p == '{') {
		r->p++;
		v = out_obj();
		ws(r);
		if (*r->p == '}') {
			r->p++;
			r->depth--;
			return v;
		}
		for (;;) {
			ws(r);
			char *k = string(r);
			ws(r);
			if (!k || *r->p != ':') {
				free(k);
				out_free(v);
				return NULL;
			}
			r->p++;
			out_val *c = value(r);
			if (!c) {
				free(k);
				out_free(v);
				return NULL;
			}
			out_set(v, k, c);
			free(k);
			ws(r);
			if (*r->p == ',') {
				r->p++;
				continue;
			}
			if (*r->p == '}') {
				r->p++;
				break;
			}
			out_free(v);
			return NULL;
		}
	} else if (*r->p == '[') {
		r->p++;
		v = out_arr();
		ws(r);
		if (*r->p == ']') {
			r->p++;
			r->depth--;
			return v;
		}
		for (;;) {
			out_val *c = value(r);
			if (!c) {
				out_free(v);
				return NULL;
			}
			out_push(v, c);
			ws(r);
			if (*r->p == ',') {
				r->p++;
				continue;
			}
			if (*r->p == ']') {
				r->p++;
				break;
			}
			out_free(v);
			return NULL;
		}
	} else if (*r->p == '"') {
		char *s = string(r);
		if (!s)
			return NULL;
		v = out_scalar_str(s);
		free(s);
	} else if (!strncmp(r->p, "true", 4)) {
		r->p += 4;
		v = out_scalar_bool(1);
	} else if (!strncmp(r->p, "false", 5)) {
		r->p += 5;
		v = out_scalar_bool(0);
	} else if (!strncmp(r->p, "null", 4)) {
		r->p += 4;
		v = out_null();
	} else {
		char *end;
		double d = strtod(r->p, &end);
		if (end == r->p)
			return NULL;
		int integral = !memchr(r->p, '.', (size_t)(end - r->p)) &&
		               !memchr(r->p, 'e', (size_t)(end - r->p)) &&
		               !memchr(r->p, 'E', (size_t)(end - r->p));
		r->p = end;
		v = out_scalar_num(d, integral);
	}
	r->depth--;
	return v;
}

out_val *out_parse_json(const char *text)
{
	rd r = { text ? text : "", 0 };
	out_val *v = value(&r);
	ws(&r);
	if (v && *r.p) {
		out_free(v);
		return NULL;
	}
	return v;
}
