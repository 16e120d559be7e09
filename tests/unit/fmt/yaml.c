#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "fmt/json.h"
#include "fmt/yaml.h"

static astra__json *parse(const char *y)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__yaml_parse(&j, y, strlen(y), "test.yaml"));
	return j;
}

static char *to_json(const char *y)
{
	astra__json *j = parse(y);
	char *s;
	cr_assert_astra_ok(astra__json_print(&s, j, 0));
	astra__json_free(j);
	return s;
}

static void expect_json(const char *y, const char *want)
{
	char *s = to_json(y);
	cr_assert_str_eq(s, want, "YAML:\n%s\ngave %s", y, s);
	free(s);
}

static void expect_error(const char *y, const char *needle)
{
	astra__json *j = NULL;
	cr_assert_astra_fail(
	        astra__yaml_parse(&j, y, strlen(y), "bad.yaml"), ASTRA_EPARSE);
	cr_assert_null(j);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "bad.yaml"), "message lacks the name: %s", m);
	cr_assert(strstr(m, needle), "message lacks \"%s\": %s", needle, m);
}

Test(fmt_yaml, maps_sequences_and_nesting)
{
	expect_json("a: 1\nb:\n  - x\n  - {c: d}\n",
	        "{\"a\":1,\"b\":[\"x\",{\"c\":\"d\"}]}");
}

Test(fmt_yaml, plain_scalars_are_typed)
{
	expect_json("[~, null, NULL, true, False, yes, NO, on, 12, -3, 0x1f, "
	            "0o17, 0644, 1.5, -2e3, .5, hello, 1.2.3, 09]",
	        "[null,null,null,true,false,true,false,true,12,-3,31,15,420,"
	        "1.5,-2000,0.5,\"hello\",\"1.2.3\",9]");
}

Test(fmt_yaml, quoted_and_block_scalars_stay_strings)
{
	expect_json("a: \"true\"\nb: '12'\nc: |\n  12\nd: !!str 5\ne: \"\"\n",
	        "{\"a\":\"true\",\"b\":\"12\",\"c\":\"12\\n\",\"d\":\"5\","
	        "\"e\":\"\"}");
}

Test(fmt_yaml, empty_value_is_null)
{
	expect_json("a:\nb: ~\n", "{\"a\":null,\"b\":null}");
}

Test(fmt_yaml, explicit_tags)
{
	expect_json("[!!int '7', !!float '2', !!bool 'yes', !!null '']",
	        "[7,2,true,null]");
	expect_error("a: !!int abc\n", "line 1");
}

Test(fmt_yaml, anchors_aliases_and_merge_keys)
{
	expect_json("base: &b {x: 1, y: 2}\n"
	            "one: *b\n"
	            "two:\n  <<: *b\n  y: 3\n"
	            "three:\n  <<: [{z: 1}, *b]\n",
	        "{\"base\":{\"x\":1,\"y\":2},\"one\":{\"x\":1,\"y\":2},"
	        "\"two\":{\"y\":3,\"x\":1},\"three\":{\"z\":1,\"x\":1,\"y\":2}}");
}

Test(fmt_yaml, json_input_is_accepted)
{
	expect_json("{\"kind\": \"List\", \"items\": [1, \"two\", null]}",
	        "{\"kind\":\"List\",\"items\":[1,\"two\",null]}");
}

Test(fmt_yaml, empty_stream_is_null)
{
	astra__json *j = parse("# only a comment\n");
	cr_assert_eq(astra__json_type_of(j), ASTRA_JSON_NULL);
	astra__json_free(j);
}

Test(fmt_yaml, multi_document_streams)
{
	const char *y = "---\na: 1\n---\n# nothing\n---\nb: 2\n...\n---\n- 3\n";
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__yaml_parse_all(&j, y, strlen(y), "m.yaml"));
	char *s;
	cr_assert_astra_ok(astra__json_print(&s, j, 0));
	cr_assert_str_eq(s, "[{\"a\":1},{\"b\":2},[3]]");
	free(s);
	astra__json_free(j);
	/* the single-document parser refuses two documents */
	cr_assert_astra_fail(
	        astra__yaml_parse(&j, y, strlen(y), "m.yaml"), ASTRA_EPARSE);
	cr_assert(strstr(astra_error_last()->message, "m.yaml: line 5"), "%s",
	        astra_error_last()->message);
}

Test(fmt_yaml, syntax_errors_name_file_and_line)
{
	expect_error("a: 1\nb: [1, 2\nc: 3\n", "line ");
	expect_error("a: 1\n  b: 2\n", "line 2");
	expect_error("key: \"unterminated\n", "line ");
}

Test(fmt_yaml, duplicate_keys_are_errors)
{
	expect_error(
	        "a: 1\nb: 2\na: 3\n", "line 3, column 1: duplicate key \"a\"");
}

Test(fmt_yaml, complex_keys_and_bad_aliases_are_errors)
{
	expect_error("? [a, b]\n: 1\n", "complex");
	expect_error("a: *nope\n", "unknown anchor \"nope\"");
	expect_error("a: &x [1, *x]\n", "recursive alias");
	expect_error("<<: 5\n", "merge key");
}

Test(fmt_yaml, infinity_is_refused_with_a_hint)
{
	expect_error("a: .inf\n", "quote it");
}

Test(fmt_yaml, billion_laughs_is_refused)
{
	const char *y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	                "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	                "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	expect_error(y, "billion laughs");
}

Test(fmt_yaml, deep_nesting_is_refused)
{
	char y[4096];
	memset(y, '[', 1000);
	y[1000] = 0;
	expect_error(y, "nesting");
}

Test(fmt_yaml, invalid_utf8_is_an_error)
{
	expect_error("a: \xff\xfe\n", "");
}

Test(fmt_yaml, parse_file_names_missing_files)
{
	astra__json *j;
	cr_assert_astra_fail(
	        astra__yaml_parse_file(&j, "/nonexistent/x.yaml", 0),
	        ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "/nonexistent/x.yaml"));
}

Test(fmt_yaml, garbage_never_crashes)
{
	static const char *inputs[] = { "", "-", ":", "? ", "&", "*", "!", "{",
		"[", "]", "}", "'", "\"", "|", ">", "%YAML 1.1\n", "---", "...",
		"a: [}", "- - - -", "!!map [1]", "a: !!seq {}", "\t", NULL };
	for (int i = 0; inputs[i]; i++) {
		astra__json *j = NULL;
		int rc = astra__yaml_parse(
		        &j, inputs[i], strlen(inputs[i]), "fuzz");
		cr_assert(rc == 0 || rc == ASTRA_EPARSE, "input %d: %d", i, rc);
		astra__json_free(j);
		rc = astra__yaml_parse_all(
		        &j, inputs[i], strlen(inputs[i]), "fuzz");
		cr_assert(rc == 0 || rc == ASTRA_EPARSE, "input %d: %d", i, rc);
		astra__json_free(j);
	}
}
