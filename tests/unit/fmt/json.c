/*
 * astra__json_parse_fast: the same items as cJSON's parser (printed the
 * same, equal, appendable), and cJSON's result and error for what it does
 * not take itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fmt/json.h"

/* Parses text both ways; both must succeed or fail alike, and print alike. */
static void both(const char *text, size_t len, int want_ok)
{
	astra__json *a = NULL, *b = NULL;
	int ra = astra__json_parse(&a, text, len, "doc");
	char ea[512];
	snprintf(ea, sizeof(ea), "%s", astra_error_last()->message);
	int rb = astra__json_parse_fast(&b, text, len, "doc");
	cr_assert_eq(ra, rb, "%.*s: %d vs %d", (int)len, text, ra, rb);
	cr_assert_eq(ra == 0, want_ok, "%.*s: %d", (int)len, text, ra);
	if (ra) {
		cr_assert_str_eq(astra_error_last()->message, ea);
		return;
	}
	char *pa = NULL, *pb = NULL;
	cr_assert_astra_ok(astra__json_print(&pa, a, 0));
	cr_assert_astra_ok(astra__json_print(&pb, b, 0));
	cr_assert_str_eq(pa, pb);
	/* the compact printer writes cJSON's bytes */
	astra_buf pr = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__json_print_buf(&pr, b, 0));
	cr_assert_str_eq(pr.ptr, pa);
	astra_buf_dispose(&pr);
	/* (cJSON_Compare finds members by key: not with duplicate keys) */
	cr_assert(
	        astra__json_equal(a, b) || strstr(text, "\"dup\""), "%s", text);
	/* a copy is the same too (shared keys are kept shared) */
	astra__json *c = astra__json_dup(b);
	char *pc = NULL;
	cr_assert_astra_ok(astra__json_print(&pc, c, 0));
	cr_assert_str_eq(pa, pc);
	free(pc);
	astra__json_free(c);
	free(pa);
	free(pb);
	astra__json_free(a);
	astra__json_free(b);
}

static void ok(const char *text)
{
	both(text, strlen(text), 1);
}

static void bad(const char *text)
{
	both(text, strlen(text), 0);
}

Test(fmt_json, fast_parse_builds_what_cjson_builds)
{
	ok("{\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	   "\"uid\":0,\"gid\":0,\"mtime\":[1700000000,123456789],"
	   "\"ctime\":[1700000000,5],\"size\":6031056249,\"inode\":\"1f\","
	   "\"dev\":\"803\",\"xattrs\":{\"user.x\":\"dmFs\"},\"extents\":"
	   "[{\"offset\":0,\"chunks\":[[\"abc\",1048576]]}]}]}");
	ok("  [ ]  ");
	ok("{}");
	ok("[[],{},[[[]]],{\"a\":{}}]");
	ok("[true,false,null,0,-0,-1,7,123456789012345,-123456789012345]");
	ok("[2147483647,2147483648,-2147483648,-2147483649]");
	/* numbers it leaves to cJSON */
	ok("[1.5,1e3,-2.25E-2,1234567890123456,12345678901234567890]");
	/* strings: escapes, non-ASCII, \u (left to cJSON) */
	ok("[\"q\\\"b\\\\s\\/n\\n\\r\\t\\b\\f\",\"\xc3\xa9t\xc3\xa9\"]");
	ok("{\"\\u00e9\":\"\\ud83d\\ude00\",\"name\":\"x\\u0001\"}");
	/* keys: the shared ones, others, prefixes of shared ones, escaped */
	ok("{\"nam\":1,\"names\":2,\"name\":3,\"na\\\"me\":4,\"size\":5}");
	ok("{\"dup\":1,\"size\":5,\"size\":6}");
	/* trailing white space and NULs are allowed */
	both("{\"a\":1}\n\0\0", 10, 1);
	bad("");
	bad("{");
	bad("{\"a\"}");
	bad("{\"a\":1,}");
	bad("[1,]");
	ok("[01]"); /* (cJSON takes it: strtod) */
	bad("[1 2]");
	bad("[tru]");
	bad("{\"a\":1} x");
	bad("[\"abc");
	bad("[-]");
}

Test(fmt_json, fast_parse_nesting_is_limited_like_cjson)
{
	char deep[2100];
	for (int n = 999; n <= 1001; n++) {
		memset(deep, '[', (size_t)n);
		memset(deep + n, ']', (size_t)n);
		both(deep, 2 * (size_t)n, n <= 1000);
	}
}

Test(fmt_json, fast_parsed_containers_can_grow)
{
	astra__json *j = NULL;
	const char *t = "{\"nodes\":[1,2,3],\"name\":\"x\"}";
	cr_assert_astra_ok(astra__json_parse_fast(&j, t, strlen(t), "doc"));
	astra__json *nodes = astra__json_get(j, "nodes");
	cr_assert_astra_ok(astra__json_push(nodes, astra__json_new_number(4)));
	cr_assert_astra_ok(astra__json_set_str(j, "name", "y"));
	cr_assert_astra_ok(astra__json_set_int(j, "size", 9));
	astra__json *copy = astra__json_dup(nodes);
	astra__json_del(j, "nodes");
	cr_assert_astra_ok(astra__json_set(j, "nodes", copy));
	char *p = NULL;
	cr_assert_astra_ok(astra__json_print(&p, j, 0));
	cr_assert_str_eq(p, "{\"name\":\"y\",\"size\":9,\"nodes\":[1,2,3,4]}");
	free(p);
	astra__json_free(j);
}

Test(fmt_json, compact_printing_is_cjsons_byte_for_byte)
{
	const double nums[] = { 0, -0.0, 1, -1, 0.1, 1.5, -2.25, 1e-7, 1e15,
		-1e15, 999999999999999, 1e15 - 1, 1e15 + 1, 1e16, 1e300,
		2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0,
		9007199254740993.0, 6031056249.0, 1.0 / 3, 123456.789, NAN,
		INFINITY, -INFINITY, 5e-324, 1.7976931348623157e308 };
	astra__json *a = astra__json_new_array();
	for (size_t i = 0; i < sizeof(nums) / sizeof(*nums); i++)
		astra__json_push(a, astra__json_new_number(nums[i]));
	astra__json *o = astra__json_new_object();
	astra__json_set_str(
	        o, "ctl\x01\x1f\x7f", "\"\\/\b\f\n\r\t\x02 \xc3\xa9\xff");
	astra__json_set_str(o, "", "");
	astra__json_set(o, "t", astra__json_new_bool(1));
	astra__json_set(o, "f", astra__json_new_bool(0));
	astra__json_set(o, "n", astra__json_new_null());
	astra__json_set(o, "e", astra__json_new_object());
	astra__json_set(o, "a", a);
	char *want = NULL;
	cr_assert_astra_ok(astra__json_print(&want, o, 0));
	astra_buf got = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__buf_put(&got, "x", 1));
	cr_assert_astra_ok(astra__json_print_buf(&got, o, 0));
	cr_assert_str_eq(got.ptr + 1, want, "appended after what was there");
	astra_buf_dispose(&got);
	free(want);
	astra__json_free(o);
}
