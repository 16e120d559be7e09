/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

typedef enum {
	OP_EXISTS,
	OP_NOT_EXISTS,
	OP_EQ, /* = */
	OP_DEQ, /* == */
	OP_NEQ, /* != */
	OP_IN,
	OP_NOTIN,
	OP_GT,
	OP_LT
} op_t;

typedef struct {
	char *key;
	op_t op;
	char **values;
	size_t nvalues;
	long long num; /* for > and < */
} req_t;

struct astra__selector {
	req_t *reqs;
	size_t n;
};

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* A label value / qualified-name name part: <= 63, alnum at the ends,
 * [-_.] inside. Empty is checked by callers. */
static const char *check_name(const char *s, size_t n)
{
	if (n > 63)
		return "must be no more than 63 characters";
	if (!alnum(s[0]) || !alnum(s[n - 1]))
		return "must begin and end with a letter or digit";
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "may contain only letters, digits, '-', '_' "
			       "and '.'";
	return NULL;
}

/* DNS-1123 subdomain: lower-case alnum, '-' and '.', <= 253. */
static const char *check_prefix(const char *s, size_t n)
{
	if (n == 0)
		return "has an empty prefix";
	if (n > 253)
		return "has a prefix longer than 253 characters";
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t l = i - start;
			if (l == 0 || l > 63)
				return "has an invalid DNS subdomain prefix";
			char a = s[start], z = s[i - 1];
			if (!((a >= 'a' && a <= 'z') ||
			            (a >= '0' && a <= '9')) ||
			        !((z >= 'a' && z <= 'z') ||
			                (z >= '0' && z <= '9')))
				return "has an invalid DNS subdomain prefix";
			for (size_t k = start; k < i; k++) {
				char c = s[k];
				if (!((c >= 'a' && c <= 'z') ||
				            (c >= '0' && c <= '9') || c == '-'))
					return "has an invalid DNS subdomain "
					       "prefix";
			}
			start = i + 1;
		}
	}
	return NULL;
}

static const char *check_key(const char *k)
{
	size_t n = strlen(k);
	if (n == 0)
		return "is empty";
	const char *slash = strchr(k, '/');
	if (slash) {
		if (strchr(slash + 1, '/'))
			return "has more than one '/'";
		const char *e = check_prefix(k, (size_t)(slash - k));
		if (e)
			return e;
		if (!slash[1])
			return "has an empty name after '/'";
		return check_name(slash + 1, strlen(slash + 1));
	}
	return check_name(k, n);
}

