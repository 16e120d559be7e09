/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fmt/xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

#define XML_MAX_INPUT ((size_t)8 << 20)
#define XML_MAX_DEPTH 64

struct astra__xml {
	char *name;
	char *text;
	astra__xml *child, *last, *next;
};

typedef struct {
	const char *base, *p, *end;
	const char *what;
	int rc;
} parser;

static int fail(parser *ps, const char *at, const char *why)
{
	if (ps->rc)
		return ps->rc;
	if (at > ps->end)
		at = ps->end;
	ps->rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
	        "%s: malformed XML at byte %zu: %s", ps->what,
	        (size_t)(at - ps->base), why);
	return ps->rc;
}

static int eof(parser *ps)
{
	return fail(ps, ps->end, "the document ends too early");
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Characters XML 1.0 allows in a document (bytes; UTF-8 passes through). */
static int char_ok(unsigned char c)
{
	return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(parser *ps)
{
	while (ps->p < ps->end && is_space(*ps->p))
		ps->p++;
}

static int starts(parser *ps, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lit, n) == 0;
}

/* Skips past `term`; the bytes before it must be valid characters. */
static int skip_until(parser *ps, const char *term, const char *what)
{
	size_t n = strlen(term);
	while ((size_t)(ps->end - ps->p) >= n) {
		if (memcmp(ps->p, term, n) == 0) {
			ps->p += n;
			return 0;
		}
		if (!char_ok((unsigned char)*ps->p))
			return fail(ps, ps->p, "invalid character");
		ps->p++;
	}
	(void)what;
	return eof(ps);
}

static int put_utf8(astra_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return astra__buf_put(b, u, n);
}

/* At '&': decodes one reference into out (NULL: validate only). */
static int entity(parser *ps, astra_buf *out)
{
	const char *start = ps->p;
	const char *semi = memchr(ps->p, ';',
	        (size_t)(ps->end - ps->p) < 12 ? (size_t)(ps->end - ps->p)
	                                       : 12);
	if (!semi)
		return ps->end - ps->p < 12 ? eof(ps)
		                            : fail(ps, start, "bad reference");
	const char *name = ps->p + 1;
	size_t n = (size_t)(semi - name);
	ps->p = semi + 1;
	static const struct {
		const char *name;
		char ch;
	} named[] = { { "lt", '<' }, { "gt", '>' }, { "amp", '&' },
		{ "quot", '"' }, { "apos", '\'' } };
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n &&
		        !memcmp(name, named[i].name, n))
			return out ? astra__buf_putc(out, named[i].ch) : 0;
	if (n < 2 || name[0] != '#')
		return fail(ps, start, "unknown entity");
	uint32_t cp = 0;
	int hex = name[1] == 'x';
	const char *d = name + 1 + hex;
	if (d == semi)
		return fail(ps, start, "empty character reference");
	for (; d < semi; d++) {
		unsigned v;
		if (*d >= '0' && *d <= '9')
			v = (unsigned)(*d - '0');
		else if (hex && *d >= 'a' && *d <= 'f')
			v = (unsigned)(*d - 'a' + 10);
		else if (hex && *d >= 'A' && *d <= 'F')
			v = (unsigned)(*d - 'A' + 10);
		else
			return fail(ps, start, "bad character reference");
		cp = cp * (hex ? 16u : 10u) + v;
		if (cp > 0x10FFFF)
			return fail(ps, start, "character reference too large");
	}
	if (cp == 0 || (cp < 0x20 && !is_space((char)cp)) ||
	        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
		return fail(ps, start,
		        "character reference to a forbidden "
		        "character");
	return out ? put_utf8(out, cp) : 0;
}

/* Reads a name at p; returns its length (0 when there is none). */
static size_t read_name(parser *ps)
{
	const char *s = ps->p;
	if (s >= ps->end || !name_start((unsigned char)*s))
		return 0;
	while (ps->p < ps->end && name_char((unsigned char)*ps->p))
		ps->p++;
	return (size_t)(ps->p - s);
}

static int attributes(parser *ps)
{
	for (;;) {
		const char *before = ps->p;
		skip_space(ps);
		if (ps->p >= ps->end)
			return eof(ps);
		if (*ps->p == '>' || *ps->p == '/')
			return 0;
		if (ps->p == before)
			return fail(ps, ps->p,
			        "expected a space before an "
			        "attribute");
		if (!read_name(ps))
			return fail(ps, ps->p, "expected an attribute name");
		skip_space(ps);
		if (ps->p >= ps->end)
			return eof(ps);
		if (*ps->p != '=')
			return fail(ps, ps->p,
			        "expected '=' after an "
			        "attribute name");
		ps->p++;
		skip_space(ps);
		if (ps->p >= ps->end)
			return eof(ps);
		char q = *ps->p;
		if (q != '"' && q != '\'')
			return fail(ps, ps->p, "attribute value not quoted");
		ps->p++;
		for (;;) {
			if (ps->p >= ps->end)
				return eof(ps);
			char c = *ps->p;
			if (c == q) {
				ps->p++;
				break;
			}
			if (c == '<')
				return fail(ps, ps->p, "'<' in an attribute");
			if (c == '&') {
				if (entity(ps, NULL))
					return ps->rc;
				continue;
			}
			if (!char_ok((unsigned char)c))
				return fail(ps, ps->p, "invalid character");
			ps->p++;
		}
	}
}

static const char *local_name(const char *s, size_t n, size_t *ln)
{
	const char *colon = memchr(s, ':', n);
	if (colon && colon + 1 < s + n) {
		*ln = n - (size_t)(colon + 1 - s);
		return colon + 1;
	}
	*ln = n;
	return s;
}

/* Comments, processing instructions and CDATA are handled here. */
static int misc(parser *ps, astra_buf *text, int *handled)
{
	*handled = 1;
	if (starts(ps, "<!--")) {
		ps->p += 4;
		return skip_until(ps, "-->", "comment");
	}
	if (starts(ps, "<?")) {
		ps->p += 2;
		return skip_until(ps, "?>", "processing instruction");
	}
	if (starts(ps, "<![CDATA[")) {
		if (!text)
			return fail(ps, ps->p, "CDATA outside an element");
		ps->p += 9;
		const char *s = ps->p;
		int rc = skip_until(ps, "]]>", "CDATA");
		if (rc)
			return rc;
		return astra__buf_put(text, s, (size_t)(ps->p - 3 - s));
	}
	if (starts(ps, "<!"))
		return fail(ps, ps->p,
		        "DOCTYPE and other declarations are not accepted");
	*handled = 0;
	return 0;
}

static int element(parser *ps, astra__xml **out, int depth)
{
	*out = NULL;
	if (depth > XML_MAX_DEPTH)
		return fail(ps, ps->p, "elements nested too deeply");
	/* at '<' */
	ps->p++;
	const char *nm = ps->p;
	size_t nlen = read_name(ps);
	if (!nlen)
		return ps->p >= ps->end ? eof(ps)
		                        : fail(ps, ps->p,
		                                  "expected an element "
		                                  "name");
	astra__xml *node = astra__calloc(1, sizeof(*node));
	if (!node)
		return ps->rc = ASTRA_ENOMEM;
	size_t ln;
	const char *local = local_name(nm, nlen, &ln);
	node->name = astra__strndup(local, ln);
	astra_buf text = ASTRA_BUF_INIT;
	int rc = node->name ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = attributes(ps);
	if (rc)
		goto done;
	if (*ps->p == '/') {
		ps->p++;
		if (ps->p >= ps->end) {
			rc = eof(ps);
			goto done;
		}
		if (*ps->p != '>') {
			rc = fail(ps, ps->p, "expected '>' after '/'");
			goto done;
		}
		ps->p++;
		goto done;
	}
	ps->p++; /* '>' */
	for (;;) {
		if (ps->p >= ps->end) {
			rc = eof(ps);
			goto done;
		}
		char c = *ps->p;
		if (c == '<') {
			if (starts(ps, "</")) {
				ps->p += 2;
				const char *en = ps->p;
				size_t elen = read_name(ps);
				if (elen != nlen || memcmp(en, nm, nlen) != 0) {
					rc = ps->p >= ps->end && elen < nlen
					             ? eof(ps)
					             : fail(ps, en,
					                       "closing tag does "
					                       "not match the "
					                       "open element");
					goto done;
				}
				skip_space(ps);
				if (ps->p >= ps->end) {
					rc = eof(ps);
					goto done;
				}
				if (*ps->p != '>') {
					rc = fail(ps, ps->p,
					        "expected '>' in a closing tag");
					goto done;
				}
				ps->p++;
				break;
			}
			int handled;
			if ((rc = misc(ps, &text, &handled)))
				goto done;
			if (handled)
				continue;
			astra__xml *kid;
			if ((rc = element(ps, &kid, depth + 1)))
				goto done;
			if (node->last)
				node->last->next = kid;
			else
				node->child = kid;
			node->last = kid;
			continue;
		}
		if (c == '&') {
			if ((rc = entity(ps, &text)))
				goto done;
			continue;
		}
		if (!char_ok((unsigned char)c)) {
			rc = fail(ps, ps->p, "invalid character");
			goto done;
		}
		const char *s = ps->p;
		while (ps->p < ps->end && *ps->p != '<' && *ps->p != '&' &&
		        char_ok((unsigned char)*ps->p))
			ps->p++;
		if ((rc = astra__buf_put(&text, s, (size_t)(ps->p - s))))
			goto done;
	}
done:
	if (!rc) {
		node->text =
		        text.ptr ? astra__buf_detach(&text) : astra__strdup("");
		if (!node->text)
			rc = ASTRA_ENOMEM;
	}
	astra_buf_dispose(&text);
	if (rc) {
		astra__xml_free(node);
		if (!ps->rc)
			ps->rc = rc;
		return rc;
	}
	*out = node;
	return 0;
}

int astra__xml_parse(
        astra__xml **out, const char *text, size_t len, const char *what)
{
	*out = NULL;
	parser ps = { text, text, text + len, what ? what : "XML", 0 };
	if (!text || len == 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "%s: empty XML document", ps.what);
	if (len > XML_MAX_INPUT)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_HTTP,
		        "%s: XML document larger than %zu bytes", ps.what,
		        XML_MAX_INPUT);
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		ps.p += 3;
	astra__xml *root = NULL;
	int rc = 0;
	for (;;) {
		skip_space(&ps);
		if (ps.p >= ps.end) {
			rc = root ? 0 : fail(&ps, ps.p, "no root element");
			break;
		}
		if (*ps.p != '<') {
			rc = fail(&ps, ps.p,
			        root ? "content after the root element"
			             : "text before the root element");
			break;
		}
		int handled;
		if ((rc = misc(&ps, NULL, &handled)))
			break;
		if (handled)
			continue;
		if (root) {
			rc = fail(&ps, ps.p, "a second root element");
			break;
		}
		if ((rc = element(&ps, &root, 1)))
			break;
	}
	if (rc) {
		astra__xml_free(root);
		return rc;
	}
	*out = root;
	return 0;
}

