/*
 * Growable byte buffers and string building on the public astra_buf.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_BUF_H
#define ASTRA_CORE_BUF_H

#include <stdarg.h>

#include "astra/common.h"
#include "core/error.h"

/* Makes room for `extra` more bytes plus a NUL. */
int astra__buf_grow(astra_buf *b, size_t extra);
int astra__buf_put(astra_buf *b, const void *data, size_t n);
int astra__buf_puts(astra_buf *b, const char *s);
int astra__buf_putc(astra_buf *b, char c);
int astra__buf_printf(astra_buf *b, const char *fmt, ...) ASTRA_PRINTF(2, 3);
int astra__buf_vprintf(astra_buf *b, const char *fmt, va_list ap)
        ASTRA_PRINTF(2, 0);
void astra__buf_clear(astra_buf *b);
/* Hands the memory to the caller (free with free()); the buffer is reset. */
char *astra__buf_detach(astra_buf *b);
/* Appends s, JSON-string-escaped, without quotes. */
int astra__buf_put_json_escaped(astra_buf *b, const char *s, size_t n);
/* Lower-case hex of n bytes. */
int astra__buf_put_hex(astra_buf *b, const void *data, size_t n);

#endif
