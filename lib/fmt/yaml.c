/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fmt/yaml.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/error.h"
#include "core/map.h"

#define C(j) ((cJSON *)(j))
#define J(c) ((astra__json *)(c))

#define MAX_DEPTH 512
#define MAX_ALIAS_NODES 1000000

typedef struct {
	cJSON *node; /* array or object being filled */
	int is_map;
	char *key; /* pending key of a mapping */
	int key_is_merge;
	size_t key_line;
	astra__map keys; /* keys seen, for duplicate detection */
	cJSON *merges; /* merge sources (objects), applied at the end */
	char *anchor;
	size_t line;
} frame;

typedef struct {
	cJSON *node;
	int complete;
} anchor;

typedef struct {
	const char *what;
	frame stack[MAX_DEPTH];
	int depth;
	cJSON *root;
	int have_root;
	astra__map anchors; /* name -> anchor* */
	cJSON *graveyard; /* merge sources kept alive for anchors */
	size_t alias_nodes;
	astra__map *lines; /* "%p" of a node -> line + 1, or NULL */
} builder;

struct astra__yaml_lines {
	astra__map map;
};

static int note_line(builder *b, const cJSON *node, const yaml_mark_t *m)
{
	if (!b->lines)
		return 0;
	char key[32];
	snprintf(key, sizeof(key), "%p", (const void *)node);
	return astra__map_set(
	        b->lines, key, (void *)(uintptr_t)(m->line + 1), NULL);
}

size_t astra__yaml_line(const astra__yaml_lines *l, const astra__json *node)
{
	if (!l || !node)
		return 0;
	char key[32];
	snprintf(key, sizeof(key), "%p", (const void *)node);
	return (size_t)(uintptr_t)astra__map_get(&l->map, key);
}

void astra__yaml_lines_free(astra__yaml_lines *l)
{
	if (!l)
		return;
	astra__map_free(&l->map);
	free(l);
}

static int perr(builder *b, const yaml_mark_t *m, const char *fmt, ...)
        ASTRA_PRINTF(3, 4);

static int perr(builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return astra__err(ASTRA_EPARSE, ASTRA_ERROR_YAML,
	        "%s: line %zu, column %zu: %s", b->what ? b->what : "YAML",
	        m->line + 1, m->column + 1, msg);
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */
/* ------------------------------------------------------------------ */

static int is_one_of(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes",
	"YES", "on", "On", "ON", NULL };
static const char *const falses[] = { "false", "False", "FALSE", "no", "No",
	"NO", "off", "Off", "OFF", NULL };

static int all_digits(const char *s, const char *set)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

/* 1 and *v when s is an integer in one of the accepted notations. */
static int parse_int(const char *s, double *v)
{
	int neg = 0;
	const char *p = s;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	int base = 10;
	const char *digits = p;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		digits = p + 2;
		if (!all_digits(digits, "0123456789abcdefABCDEF"))
			return 0;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		digits = p + 2;
		if (!all_digits(digits, "01234567"))
			return 0;
	} else if (p[0] == '0' && p[1] == 'b') {
		base = 2;
		digits = p + 2;
		if (!all_digits(digits, "01"))
			return 0;
	} else {
		if (!all_digits(p, "0123456789"))
			return 0;
		/* YAML 1.1 octal, as kubectl reads "mode: 0644" */
		if (p[0] == '0' && p[1] && all_digits(p + 1, "01234567")) {
			base = 8;
			digits = p + 1;
		}
	}
	double d = 0;
	for (const char *q = digits; *q; q++) {
		int x = *q <= '9' ? *q - '0' : (*q | 0x20) - 'a' + 10;
		d = d * base + x;
	}
	*v = neg ? -d : d;
	return 1;
}

static int parse_float(const char *s, double *v)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	int digits = 0;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return 0;
	char *end;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