void astra__xml_free(astra__xml *n)
{
	while (n) {
		astra__xml *next = n->next;
		astra__xml_free(n->child);
		free(n->name);
		free(n->text);
		free(n);
		n = next;
	}
}

const char *astra__xml_name(const astra__xml *n)
{
	return n ? n->name : NULL;
}

const char *astra__xml_text(const astra__xml *n)
{
	return n && n->text ? n->text : "";
}

static const astra__xml *first_named(const astra__xml *n, const char *name)
{
	for (; n; n = n->next)
		if (!name || !strcmp(n->name, name))
			return n;
	return NULL;
}

const astra__xml *astra__xml_child(const astra__xml *n, const char *name)
{
	return n ? first_named(n->child, name) : NULL;
}

const astra__xml *astra__xml_next(const astra__xml *n, const char *name)
{
	return n ? first_named(n->next, name) : NULL;
}

const char *astra__xml_child_text(const astra__xml *n, const char *name)
{
	const astra__xml *c = astra__xml_child(n, name);
	return c ? astra__xml_text(c) : NULL;
}

const astra__xml *astra__xml_path(const astra__xml *n, const char *path)
{
	char part[128];
	while (n && path && *path) {
		size_t len = strcspn(path, "/");
		if (len >= sizeof(part))
			return NULL;
		memcpy(part, path, len);
		part[len] = '\0';
		n = astra__xml_child(n, part);
		path += len;
		if (*path == '/')
			path++;
	}
	return n;
}

int astra__xml_escape(astra_buf *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		const char *e = *s == '&'    ? "&amp;"
		                : *s == '<'  ? "&lt;"
		                : *s == '>'  ? "&gt;"
		                : *s == '"'  ? "&quot;"
		                : *s == '\'' ? "&apos;"
		                             : NULL;
		rc = e ? astra__buf_puts(b, e) : astra__buf_putc(b, *s);
	}
	return rc;
}
