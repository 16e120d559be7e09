/*
 * The restore's report (every item it could not restore, with the cause)
 * and the helpers the other restore files share; the lowest of them
 * (restore.c describes the whole).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/restore_internal.h"

/* Reports the item with `text` as its cause. */
void astra__rs_report_text(rs *s, const char *rel, const char *text)
{
	pthread_mutex_lock(&s->mu);
	astra__json *e = astra__json_new_object();
	if (e) {
		astra__json_set_str(e, "path", *rel ? rel : ".");
		astra__json_set_str(e, "error", text);
		astra__json_push(s->report, e);
	}
	pthread_mutex_unlock(&s->mu);
	astra__log_warn("cannot restore %s: %s", *rel ? rel : ".", text);
}

/* Reports the item with the last error's message. */
void astra__rs_report(rs *s, const char *rel, const char *what)
{
	char full[1200];
	snprintf(full, sizeof(full), "%s: %s", what,
	        astra_error_last()->message);
	astra__rs_report_text(s, rel, full);
}

/* A printable copy of n bytes: control bytes, NUL, DEL, '\\' and (with
 * slash) '/' as \xNN, so that a refused name shows as what it is. */
char *astra__rs_escaped(const char *p, size_t n, int slash)
{
	char *out = astra__malloc(n * 4 + 1);
	if (!out)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '\\' || (slash && c == '/')) {
			snprintf(out + k, 5, "\\x%02x", c);
			k += 4;
		} else {
			out[k++] = (char)c;
		}
	}
	out[k] = '\0';
	return out;
}

/* 1 when the caller asked to replace what is in the way. */
int astra__rs_overwrite(const rs *s)
{
	return (s->flags & (ASTRA_DATA_RESTORE_F_OVERWRITE |
	                           ASTRA_DATA_RESTORE_F_DELETE_EXTRAS)) != 0;
}