static int is_special_float(const char *s)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	return !strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") ||
	       !strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN");
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static int make_scalar(builder *b, const yaml_event_t *ev, cJSON **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	const yaml_mark_t *m = &ev->start_mark;
	double d;

	*out = NULL;
	if (memchr(s, '\0', len))
		return perr(
		        b, m, "NUL characters in strings are not supported");
	if (tag && !strcmp(tag, "!"))
		plain = 0; /* non-specific tag: a string */
	if (tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		const char *t = tag + strlen(TAG_PREFIX);
		if (!strcmp(t, "str") || !strcmp(t, "binary") ||
		        !strcmp(t, "timestamp")) {
			*out = cJSON_CreateString(s);
		} else if (!strcmp(t, "null")) {
			*out = cJSON_CreateNull();
		} else if (!strcmp(t, "bool")) {
			if (is_one_of(s, trues))
				*out = cJSON_CreateTrue();
			else if (is_one_of(s, falses))
				*out = cJSON_CreateFalse();
			else
				return perr(
				        b, m, "\"%.40s\" is not a !!bool", s);
		} else if (!strcmp(t, "int")) {
			if (!parse_int(s, &d))
				return perr(
				        b, m, "\"%.40s\" is not an !!int", s);
			*out = cJSON_CreateNumber(d);
		} else if (!strcmp(t, "float")) {
			if (!parse_float(s, &d) && !parse_int(s, &d))
				return perr(
				        b, m, "\"%.40s\" is not a !!float", s);
			*out = cJSON_CreateNumber(d);
		} else {
			return perr(
			        b, m, "unsupported tag !!%.40s on a scalar", t);
		}
		return *out ? 0 : astra__err_oom();
	}
	if (!plain) {
		*out = cJSON_CreateString(s);
	} else if (is_one_of(s, nulls)) {
		*out = cJSON_CreateNull();
	} else if (is_one_of(s, trues)) {
		*out = cJSON_CreateTrue();
	} else if (is_one_of(s, falses)) {
		*out = cJSON_CreateFalse();
	} else if (parse_int(s, &d) || parse_float(s, &d)) {
		*out = cJSON_CreateNumber(d);
	} else if (is_special_float(s)) {
		return perr(b, m,
		        "\"%s\" (infinity or NaN) cannot be represented in "
		        "JSON; quote it to make it a string",
		        s);
	} else {
		*out = cJSON_CreateString(s);
	}
	return *out ? 0 : astra__err_oom();
}

/* ------------------------------------------------------------------ */
/* Tree building                                                       */
/* ------------------------------------------------------------------ */

static size_t count_nodes(const cJSON *c)
{
	size_t n = 1;
	for (const cJSON *k = c->child; k; k = k->next)
		n += count_nodes(k);
	return n;
}

static void anchors_clear(builder *b)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (astra__map_next(&b->anchors, &pos, &k, &v))
		free(v);
	astra__map_free(&b->anchors);
	memset(&b->anchors, 0, sizeof(b->anchors));
}

static int set_anchor(builder *b, const char *name, cJSON *node, int complete)
{
	anchor *a = astra__malloc(sizeof(*a));
	ASTRA_CHECK_ALLOC(a);
	a->node = node;
	a->complete = complete;
	void *old = NULL;
	if (astra__map_set(&b->anchors, name, a, &old)) {
		free(a);
		return ASTRA_ENOMEM;
	}
	free(old); /* YAML allows redefining an anchor */
	return 0;
}

static void frame_free(frame *f)
{
	free(f->key);
	f->key = NULL;
	astra__map_free(&f->keys);
	cJSON_Delete(f->merges);
	f->merges = NULL;
	free(f->anchor);
	f->anchor = NULL;
}

/* Adds a finished node to the current container or makes it the root. */
static int attach(builder *b, cJSON *node, const yaml_mark_t *m)
{
	if (b->depth == 0) {
		b->root = node;
		b->have_root = 1;
		return 0;
	}
	frame *f = &b->stack[b->depth - 1];
	if (!f->is_map) {
		cJSON_AddItemToArray(f->node, node);
		return 0;
	}
	if (f->key_is_merge) {
		f->key_is_merge = 0;
		if (!f->merges && !(f->merges = cJSON_CreateArray())) {
			cJSON_Delete(node);
			return astra__err_oom();
		}
		if (cJSON_IsObject(node)) {
			cJSON_AddItemToArray(f->merges, node);
			return 0;
		}
		if (cJSON_IsArray(node)) {
			for (cJSON *k = node->child; k; k = k->next) {
				int is_obj = cJSON_IsObject(k);
				cJSON *d =
				        is_obj ? cJSON_Duplicate(k, 1) : NULL;
				if (!d) {
					cJSON_Delete(node);
					if (is_obj)
						return astra__err_oom();
					return perr(b, m,
					        "merge key (<<) needs a mapping "
					        "or a list of mappings");
				}
				cJSON_AddItemToArray(f->merges, d);
			}
			/* anchors may point at the list */
			cJSON_AddItemToArray(b->graveyard, node);
			return 0;
		}
		cJSON_Delete(node);
		return perr(b, m,
		        "merge key (<<) needs a mapping or a list of mappings");
	}
	char *key = f->key;
	f->key = NULL;
	cJSON_AddItemToObject(f->node, key, node);
	free(key);
	return 0;
}

