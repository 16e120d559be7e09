/*
 * Vault URLs: splitting "scheme://authority/path?query" into its parts,
 * percent-decoding, the object-key prefix of the path, and the options of
 * the query string, parsed from a backend's declarative table (whose names
 * also make the "unknown option" message).
 *
 * Internal to lib/store; nothing here is exported.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_URL_H
#define ASTRA_STORE_URL_H

#include <stddef.h>

#include "astra/common.h"

/* ------------------------------------------------------------------ */
/* Splitting and decoding                                              */
/* ------------------------------------------------------------------ */

/*
 * The parts of "scheme://authority[/path][?query]", pointing into the URL:
 * the authority (bucket or container) runs up to the first '/', '?' or
 * '#'; the path from there up to the first '?'; the query after it.
 */
typedef struct {
	const char *scheme; /* "s3" (without "://") */
	size_t scheme_len;
	const char *authority;
	size_t authority_len;
	const char *path; /* "" or "/dir/sub" (may hold '#') */
	size_t path_len;
	const char *query; /* after '?'; NULL without one */
} astra__url_parts;

/* 1 when url has a "scheme://" (then *out is filled), 0 when not. */
int astra__url_split(const char *url, astra__url_parts *out);

/* s[0..n) percent-decoded ('+' is a space; a '%' not followed by two hex
 * digits stays); NULL when out of memory. */
char *astra__url_pct_decode(const char *s, size_t n);

/*
 * The object-key prefix of a vault URL from its n bytes of path at p:
 * segments percent-decoded, each followed by "/" ("" for none); empty
 * segments are skipped, "." , ".." and "#" are refused naming the URL.
 */
int astra__url_prefix(const char *url, const char *p, size_t n, char **out);

/*
 * The authority and the prefix of an object-store URL. An empty authority
 * is refused: "vault URL <url>: no <what> (expected <example>)".
 * *authority and *prefix are allocated; *query points into url (NULL:
 * none).
 */
int astra__url_object(const char *url, const char *what, const char *example,
        char **authority, char **prefix, const char **query);

/*
 * astra__url_object, then `valid` on the authority: "vault URL <url>:
 * \"<authority>\" is not a valid <what><hint>" when it fails (hint may be
 * "").
 */
int astra__url_named_object(const char *url, const char *what,
        const char *example, int (*valid)(const char *), const char *hint,
        char **authority, char **prefix, const char **query);

/* "<scheme>://<authority>/<prefix>" without a trailing '/': the URL a store
 * names itself by in messages (no options, so no credentials). */
char *astra__url_display(
        const char *scheme, const char *authority, const char *prefix);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/*
 * The next KEY=VALUE of a URL's query string (both percent-decoded; a bare
 * KEY has the value ""), advancing *q: 1 with *k and *v to free, 0 at the
 * end, ASTRA_ENOMEM.
 */
int astra__url_opt_next(const char **q, char **k, char **v);
/* 1/true/yes/"" or 0/false/no; anything else is refused naming the URL. */
int astra__url_opt_bool(
        const char *url, const char *k, const char *v, int *out);
/* A number in [lo, hi]; anything else is refused naming url, k and v. */
int astra__url_opt_long(const char *url, const char *k, const char *v, long lo,
        long hi, long *out);

typedef enum {
	ASTRA__URL_OPT_STRING, /* char * (allocated; the last one given) */
	ASTRA__URL_OPT_BOOL, /* int: as astra__url_opt_bool */
	ASTRA__URL_OPT_AUTO_BOOL, /* int: "auto" is -1, else a bool */
	ASTRA__URL_OPT_LONG, /* long in [lo, hi] */
	ASTRA__URL_OPT_CHOICE /* int: the index of the value in choices */
} astra__url_opt_type;

/* One option of a backend: where its value goes in the backend's options
 * struct (off) and what it takes. */
typedef struct {
	const char *name;
	astra__url_opt_type type;
	size_t off;
	long lo, hi; /* LONG */
	const char *const *choices; /* CHOICE: NULL-terminated */
	const char *help; /* one line, for documentation and tests */
} astra__url_opt;

/* A backend's options: entries end with a NULL name; the names, in this
 * order, make the list of known options in the "unknown option" message,
 * followed by note (NULL: none). */
typedef struct {
	const astra__url_opt *opts;
	const char *note;
} astra__url_opt_table;

/* Table entries: option n sets field f of options struct T. */
#define ASTRA__URL_STR(n, T, f, h)                                      \
	{                                                               \
		n, ASTRA__URL_OPT_STRING, offsetof(T, f), 0, 0, NULL, h \
	}
#define ASTRA__URL_BOOL(n, T, f, h)                                   \
	{                                                             \
		n, ASTRA__URL_OPT_BOOL, offsetof(T, f), 0, 0, NULL, h \
	}
#define ASTRA__URL_AUTO_BOOL(n, T, f, h)                                   \
	{                                                                  \
		n, ASTRA__URL_OPT_AUTO_BOOL, offsetof(T, f), 0, 0, NULL, h \
	}
#define ASTRA__URL_LONG(n, T, f, lo, hi, h)                             \
	{                                                               \
		n, ASTRA__URL_OPT_LONG, offsetof(T, f), lo, hi, NULL, h \
	}
#define ASTRA__URL_CHOICE(n, T, f, c, h)                             \
	{                                                            \
		n, ASTRA__URL_OPT_CHOICE, offsetof(T, f), 0, 0, c, h \
	}
#define ASTRA__URL_END                                           \
	{                                                        \
		NULL, ASTRA__URL_OPT_STRING, 0, 0, 0, NULL, NULL \
	}

/* The table's entry named k, or NULL. */
const astra__url_opt *astra__url_opt_find(
        const astra__url_opt *opts, const char *k);

/*
 * Sets option k to *v in the struct at dst when opts has it: 1 when set (a
 * string value is moved out of *v), 0 when opts has no k, or ASTRA_EINVALID
 * naming url, k and the value.
 */
int astra__url_opt_set(const char *url, const astra__url_opt *opts,
        const char *k, char **v, void *dst);

/*
 * Every option of the query string q (NULL: none) into dst, in order (a
 * later value replaces an earlier one). An option not in the table is
 * refused: 'vault URL <url>: unknown option "<k>" (known: <names><note>)'.
 */
int astra__url_opts_parse(const char *url, const char *q,
        const astra__url_opt_table *t, void *dst);

/* Frees the STRING options of the struct at dst (and sets them to NULL). */
void astra__url_opts_free(const astra__url_opt_table *t, void *dst);

#endif
