/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"

static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			k = 1;
		else if ((c & 0xf0) == 0xe0)
			k = 2;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

int astra__tree_set_name(
        astra__json *node, const char *field, const char *name, size_t len)
{
	if (valid_utf8((const unsigned char *)name, len)) {
		char *copy = astra__strndup(name, len);
		if (!copy)
			return ASTRA_ENOMEM;
		int r = astra__json_set_str(node, field, copy);
		free(copy);
		return r;
	}
	astra_buf b = ASTRA_BUF_INIT;
	char f[64];
	snprintf(f, sizeof(f), "%s_b64", field);
	int rc = astra__base64_encode(&b, name, len);
	if (!rc)
		rc = astra__json_set_str(node, f, b.ptr);
	astra_buf_dispose(&b);
	return rc;
}

char *astra__tree_get_name(const astra__json *node, const char *field)
{
	const char *s = astra__json_str(node, field);
	if (s)
		return astra__strdup(s);
	char f[64];
	snprintf(f, sizeof(f), "%s_b64", field);
	s = astra__json_str(node, f);
	if (!s) {
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "tree node has no %s", field);
		return NULL;
	}
	astra_buf b = ASTRA_BUF_INIT;
	if (astra__base64_decode(&b, s, strlen(s)) != 0) {
		astra_buf_dispose(&b);
		return NULL;
	}
	if (memchr(b.ptr, 0, b.size)) {
		astra_buf_dispose(&b);
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "tree node %s contains a NUL byte", field);
		return NULL;
	}
	return astra__buf_detach(&b);
}

static int set_time(
        astra__json *node, const char *field, const struct timespec *ts)
{
	astra__json *a = astra__json_new_array();
	if (!a)
		return ASTRA_ENOMEM;
	astra__json_push(a, astra__json_new_number((double)ts->tv_sec));
	astra__json_push(a, astra__json_new_number((double)ts->tv_nsec));
	return astra__json_set(node, field, a);
}

int astra__tree_get_time(
        const astra__json *node, const char *field, struct timespec *ts)
{
	const astra__json *a = astra__json_get(node, field);
	if (astra__json_type_of(a) != ASTRA_JSON_ARRAY ||
	        astra__json_size(a) != 2)
		return ASTRA_ENOTFOUND;
	double s = astra__json_number_value(astra__json_at(a, 0));
	double ns = astra__json_number_value(astra__json_at(a, 1));
	/* (out of range, the conversions would be undefined) */
	if (!(s > -9.2e18 && s < 9.2e18) || !(ns >= 0 && ns <= 999999999))
		return ASTRA_ECORRUPT;
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)ns;
	return 0;
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "file";
	if (S_ISDIR(m))
		return "dir";
	if (S_ISLNK(m))
		return "symlink";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISCHR(m))
		return "chardev";
	if (S_ISBLK(m))
		return "blockdev";
	if (S_ISSOCK(m))
		return "socket";
	return "unknown";
}

int astra__tree_set_stat(astra__json *node, const struct stat *sb)
{
	char hex[40];
	int rc = astra__json_set_str(node, "type", type_name(sb->st_mode));
	if (!rc)
		rc = astra__json_set_int(node, "mode", sb->st_mode & 07777);
	if (!rc)
		rc = astra__json_set_int(node, "uid", sb->st_uid);
	if (!rc)
		rc = astra__json_set_int(node, "gid", sb->st_gid);
	if (!rc)
		rc = set_time(node, "mtime", &sb->st_mtim);
	if (!rc)
		rc = set_time(node, "ctime", &sb->st_ctim);
	if (!rc && (S_ISREG(sb->st_mode) || S_ISLNK(sb->st_mode)))
		rc = astra__json_set_int(node, "size", sb->st_size);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)sb->st_ino);
	if (!rc)
		rc = astra__json_set_str(node, "inode", hex);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)sb->st_dev);
	if (!rc)
		rc = astra__json_set_str(node, "dev", hex);
	if (!rc && sb->st_nlink > 1 && !S_ISDIR(sb->st_mode))
		rc = astra__json_set_int(node, "nlink", (int64_t)sb->st_nlink);
	if (!rc && (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode))) {
		snprintf(hex, sizeof(hex), "%llx",
		        (unsigned long long)sb->st_rdev);
		rc = astra__json_set_str(node, "rdev", hex);
	}
	return rc;
}

