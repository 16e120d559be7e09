/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "out.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef enum { V_OBJ, V_ARR, V_STR, V_INT, V_U64, V_NUM, V_BOOL, V_NULL } vkind;

struct out_val {
	vkind kind;
	char *key; /* when a member of an object */
	char *s;
	int64_t i;
	uint64_t u;
	double d;
	out_val **items;
	size_t n, cap;
};

static void *xcalloc(size_t n, size_t s)
{
	void *p = calloc(n, s);
	if (!p) {
		fputs("astractl: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p) {
		fputs("astractl: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static out_val *mk(vkind k)
{
	out_val *v = xcalloc(1, sizeof(*v));
	v->kind = k;
	return v;
}

out_val *out_obj(void)
{
	return mk(V_OBJ);
}

out_val *out_arr(void)
{
	return mk(V_ARR);
}

static void add(out_val *parent, out_val *child)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->items = realloc(
		        parent->items, parent->cap * sizeof(*parent->items));
		if (!parent->items) {
			fputs("astractl: out of memory\n", stderr);
			exit(1);
		}
	}
	parent->items[parent->n++] = child;
}

void out_set(out_val *obj, const char *key, out_val *child)
{
	child->key = xstrdup(key);
	add(obj, child);
}

void out_set_str(out_val *obj, const char *key, const char *s)
{
	out_val *v = mk(V_STR);
	v->s = xstrdup(s);
	out_set(obj, key, v);
}

void out_set_int(out_val *obj, const char *key, int64_t i)
{
	out_val *v = mk(V_INT);
	v->i = i;
	out_set(obj, key, v);
}

void out_set_u64(out_val *obj, const char *key, uint64_t u)
{
	out_val *v = mk(V_U64);
	v->u = u;
	out_set(obj, key, v);
}

void out_set_num(out_val *obj, const char *key, double d)
{
	out_val *v = mk(V_NUM);
	v->d = d;
	out_set(obj, key, v);
}

void out_set_bool(out_val *obj, const char *key, int b)
{
	out_val *v = mk(V_BOOL);
	v->i = b != 0;
	out_set(obj, key, v);
}

out_val *out_null(void)
{
	return mk(V_NULL);
}

out_val *out_scalar_str(const char *s)
{
	out_val *v = mk(V_STR);
	v->s = xstrdup(s);
	return v;
}

out_val *out_scalar_num(double d, int integral)
{
	out_val *v = mk(integral ? V_INT : V_NUM);
	v->i = (int64_t)d;
	v->d = d;
	return v;
}

out_val *out_scalar_bool(int b)
{
	out_val *v = mk(V_BOOL);
	v->i = b != 0;
	return v;
}

void out_push(out_val *arr, out_val *child)
{
	add(arr, child);
}

void out_free(out_val *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		out_free(v->items[i]);
	free(v->items);
	free(v->key);
	free(v->s);
	free(v);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void scalar(FILE *f, const out_val *v, int json)
{
	switch (v->kind) {
	case V_STR:
		if (json)
			json_str(f, v->s);
		else
			fputs(v->s, f);
		break;
	case V_INT:
		fprintf(f, "%" PRId64, v->i);
		break;
	case V_U64:
		fprintf(f, "%" PRIu64, v->u);
		break;
	case V_NUM:
		fprintf(f, "%.6g", v->d);
		break;
	case V_BOOL:
		fputs(v->i ? "true" : "false", f);
		break;
	case V_NULL:
		fputs(json ? "null" : "~", f);
		break;
	default:
		break;
	}
}

static void indent(FILE *f, int n)
{
	for (int i = 0; i < n; i++)
		fputs("  ", f);
}

static void print_json(FILE *f, const out_val *v, int depth)
{
	if (v->kind != V_OBJ && v->kind != V_ARR) {
		scalar(f, v, 1);
		return;
	}
	int obj = v->kind == V_OBJ;
	if (v->n == 0) {
		fputs(obj ? "{}" : "[]", f);
		return;
	}
	fputs(obj ? "{\n" : "[\n", f);
	for (size_t i = 0; i < v->n; i++) {
		indent(f, depth + 1);
		if (obj) {
			json_str(f, v->items[i]->key);
			fputs(": ", f);
		}
		print_json(f, v->items[i], depth + 1);
		fputs(i + 1 < v->n ? ",\n" : "\n", f);
	}
	indent(f, depth);
	fputs(obj ? "}" : "]", f);
}

static int yaml_plain(const char *s)
{
	if (!*s)
		return 0;
	static const char *special[] = { "true", "false", "null", "yes", "no",
		"on", "off", "~" };
	for (size_t i = 0; i < sizeof(special) / sizeof(*special); i++)
		if (strcasecmp(s, special[i]) == 0)
			return 0;
	if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) ||
	        isdigit((unsigned char)s[0]))
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ':' || *p == '#')
			return 0;
	return s[strlen(s) - 1] != ' ';
}

static void yaml_scalar(FILE *f, const out_val *v)
{
	if (v->kind == V_STR && !yaml_plain(v->s))
		json_str(f, v->s);
	else
		scalar(f, v, 0);
}