static const char *check_value(const char *v)
{
	size_t n = strlen(v);
	return n ? check_name(v, n) : NULL;
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */
/* ------------------------------------------------------------------ */

typedef enum {
	T_END,
	T_IDENT,
	T_NOT, /* ! */
	T_EQ,
	T_DEQ,
	T_NEQ,
	T_GT,
	T_LT,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_IN,
	T_NOTIN
} tok_t;

typedef struct {
	const char *src;
	size_t pos;
	tok_t t;
	char *text; /* identifier */
	size_t tpos; /* where the current token starts */
} lexer;

static int special(char c)
{
	return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' ||
	       c == '<' || c == '>';
}

static int space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int next(lexer *l)
{
	free(l->text);
	l->text = NULL;
	const char *s = l->src;
	while (space(s[l->pos]))
		l->pos++;
	l->tpos = l->pos;
	char c = s[l->pos];
	if (!c) {
		l->t = T_END;
		return 0;
	}
	if (special(c)) {
		l->pos++;
		switch (c) {
		case '!':
			if (s[l->pos] == '=') {
				l->pos++;
				l->t = T_NEQ;
			} else {
				l->t = T_NOT;
			}
			break;
		case '=':
			if (s[l->pos] == '=') {
				l->pos++;
				l->t = T_DEQ;
			} else {
				l->t = T_EQ;
			}
			break;
		case '(':
			l->t = T_LPAREN;
			break;
		case ')':
			l->t = T_RPAREN;
			break;
		case ',':
			l->t = T_COMMA;
			break;
		case '<':
			l->t = T_LT;
			break;
		default:
			l->t = T_GT;
			break;
		}
		return 0;
	}
	size_t start = l->pos;
	while (s[l->pos] && !special(s[l->pos]) && !space(s[l->pos]))
		l->pos++;
	l->text = astra__strndup(s + start, l->pos - start);
	ASTRA_CHECK_ALLOC(l->text);
	if (!strcmp(l->text, "in"))
		l->t = T_IN;
	else if (!strcmp(l->text, "notin"))
		l->t = T_NOTIN;
	else
		l->t = T_IDENT;
	return 0;
}

static const char *tok_name(const lexer *l)
{
	switch (l->t) {
	case T_END:
		return "end of selector";
	case T_NOT:
		return "'!'";
	case T_EQ:
		return "'='";
	case T_DEQ:
		return "'=='";
	case T_NEQ:
		return "'!='";
	case T_GT:
		return "'>'";
	case T_LT:
		return "'<'";
	case T_LPAREN:
		return "'('";
	case T_RPAREN:
		return "')'";
	case T_COMMA:
		return "','";
	default:
		return l->text ? l->text : "?";
	}
}

static int bad(const lexer *l, size_t pos, const char *fmt, ...)
        ASTRA_PRINTF(3, 4);

static int bad(const lexer *l, size_t pos, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
	        "label selector \"%.200s\": at position %zu: %s", l->src,
	        pos + 1, msg);
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */
/* ------------------------------------------------------------------ */

static void req_clear(req_t *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
	memset(r, 0, sizeof(*r));
}

void astra__selector_free(astra__selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		req_clear(&s->reqs[i]);
	free(s->reqs);
	free(s);
}

static int add_value(req_t *r, const char *v)
{
	char **nv = astra__reallocarray(r->values, r->nvalues + 1, sizeof(*nv));
	ASTRA_CHECK_ALLOC(nv);
	r->values = nv;
	nv[r->nvalues] = astra__strdup(v);
	ASTRA_CHECK_ALLOC(nv[r->nvalues]);
	r->nvalues++;
	return 0;
}

static int add_req(astra__selector *s, req_t *r)
{
	req_t *n = astra__reallocarray(s->reqs, s->n + 1, sizeof(*n));
	ASTRA_CHECK_ALLOC(n);
	s->reqs = n;
	n[s->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Validates a finished requirement (as labels.NewRequirement does). */
static int validate(const lexer *l, size_t pos, req_t *r)
{
	const char *e = check_key(r->key);
	if (e)
		return bad(l, pos, "key \"%.80s\" %s", r->key, e);
	switch (r->op) {
	case OP_IN:
	case OP_NOTIN:
		if (r->nvalues == 0)
			return bad(l, pos,
			        "'in' and 'notin' need at least one value");
		qsort(r->values, r->nvalues, sizeof(char *), cmp_str);
		break;
	case OP_GT:
	case OP_LT: {
		if (r->nvalues != 1)
			return bad(
			        l, pos, "'>' and '<' need exactly one value");
		char *end;
		errno = 0;
		r->num = strtoll(r->values[0], &end, 10);
		if (!*r->values[0] || *end || errno)
			return bad(l, pos,
			        "value \"%.80s\" for '>' or '<' must be an "
			        "integer",
			        r->values[0]);
		return 0;
	}
	default:
		break;
	}
	for (size_t i = 0; i < r->nvalues; i++) {
		e = check_value(r->values[i]);
		if (e)
			return bad(
			        l, pos, "value \"%.80s\" %s", r->values[i], e);
	}
	return 0;
}

static int parse_req(lexer *l, req_t *r)
{
	int rc;
	size_t start = l->tpos;
	if (l->t == T_NOT) {
		if ((rc = next(l)))
			return rc;
		if (l->t != T_IDENT)
			return bad(l, l->tpos,
			        "expected a key after '!', found %s",
			        tok_name(l));
		r->key = l->text;
		l->text = NULL;
		r->op = OP_NOT_EXISTS;
		if ((rc = next(l)))
			return rc;
		if (l->t != T_END && l->t != T_COMMA)
			return bad(l, l->tpos,
			        "expected ',' or the end after \"!%s\", found %s",
			        r->key, tok_name(l));
		return validate(l, start, r);
	}
	if (l->t != T_IDENT)
		return bad(l, l->tpos, "expected a key, found %s", tok_name(l));
	r->key = l->text;
	l->text = NULL;
	if ((rc = next(l)))
		return rc;
	if (l->t == T_END || l->t == T_COMMA) {
		r->op = OP_EXISTS;
		return validate(l, start, r);
	}
	switch (l->t) {
	case T_EQ:
		r->op = OP_EQ;
		break;
	case T_DEQ:
		r->op = OP_DEQ;
		break;
	case T_NEQ:
		r->op = OP_NEQ;
		break;
	case T_GT:
		r->op = OP_GT;
		break;
	case T_LT:
		r->op = OP_LT;
		break;
	case T_IN:
		r->op = OP_IN;
		break;
	case T_NOTIN:
		r->op = OP_NOTIN;
		break;
	default:
		return bad(l, l->tpos,
		        "found %s after key \"%s\", expected one of: in, notin, "
		        "=, ==, !=, >, <",
		        tok_name(l), r->key);
	}
	if ((rc = next(l)))
		return rc;
	if (r->op == OP_IN || r->op == OP_NOTIN) {
		if (l->t != T_LPAREN)
			return bad(l, l->tpos,
			        "expected '(' after '%s', found %s",
			        r->op == OP_IN ? "in" : "notin", tok_name(l));
		if ((rc = next(l)))
			return rc;
		for (;;) {
			/* identifier, or an empty value before ',' / ')' */
			if (l->t == T_IDENT || l->t == T_IN ||
			        l->t == T_NOTIN) {
				if ((rc = add_value(r, l->text)))
					return rc;
				if ((rc = next(l)))
					return rc;
			} else if (l->t == T_COMMA || l->t == T_RPAREN) {
				if (l->t == T_COMMA || r->nvalues > 0)
					if ((rc = add_value(r, "")))
						return rc;
			} else {
				return bad(l, l->tpos,
				        "expected a value or ')', found %s",
				        tok_name(l));
			}
			if (l->t == T_RPAREN)
				break;
			if (l->t != T_COMMA)
				return bad(l, l->tpos,
				        "expected ',' or ')', found %s",
				        tok_name(l));
			if ((rc = next(l)))
				return rc;
		}
		if ((rc = next(l)))
			return rc;
	} else {
		if (l->t == T_IDENT || l->t == T_IN || l->t == T_NOTIN) {
			if ((rc = add_value(r, l->text)))
				return rc;
			if ((rc = next(l)))
				return rc;
		} else if (l->t == T_END || l->t == T_COMMA) {
			if ((rc = add_value(r, "")))
				return rc;
		} else {
			return bad(l, l->tpos, "expected a value, found %s",
			        tok_name(l));
		}
	}
	if (l->t != T_END && l->t != T_COMMA)
		return bad(l, l->tpos,
		        "expected ',' or the end of the selector, found %s",
		        tok_name(l));
	return validate(l, start, r);
}

static int cmp_req(const void *a, const void *b)
{
	return strcmp(((const req_t *)a)->key, ((const req_t *)b)->key);
}

static void sort_reqs(astra__selector *s)
{
	/* stable insertion sort: selectors are short */
	for (size_t i = 1; i < s->n; i++) {
		req_t t = s->reqs[i];
		size_t j = i;
		while (j > 0 && cmp_req(&s->reqs[j - 1], &t) > 0) {
			s->reqs[j] = s->reqs[j - 1];
			j--;
		}
		s->reqs[j] = t;
	}
}

int astra__selector_parse(astra__selector **out, const char *src)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	astra__selector *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	lexer l = { src ? src : "", 0, T_END, NULL, 0 };
	req_t r;
	memset(&r, 0, sizeof(r));
	int rc = next(&l);
	while (!rc && l.t != T_END) {
		rc = parse_req(&l, &r);
		if (!rc)
			rc = add_req(s, &r);
		if (!rc && l.t == T_COMMA) {
			rc = next(&l);
			if (!rc && l.t == T_END)
				rc = bad(&l, l.tpos,
				        "a requirement is missing after ','");
		}
	}
	req_clear(&r);
	free(l.text);
	if (rc) {
		astra__selector_free(s);
		return rc;
	}
	sort_reqs(s);
	*out = s;
	return 0;
}

int astra__selector_from_json(astra__selector **out, const astra__json *j)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	astra__selector *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	lexer l = { "(LabelSelector object)", 0, T_END, NULL, 0 };
	req_t r;
	memset(&r, 0, sizeof(r));
	int rc = 0;
	const astra__json *ml = astra__json_get(j, "matchLabels");
	for (size_t i = 0; !rc && i < astra__json_size(ml); i++) {
		const astra__json *m = astra__json_at(ml, i);
		const char *v = astra__json_string_value(m);
		if (!v) {
			rc = bad(&l, 0, "matchLabels \"%.80s\" is not a string",
			        astra__json_key(m));
			break;
		}
		r.key = astra__strdup(astra__json_key(m));
		r.op = OP_EQ;
		if (!r.key || (rc = add_value(&r, v)))
			rc = ASTRA_ENOMEM;
		if (!rc)
			rc = validate(&l, 0, &r);
		if (!rc)
			rc = add_req(s, &r);
		req_clear(&r);
	}
	const astra__json *me = astra__json_get(j, "matchExpressions");
	for (size_t i = 0; !rc && i < astra__json_size(me); i++) {
		const astra__json *e = astra__json_at(me, i);
		const char *key = astra__json_str(e, "key");
		const char *op = astra__json_str(e, "operator");
		if (!key || !op) {
			rc = bad(&l, 0,
			        "matchExpressions[%zu] needs a key and an "
			        "operator",
			        i);
			break;
		}
		if (!strcmp(op, "In"))
			r.op = OP_IN;
		else if (!strcmp(op, "NotIn"))
			r.op = OP_NOTIN;
		else if (!strcmp(op, "Exists"))
			r.op = OP_EXISTS;
		else if (!strcmp(op, "DoesNotExist"))
			r.op = OP_NOT_EXISTS;
		else {
			rc = bad(&l, 0,
			        "matchExpressions[%zu]: unknown operator "
			        "\"%.40s\" (In, NotIn, Exists, DoesNotExist)",
			        i, op);
			break;
		}
		r.key = astra__strdup(key);
		if (!r.key)
			rc = ASTRA_ENOMEM;
		const astra__json *vals = astra__json_get(e, "values");
		for (size_t k = 0; !rc && k < astra__json_size(vals); k++) {
			const char *v = astra__json_string_value(
			        astra__json_at(vals, k));
			if (!v)
				rc = bad(&l, 0,
				        "matchExpressions[%zu].values must be "
				        "strings",
				        i);
			else
				rc = add_value(&r, v);
		}
		if (!rc && (r.op == OP_EXISTS || r.op == OP_NOT_EXISTS) &&
		        r.nvalues)
			rc = bad(&l, 0,
			        "matchExpressions[%zu]: %s takes no values", i,
			        op);
		if (!rc)
			rc = validate(&l, 0, &r);
		if (!rc)
			rc = add_req(s, &r);
		req_clear(&r);
	}
	if (rc) {
		astra__selector_free(s);
		return rc;
	}
	sort_reqs(s);
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Matching and printing                                               */
/* ------------------------------------------------------------------ */

static int has_value(const req_t *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (!strcmp(r->values[i], v))
			return 1;
	return 0;
}

int astra__selector_matches(const astra__selector *s, const astra__json *labels)
{
	if (!s)
		return 1;
	for (size_t i = 0; i < s->n; i++) {
		const req_t *r = &s->reqs[i];
		const astra__json *m = astra__json_get(labels, r->key);
		const char *v = astra__json_string_value(m);
		int ok;
		switch (r->op) {
		case OP_EXISTS:
			ok = m != NULL;
			break;
		case OP_NOT_EXISTS:
			ok = m == NULL;
			break;
		case OP_EQ:
		case OP_DEQ:
		case OP_IN:
			ok = v && has_value(r, v);
			break;
		case OP_NEQ:
		case OP_NOTIN:
			ok = !v || !has_value(r, v);
			break;
		default: {
			if (!v) {
				ok = 0;
				break;
			}
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (!*v || *end || errno) {
				ok = 0;
				break;
			}
			ok = r->op == OP_GT ? x > r->num : x < r->num;
			break;
		}
		}
		if (!ok)
			return 0;
	}
	return 1;
}

int astra__selector_empty(const astra__selector *s)
{
	return !s || s->n == 0;
}

int astra__selector_string(const astra__selector *s, astra_buf *out)
{
	int rc = astra__buf_grow(out, 0);
	for (size_t i = 0; !rc && s && i < s->n; i++) {
		const req_t *r = &s->reqs[i];
		if (i)
			rc = astra__buf_putc(out, ',');
		if (rc)
			break;
		switch (r->op) {
		case OP_EXISTS:
			rc = astra__buf_puts(out, r->key);
			break;
		case OP_NOT_EXISTS:
			rc = astra__buf_printf(out, "!%s", r->key);
			break;
		case OP_EQ:
			rc = astra__buf_printf(
			        out, "%s=%s", r->key, r->values[0]);
			break;
		case OP_DEQ:
			rc = astra__buf_printf(
			        out, "%s==%s", r->key, r->values[0]);
			break;
		case OP_NEQ:
			rc = astra__buf_printf(
			        out, "%s!=%s", r->key, r->values[0]);
			break;
		case OP_GT:
			rc = astra__buf_printf(
			        out, "%s>%s", r->key, r->values[0]);
			break;
		case OP_LT:
			rc = astra__buf_printf(
			        out, "%s<%s", r->key, r->values[0]);
			break;
		default: {
			rc = astra__buf_printf(out, "%s %s (", r->key,
			        r->op == OP_IN ? "in" : "notin");
			for (size_t k = 0; !rc && k < r->nvalues; k++)
				rc = astra__buf_printf(out, "%s%s",
				        k ? "," : "", r->values[k]);
			if (!rc)
				rc = astra__buf_putc(out, ')');
			break;
		}
		}
	}
	return rc;
}