static char *hex_u64(char *end, unsigned long long v)
{
	/* writes backwards from end (NUL included), like "%llx" */
	*--end = '\0';
	do {
		*--end = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	return end;
}

static int same_str(const astra__json *v, const char *s)
{
	const char *x = astra__json_string_value(v);
	return x && strcmp(x, s) == 0;
}

static int same_num(const astra__json *v, double d)
{
	return astra__json_type_of(v) == ASTRA_JSON_NUMBER &&
	       astra__json_number_value(v) == d;
}

static int same_time(const astra__json *v, const struct timespec *ts)
{
	const astra__json *s = astra__json_first(v);
	const astra__json *ns = astra__json_next(s);
	return astra__json_type_of(v) == ASTRA_JSON_ARRAY && s && ns &&
	       !astra__json_next(ns) && same_num(s, (double)ts->tv_sec) &&
	       same_num(ns, (double)ts->tv_nsec);
}

/* Whether member m is what astra__tree_set_name(field, s, len) sets. */
static int same_name(
        const astra__json *m, const char *field, const char *s, size_t len)
{
	const char *key = astra__json_key(m);
	const char *val = astra__json_string_value(m);
	if (!key || !val)
		return 0;
	if (valid_utf8((const unsigned char *)s, len))
		return strcmp(key, field) == 0 && strlen(val) == len &&
		       memcmp(val, s, len) == 0;
	size_t fl = strlen(field);
	if (strncmp(key, field, fl) != 0 || strcmp(key + fl, "_b64") != 0)
		return 0;
	astra_buf b = ASTRA_BUF_INIT;
	int eq = astra__base64_encode(&b, s, len) == 0 && b.ptr &&
	         strcmp(b.ptr, val) == 0;
	astra_buf_dispose(&b);
	return eq;
}

/* Whether xattrs is an object add_xattrs (backup.c) could have built:
 * not empty, every value a string. */
static int xattrs_shape(const astra__json *x)
{
	if (astra__json_type_of(x) != ASTRA_JSON_OBJECT ||
	        !astra__json_first(x))
		return 0;
	for (const astra__json *v = astra__json_first(x); v;
	        v = astra__json_next(v))
		if (!astra__json_string_value(v))
			return 0;
	return 1;
}

int astra__tree_same_node(const astra__json *node, const char *name,
        const struct stat *sb, const char *target, size_t tlen,
        const astra__json **extents)
{
	mode_t m = sb->st_mode;
	char ino[24], dev[24], rdev[24];
	if (S_ISDIR(m) || astra__json_type_of(node) != ASTRA_JSON_OBJECT)
		return 0;
	/* the members in the order astra__tree_set_name,
	 * astra__tree_set_stat and backup.c set them */
	const astra__json *it = astra__json_first(node);
#define NEXT(k)                                          \
	(it && strcmp(astra__json_key(it), (k)) == 0     \
	                ? (it = astra__json_next(it), 1) \
	                : 0)
	const astra__json *cur;
#define TAKE(k) ((cur = it), NEXT(k))
	if (!it || !same_name(it, "name", name, strlen(name)))
		return 0;
	it = astra__json_next(it);
	if (!(TAKE("type") && same_str(cur, type_name(m))) ||
	        !(TAKE("mode") && same_num(cur, m & 07777)) ||
	        !(TAKE("uid") && same_num(cur, sb->st_uid)) ||
	        !(TAKE("gid") && same_num(cur, sb->st_gid)) ||
	        !(TAKE("mtime") && same_time(cur, &sb->st_mtim)) ||
	        !(TAKE("ctime") && same_time(cur, &sb->st_ctim)))
		return 0;
	if ((S_ISREG(m) || S_ISLNK(m)) &&
	        !(TAKE("size") && same_num(cur, (double)sb->st_size)))
		return 0;
	if (!(TAKE("inode") &&
	            same_str(cur, hex_u64(ino + sizeof(ino),
	                                  (unsigned long long)sb->st_ino))) ||
	        !(TAKE("dev") &&
	                same_str(cur, hex_u64(dev + sizeof(dev),
	                                      (unsigned long long)sb->st_dev))))
		return 0;
	if (sb->st_nlink > 1 &&
	        !(TAKE("nlink") && same_num(cur, (double)sb->st_nlink)))
		return 0;
	if ((S_ISCHR(m) || S_ISBLK(m)) &&
	        !(TAKE("rdev") &&
	                same_str(
	                        cur, hex_u64(rdev + sizeof(rdev),
	                                     (unsigned long long)sb->st_rdev))))
		return 0;
	/* extended attributes: taken as unchanged (see the header) */
	if (TAKE("xattrs") && !xattrs_shape(cur))
		return 0;
	if (S_ISLNK(m)) {
		if (!it || !same_name(it, "target", target, tlen))
			return 0;
		it = astra__json_next(it);
	} else if (S_ISREG(m)) {
		if (!TAKE("extents"))
			return 0;
		*extents = cur;
	}
#undef TAKE
#undef NEXT
	return it == NULL;
}

int astra__tree_load(astra__repo *r, const astra__id *id, astra__json **out)
{
	astra_buf b = ASTRA_BUF_INIT;
	char hex[ASTRA_ID_HEX];
	*out = NULL;
	astra__id_hex(id, hex);
	int rc = astra__repo_read_blob(r, id, &b);
	if (!rc)
		rc = astra__json_parse_fast(out, b.ptr, b.size, hex);
	astra_buf_dispose(&b);
	if (!rc && astra__json_type_of(astra__json_get(*out, "nodes")) !=
	                   ASTRA_JSON_ARRAY) {
		astra__json_free(*out);
		*out = NULL;
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "tree %s is damaged: no nodes", hex);
	}
	if (rc)
		astra__err_prefix(rc, "tree %.16s", hex);
	return rc;
}