/* A scalar (or aliased scalar) in key position of a mapping. */
static int take_key(
        builder *b, frame *f, const char *key, int plain, const yaml_mark_t *m)
{
	if (plain && !strcmp(key, "<<")) {
		f->key_is_merge = 1;
		f->key_line = m->line;
		return 0;
	}
	if (astra__map_has(&f->keys, key))
		return perr(b, m, "duplicate key \"%.80s\"", key);
	if (astra__map_set(&f->keys, key, NULL, NULL))
		return ASTRA_ENOMEM;
	f->key = astra__strdup(key);
	ASTRA_CHECK_ALLOC(f->key);
	f->key_line = m->line;
	return 0;
}

static int expecting_key(builder *b)
{
	if (b->depth == 0)
		return 0;
	frame *f = &b->stack[b->depth - 1];
	return f->is_map && !f->key && !f->key_is_merge;
}

static int push_frame(builder *b, const yaml_event_t *ev, int is_map)
{
	const yaml_mark_t *m = &ev->start_mark;
	if (expecting_key(b))
		return perr(b, m,
		        "complex (non-scalar) mapping keys are not supported");
	if (b->depth >= MAX_DEPTH)
		return perr(b, m, "nesting deeper than %d levels", MAX_DEPTH);
	const char *anchor_name =
	        (const char *)(is_map ? ev->data.mapping_start.anchor
	                              : ev->data.sequence_start.anchor);
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag
	                                        : ev->data.sequence_start.tag);
	if (tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
		const char *t = tag + strlen(TAG_PREFIX);
		if (strcmp(t, is_map ? "map" : "seq"))
			return perr(b, m, "unsupported tag !!%.40s on a %s", t,
			        is_map ? "mapping" : "sequence");
	}
	frame *f = &b->stack[b->depth];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->line = m->line;
	f->node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!f->node)
		return astra__err_oom();
	if (note_line(b, f->node, m)) {
		cJSON_Delete(f->node);
		return ASTRA_ENOMEM;
	}
	if (anchor_name) {
		f->anchor = astra__strdup(anchor_name);
		if (!f->anchor || set_anchor(b, anchor_name, f->node, 0)) {
			cJSON_Delete(f->node);
			free(f->anchor);
			return ASTRA_ENOMEM;
		}
	}
	b->depth++;
	return 0;
}

static int apply_merges(builder *b, frame *f)
{
	if (!f->merges)
		return 0;
	for (cJSON *src = f->merges->child; src; src = src->next) {
		for (cJSON *k = src->child; k; k = k->next) {
			if (astra__map_has(&f->keys, k->string))
				continue; /* explicit keys and earlier sources
				             win */
			if (astra__map_set(&f->keys, k->string, NULL, NULL))
				return ASTRA_ENOMEM;
			cJSON *d = cJSON_Duplicate(k, 1);
			if (!d)
				return astra__err_oom();
			cJSON_AddItemToObject(f->node, k->string, d);
		}
	}
	/* keep the sources: anchors may point into them */
	cJSON_AddItemToArray(b->graveyard, f->merges);
	f->merges = NULL;
	return 0;
}

static int pop_frame(builder *b, const yaml_event_t *ev)
{
	frame *f = &b->stack[b->depth - 1];
	if (f->is_map && (f->key || f->key_is_merge))
		return perr(b, &ev->start_mark, "mapping key without a value");
	int rc = apply_merges(b, f);
	if (rc)
		return rc;
	if (f->anchor) {
		anchor *a = astra__map_get(&b->anchors, f->anchor);
		if (a && a->node == f->node)
			a->complete = 1;
	}
	cJSON *node = f->node;
	f->node = NULL;
	frame_free(f);
	b->depth--;
	return attach(b, node, &ev->start_mark);
}

