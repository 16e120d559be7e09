/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void astra_buf_dispose(astra_buf *b)
{
	if (!b)
		return;
	if (b->asize && b->ptr) {
		astra__wipe(b->ptr, b->asize);
		free(b->ptr);
	}
	b->ptr = NULL;
	b->size = 0;
	b->asize = 0;
}

int astra__buf_grow(astra_buf *b, size_t extra)
{
	size_t need = b->size + extra + 1;
	if (need < b->size)
		return astra__err_oom();
	if (b->asize >= need)
		return 0;
	size_t n = b->asize ? b->asize : 64;
	while (n < need) {
		size_t m = n + n / 2 + 64;
		if (m < n)
			return astra__err_oom();
		n = m;
	}
	char *p;
	if (b->asize == 0 && b->ptr) {
		/* borrowed memory: copy it */
		p = astra__malloc(n);
		if (!p)
			return ASTRA_ENOMEM;
		memcpy(p, b->ptr, b->size);
	} else {
		p = astra__realloc(b->ptr, n);
		if (!p)
			return ASTRA_ENOMEM;
	}
	b->ptr = p;
	b->asize = n;
	b->ptr[b->size] = '\0';
	return 0;
}

int astra__buf_put(astra_buf *b, const void *data, size_t n)
{
	int rc = astra__buf_grow(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->ptr + b->size, data, n);
	b->size += n;
	b->ptr[b->size] = '\0';
	return 0;
}

int astra__buf_puts(astra_buf *b, const char *s)
{
	return astra__buf_put(b, s, strlen(s));
}

int astra__buf_putc(astra_buf *b, char c)
{
	return astra__buf_put(b, &c, 1);
}

int astra__buf_vprintf(astra_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "bad format string");
	int rc = astra__buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	b->size += (size_t)n;
	return 0;
}

int astra__buf_printf(astra_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = astra__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void astra__buf_clear(astra_buf *b)
{
	b->size = 0;
	if (b->asize && b->ptr)
		b->ptr[0] = '\0';
}

char *astra__buf_detach(astra_buf *b)
{
	char *p = b->ptr;
	if (b->asize == 0 && p)
		p = astra__strndup(p, b->size);
	b->ptr = NULL;
	b->size = 0;
	b->asize = 0;
	return p;
}

int astra__buf_put_json_escaped(astra_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc;
		switch (c) {
		case '"':
			rc = astra__buf_puts(b, "\\\"");
			break;
		case '\\':
			rc = astra__buf_puts(b, "\\\\");
			break;
		case '\n':
			rc = astra__buf_puts(b, "\\n");
			break;
		case '\r':
			rc = astra__buf_puts(b, "\\r");
			break;
		case '\t':
			rc = astra__buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20) {
				char e[6] = { '\\', 'u', '0', '0', hex[c >> 4],
					hex[c & 15] };
				rc = astra__buf_put(b, e, 6);
			} else {
				rc = astra__buf_putc(b, (char)c);
			}
		}
		if (rc)
			return rc;
	}
	return 0;
}

int astra__buf_put_hex(astra_buf *b, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;
	int rc = astra__buf_grow(b, n * 2);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		b->ptr[b->size++] = hex[p[i] >> 4];
		b->ptr[b->size++] = hex[p[i] & 15];
	}
	b->ptr[b->size] = '\0';
	return 0;
}