const astra__json *astra__tree_find(const astra__json *tree, const char *name)
{
	const astra__json *nodes = astra__json_get(tree, "nodes");
	size_t lo = 0, hi = astra__json_size(nodes);
	/* nodes are sorted by name (bytewise) when written; names stored as
	 * base64 break the order, so fall back to a scan */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const astra__json *n = astra__json_at(nodes, mid);
		const char *nm = astra__json_str(n, "name");
		if (!nm)
			break;
		int c = strcmp(nm, name);
		if (c == 0)
			return n;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < astra__json_size(nodes); i++) {
		const astra__json *n = astra__json_at(nodes, i);
		char *nm = astra__tree_get_name(n, "name");
		int eq = nm && strcmp(nm, name) == 0;
		free(nm);
		if (eq)
			return n;
	}
	return NULL;
}

int astra__snapshot_save(astra__repo *r, astra__json *rec, char id_out[33])
{
	uint8_t raw[16];
	char id[33], key[64];
	int rc = astra__random(raw, sizeof(raw));
	if (rc)
		return rc;
	astra__hex_encode(id, raw, sizeof(raw));
	if ((rc = astra__json_set_str(rec, "id", id)))
		return rc;
	snprintf(key, sizeof(key), "snapshots/%s", id);
	rc = astra__repo_put_json(r, key, rec, ASTRA_PUT_IF_ABSENT);
	if (!rc && id_out)
		memcpy(id_out, id, 33);
	return rc;
}

typedef struct {
	const char *prefix;
	size_t plen;
	char match[33];
	int count;
	astra__json *all;
	astra__repo *r;
	int rc;
} find_ctx;

static int find_cb(const astra__obj_info *info, void *payload)
{
	find_ctx *f = payload;
	const char *id = info->key + strlen("snapshots/");
	if (strlen(id) != 32)
		return 0;
	if (strncmp(id, f->prefix, f->plen) == 0) {
		if (f->count++ == 0)
			memcpy(f->match, id, 33);
	}
	return 0;
}