static int on_scalar(builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	if (expecting_key(b)) {
		frame *f = &b->stack[b->depth - 1];
		const char *key = (const char *)ev->data.scalar.value;
		int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		            !ev->data.scalar.tag;
		if (ev->data.scalar.anchor) {
			cJSON *k = cJSON_CreateString(key);
			if (!k)
				return astra__err_oom();
			cJSON_AddItemToArray(b->graveyard, k);
			int rc = set_anchor(
			        b, (const char *)ev->data.scalar.anchor, k, 1);
			if (rc)
				return rc;
		}
		return take_key(b, f, key, plain, m);
	}
	cJSON *node;
	int rc = make_scalar(b, ev, &node);
	if (rc)
		return rc;
	if (note_line(b, node, m)) {
		cJSON_Delete(node);
		return ASTRA_ENOMEM;
	}
	if (ev->data.scalar.anchor) {
		rc = set_anchor(
		        b, (const char *)ev->data.scalar.anchor, node, 1);
		if (rc) {
			cJSON_Delete(node);
			return rc;
		}
	}
	return attach(b, node, m);
}

static int on_alias(builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *name = (const char *)ev->data.alias.anchor;
	anchor *a = astra__map_get(&b->anchors, name);
	if (!a)
		return perr(b, m, "unknown anchor \"%.80s\"", name);
	if (!a->complete)
		return perr(b, m, "recursive alias \"%.80s\"", name);
	if (expecting_key(b)) {
		if (!cJSON_IsString(a->node))
			return perr(b, m,
			        "alias \"%.80s\" used as a key must be a string",
			        name);
		return take_key(
		        b, &b->stack[b->depth - 1], a->node->valuestring, 0, m);
	}
	size_t n = count_nodes(a->node);
	b->alias_nodes += n;
	if (b->alias_nodes > MAX_ALIAS_NODES)
		return perr(b, m,
		        "aliases expand to more than %d nodes; refusing "
		        "(possible \"billion laughs\" document)",
		        MAX_ALIAS_NODES);
	cJSON *d = cJSON_Duplicate(a->node, 1);
	if (!d)
		return astra__err_oom();
	return attach(b, d, m);
}

static void builder_reset(builder *b)
{
	while (b->depth > 0) {
		frame *f = &b->stack[--b->depth];
		cJSON_Delete(f->node);
		f->node = NULL;
		frame_free(f);
	}
	cJSON_Delete(b->root);
	b->root = NULL;
	b->have_root = 0;
	anchors_clear(b);
	cJSON_Delete(b->graveyard);
	b->graveyard = NULL;
	b->alias_nodes = 0;
}

static int parser_error(builder *b, yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "malformed YAML";
	const yaml_mark_t *m = &p->problem_mark;
	if (p->error == YAML_MEMORY_ERROR)
		return astra__err_oom();
	if (p->error == YAML_READER_ERROR)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_YAML,
		        "%s: byte %zu: %s", b->what ? b->what : "YAML",
		        p->problem_offset, problem);
	if (p->context)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_YAML,
		        "%s: line %zu, column %zu: %s %s (line %zu)",
		        b->what ? b->what : "YAML", m->line + 1, m->column + 1,
		        problem, p->context, p->context_mark.line + 1);
	return perr(b, m, "%s", problem);
}