static void print_yaml(FILE *f, const out_val *v, int depth, int inline_first)
{
	int first = 1;
	for (size_t i = 0; i < v->n; i++) {
		const out_val *c = v->items[i];
		if (!(first && inline_first))
			indent(f, depth);
		first = 0;
		if (v->kind == V_OBJ)
			fprintf(f, "%s:", c->key);
		else
			fputs("-", f);
		if (c->kind == V_OBJ || c->kind == V_ARR) {
			if (c->n == 0) {
				fputs(c->kind == V_OBJ ? " {}\n" : " []\n", f);
			} else if (v->kind == V_ARR && c->kind == V_OBJ) {
				fputs(" ", f);
				print_yaml(f, c, depth + 1, 1);
			} else {
				fputs("\n", f);
				print_yaml(f, c, depth + 1, 0);
			}
		} else {
			fputs(" ", f);
			yaml_scalar(f, c);
			fputs("\n", f);
		}
	}
}

static char *cell(const out_val *v)
{
	char buf[64];
	switch (v->kind) {
	case V_STR:
		return xstrdup(v->s);
	case V_INT:
		snprintf(buf, sizeof(buf), "%" PRId64, v->i);
		break;
	case V_U64:
		snprintf(buf, sizeof(buf), "%" PRIu64, v->u);
		break;
	case V_NUM:
		snprintf(buf, sizeof(buf), "%.6g", v->d);
		break;
	case V_BOOL:
		snprintf(buf, sizeof(buf), "%s", v->i ? "true" : "false");
		break;
	case V_NULL:
		snprintf(buf, sizeof(buf), "-");
		break;
	case V_OBJ:
	case V_ARR:
		snprintf(buf, sizeof(buf), "(%zu)", v->n);
		break;
	}
	return xstrdup(buf);
}

static void print_table(FILE *f, const out_val *v)
{
	if (v->kind == V_OBJ) {
		size_t w = 0;
		for (size_t i = 0; i < v->n; i++)
			if (strlen(v->items[i]->key) > w)
				w = strlen(v->items[i]->key);
		for (size_t i = 0; i < v->n; i++) {
			char *c = cell(v->items[i]);
			fprintf(f, "%-*s  %s\n", (int)w, v->items[i]->key, c);
			free(c);
		}
		return;
	}
	if (v->kind != V_ARR) {
		char *c = cell(v);
		fprintf(f, "%s\n", c);
		free(c);
		return;
	}
	if (v->n == 0 || v->items[0]->kind != V_OBJ) {
		for (size_t i = 0; i < v->n; i++) {
			char *c = cell(v->items[i]);
			fprintf(f, "%s\n", c);
			free(c);
		}
		return;
	}
	const out_val *head = v->items[0];
	size_t cols = head->n;
	size_t *w = xcalloc(cols, sizeof(size_t));
	for (size_t c = 0; c < cols; c++)
		w[c] = strlen(head->items[c]->key);
	for (size_t r = 0; r < v->n; r++)
		for (size_t c = 0; c < cols && c < v->items[r]->n; c++) {
			char *s = cell(v->items[r]->items[c]);
			if (strlen(s) > w[c])
				w[c] = strlen(s);
			free(s);
		}
	for (size_t c = 0; c < cols; c++) {
		for (const char *k = head->items[c]->key; *k; k++)
			fputc(*k == '_' ? ' ' : toupper((unsigned char)*k), f);
		if (c + 1 < cols)
			fprintf(f, "%*s",
			        (int)(w[c] - strlen(head->items[c]->key) + 3),
			        "");
	}
	fputc('\n', f);
	for (size_t r = 0; r < v->n; r++) {
		for (size_t c = 0; c < cols && c < v->items[r]->n; c++) {
			char *s = cell(v->items[r]->items[c]);
			if (c + 1 < cols)
				fprintf(f, "%-*s   ", (int)w[c], s);
			else
				fputs(s, f);
			free(s);
		}
		fputc('\n', f);
	}
	free(w);
}

void out_print(FILE *f, const out_val *v, out_format fmt)
{
	switch (fmt) {
	case OUT_JSON:
		print_json(f, v, 0);
		fputc('\n', f);
		break;
	case OUT_YAML:
		if (v->kind == V_OBJ || v->kind == V_ARR) {
			if (v->n == 0)
				fputs(v->kind == V_OBJ ? "{}\n" : "[]\n", f);
			else
				print_yaml(f, v, 0, 0);
		} else {
			yaml_scalar(f, v);
			fputc('\n', f);
		}
		break;
	default:
		print_table(f, v);
	}
}

size_t out_len(const out_val *v)
{
	return v && (v->kind == V_OBJ || v->kind == V_ARR) ? v->n : 0;
}

const out_val *out_at(const out_val *v, size_t i)
{
	return v && i < out_len(v) ? v->items[i] : NULL;
}

const out_val *out_get(const out_val *obj, const char *key)
{
	if (!obj || obj->kind != V_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->items[i]->key && !strcmp(obj->items[i]->key, key))
			return obj->items[i];
	return NULL;
}

const char *out_key(const out_val *m)
{
	return m && m->key ? m->key : "";
}

const char *out_str(const out_val *v)
{
	return v && v->kind == V_STR ? v->s : "";
}

int out_bool(const out_val *v)
{
	return v && v->kind == V_BOOL && v->i;
}

double out_num(const out_val *v)
{
	if (!v)
		return 0;
	if (v->kind == V_INT)
		return (double)v->i;
	if (v->kind == V_U64)
		return (double)v->u;
	if (v->kind == V_NUM)
		return v->d;
	return 0;
}