int astra__snapshot_load(astra__repo *r, const char *id_or_prefix,
        astra__json **out, char id_out[33])
{
	*out = NULL;
	size_t n = id_or_prefix ? strlen(id_or_prefix) : 0;
	if (n < 4 || n > 32 || strspn(id_or_prefix, "0123456789abcdef") != n)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "\"%s\" is not a snapshot id (4 to 32 lower-case hex "
		        "digits)",
		        id_or_prefix ? id_or_prefix : "");
	find_ctx f = { id_or_prefix, n, "", 0, NULL, r, 0 };
	int rc = astra__store_list(r->store, "snapshots/", find_cb, &f);
	if (rc < 0)
		return rc;
	if (f.count == 0)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
		        "snapshot %s not found in %s", id_or_prefix,
		        r->store->url);
	if (f.count > 1)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_REPO,
		        "snapshot id prefix %s is ambiguous (%d snapshots)",
		        id_or_prefix, f.count);
	char key[64];
	snprintf(key, sizeof(key), "snapshots/%s", f.match);
	rc = astra__repo_get_json(r, key, out);
	if (!rc && id_out)
		memcpy(id_out, f.match, 33);
	return rc;
}

static int list_cb(const astra__obj_info *info, void *payload)
{
	find_ctx *f = payload;
	astra__json *rec = NULL;
	int rc = astra__repo_get_json(f->r, info->key, &rec);
	if (rc == ASTRA_ECORRUPT || rc == ASTRA_EPARSE) {
		/* a damaged record is reported, not fatal for listing */
		astra__json *bad = astra__json_new_object();
		if (!bad)
			return ASTRA_ENOMEM;
		astra__json_set_str(
		        bad, "id", info->key + strlen("snapshots/"));
		astra__json_set_str(bad, "error", astra_error_last()->message);
		return astra__json_push(f->all, bad);
	}
	if (rc)
		return rc;
	return astra__json_push(f->all, rec);
}

static int cmp_time(const void *a, const void *b)
{
	const astra__json *x = *(astra__json *const *)a;
	const astra__json *y = *(astra__json *const *)b;
	/* time_ns (decimal, fixed width for centuries) orders within a
	 * second; records without it fall back to the RFC 3339 time */
	const char *nx = astra__json_str(x, "time_ns");
	const char *ny = astra__json_str(y, "time_ns");
	if (nx && ny && strlen(nx) != strlen(ny))
		return strlen(nx) < strlen(ny) ? -1 : 1;
	if (nx && ny)
		return strcmp(nx, ny);
	const char *tx = astra__json_str(x, "time");
	const char *ty = astra__json_str(y, "time");
	return strcmp(tx ? tx : "", ty ? ty : "");
}

int astra__snapshot_list(astra__repo *r, astra__json **out)
{
	find_ctx f = { "", 0, "", 0, NULL, r, 0 };
	*out = NULL;
	astra__json *tmp = astra__json_new_array();
	if (!tmp)
		return ASTRA_ENOMEM;
	f.all = tmp;
	int rc = astra__store_list(r->store, "snapshots/", list_cb, &f);
	if (rc < 0) {
		astra__json_free(tmp);
		return rc;
	}
	/* sort by time: detach into an array, sort, re-add */
	size_t n = astra__json_size(tmp);
	astra__json **v = astra__calloc(n + 1, sizeof(*v));
	astra__json *sorted = astra__json_new_array();
	if (!v || !sorted) {
		free(v);
		astra__json_free(sorted);
		astra__json_free(tmp);
		return ASTRA_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = astra__json_dup(astra__json_at(tmp, i));
	qsort(v, n, sizeof(*v), cmp_time);
	for (size_t i = 0; i < n; i++)
		astra__json_push(sorted, v[i]);
	free(v);
	astra__json_free(tmp);
	*out = sorted;
	return 0;
}

int astra__snapshot_delete(astra__repo *r, const char *id)
{
	char key[64];
	snprintf(key, sizeof(key), "snapshots/%s", id);
	return astra__store_del(r->store, key);
}