/* Calls on_doc(root) for every document; on_doc takes ownership. */
static int parse_stream(const char *text, size_t len, const char *what,
        astra__map *lines,
        int (*on_doc)(void *ctx, cJSON *doc, const yaml_mark_t *m), void *ctx)
{
	yaml_parser_t parser;
	builder *b = astra__calloc(1, sizeof(*b));
	ASTRA_CHECK_ALLOC(b);
	b->what = what;
	b->lines = lines;
	if (!yaml_parser_initialize(&parser)) {
		free(b);
		return astra__err_oom();
	}
	yaml_parser_set_input_string(
	        &parser, (const unsigned char *)(text ? text : ""), len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	int rc = 0, done = 0;
	yaml_mark_t doc_start;
	memset(&doc_start, 0, sizeof(doc_start));
	while (!done && !rc) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parser_error(b, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			doc_start = ev.start_mark;
			builder_reset(b);
			b->graveyard = cJSON_CreateArray();
			if (!b->graveyard)
				rc = astra__err_oom();
			break;
		case YAML_DOCUMENT_END_EVENT: {
			cJSON *root = b->root;
			b->root = NULL;
			if (!root)
				root = cJSON_CreateNull();
			if (!root)
				rc = astra__err_oom();
			else
				rc = on_doc(ctx, root, &doc_start);
			builder_reset(b);
			break;
		}
		case YAML_SCALAR_EVENT:
			rc = on_scalar(b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = push_frame(b, &ev, 0);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = push_frame(b, &ev, 1);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = pop_frame(b, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	builder_reset(b);
	yaml_parser_delete(&parser);
	free(b);
	return rc;
}

typedef struct {
	const char *what;
	cJSON *single;
	cJSON *all;
} collect;

static int on_single(void *p, cJSON *doc, const yaml_mark_t *m)
{
	collect *c = p;
	if (cJSON_IsNull(doc)) {
		if (!c->single)
			c->single = doc;
		else
			cJSON_Delete(doc);
		return 0;
	}
	if (c->single && !cJSON_IsNull(c->single)) {
		cJSON_Delete(doc);
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_YAML,
		        "%s: line %zu: a second document where one was expected",
		        c->what ? c->what : "YAML", m->line + 1);
	}
	cJSON_Delete(c->single);
	c->single = doc;
	return 0;
}

static int on_many(void *p, cJSON *doc, const yaml_mark_t *m)
{
	collect *c = p;
	(void)m;
	if (cJSON_IsNull(doc)) {
		cJSON_Delete(doc);
		return 0;
	}
	cJSON_AddItemToArray(c->all, doc);
	return 0;
}

int astra__yaml_parse(
        astra__json **out, const char *text, size_t len, const char *what)
{
	collect c = { what, NULL, NULL };
	*out = NULL;
	int rc = parse_stream(text, len, what, NULL, on_single, &c);
	if (rc) {
		cJSON_Delete(c.single);
		return rc;
	}
	if (!c.single && !(c.single = cJSON_CreateNull()))
		return astra__err_oom();
	*out = J(c.single);
	return 0;
}

int astra__yaml_parse_lines(astra__json **out, astra__yaml_lines **lines,
        const char *text, size_t len, const char *what)
{
	collect c = { what, NULL, NULL };
	*out = NULL;
	*lines = astra__calloc(1, sizeof(**lines));
	ASTRA_CHECK_ALLOC(*lines);
	int rc = parse_stream(text, len, what, &(*lines)->map, on_single, &c);
	if (!rc && !c.single && !(c.single = cJSON_CreateNull()))
		rc = astra__err_oom();
	if (rc) {
		cJSON_Delete(c.single);
		astra__yaml_lines_free(*lines);
		*lines = NULL;
		return rc;
	}
	*out = J(c.single);
	return 0;
}

int astra__yaml_parse_all(
        astra__json **out, const char *text, size_t len, const char *what)
{
	collect c = { what, NULL, cJSON_CreateArray() };
	*out = NULL;
	if (!c.all)
		return astra__err_oom();
	int rc = parse_stream(text, len, what, NULL, on_many, &c);
	if (rc) {
		cJSON_Delete(c.all);
		return rc;
	}
	*out = J(c.all);
	return 0;
}

int astra__fmt_read_file(astra_buf *out, const char *path, size_t max)
{
	int rc = astra__file_read(out, path, max ? max : (size_t)64 << 20, 0);
	if (!rc && !out->ptr)
		rc = astra__buf_grow(out, 0);
	return rc;
}

int astra__yaml_parse_file(astra__json **out, const char *path, int all)
{
	astra_buf b = ASTRA_BUF_INIT;
	*out = NULL;
	int rc = astra__fmt_read_file(&b, path, 0);
	if (!rc)
		rc = all ? astra__yaml_parse_all(out, b.ptr, b.size, path)
		         : astra__yaml_parse(out, b.ptr, b.size, path);
	astra_buf_dispose(&b);
	return rc;
}
