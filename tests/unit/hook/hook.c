/*
 * Hooks as pure logic: definition validation, container matching, and the
 * execution order of a stage (hooks by name, containers by namespace, pod
 * and container).
 */
#include <string.h>

#include "astra_test.h"
#include "fmt/json.h"
#include "hook/hook.h"

static astra__json *js(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	return j;
}

static int parse(astra__hook *h, const char *def)
{
	astra__json *j = js(def);
	int rc = astra__hook_parse(h, j, NULL, 0);
	astra__json_free(j);
	return rc;
}

Test(hook, parse_defaults_and_round_trip)
{
	astra__hook h;
	cr_assert_astra_ok(parse(&h, "{\"name\":\"flush\",\"stage\":"
	                             "\"pre-snapshot\",\"script\":\"sync\"}"));
	cr_assert_eq(h.timeout_s, 60);
	cr_assert_eq(h.on_error, ASTRA_HOOK_ON_ERROR_FAIL);
	cr_assert_eq(h.nargs, 0);
	astra__json *j = astra__hook_json(&h, 1);
	cr_assert_str_eq(astra__json_str(j, "script"), "sync");
	cr_assert_str_eq(astra__json_str(j, "onError"), "fail");
	astra__hook h2;
	cr_assert_astra_ok(astra__hook_parse(&h2, j, NULL, 0));
	cr_assert_str_eq(h2.name, "flush");
	astra__json_free(j);
	astra__hook_clear(&h);
	astra__hook_clear(&h2);
}

static void refused(const char *def, const char *words)
{
	astra__hook h;
	cr_assert_astra_fail(parse(&h, def), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, words),
	        "\"%s\" not in: %s", words, astra_error_last()->message);
}

Test(hook, parse_refusals)
{
	refused("{\"name\":\"Bad_Name\",\"stage\":\"pre-snapshot\","
	        "\"script\":\"x\"}",
	        "DNS label");
	refused("{\"name\":\"a\",\"stage\":\"mid-restore\",\"script\":\"x\"}",
	        "stage \"mid-restore\" is not one of pre-snapshot, "
	        "post-snapshot, pre-backup, post-backup, pre-restore, "
	        "post-restore");
	refused("{\"name\":\"a\",\"stage\":\"post-backup\",\"script\":\"\"}",
	        "empty");
	refused("{\"name\":\"a\",\"stage\":\"post-backup\",\"script\":\"x\","
	        "\"imageRegex\":\"[\"}",
	        "image regex");
	refused("{\"name\":\"a\",\"stage\":\"post-backup\",\"script\":\"x\","
	        "\"timeoutSeconds\":0}",
	        "timeout");
	refused("{\"name\":\"a\",\"stage\":\"post-backup\",\"script\":\"x\","
	        "\"onError\":\"ignore\"}",
	        "onError");
	refused("{\"name\":\"a\",\"stage\":\"post-backup\",\"script\":\"x\","
	        "\"args\":[1]}",
	        "argument 1");
	astra__hook h;
	astra__json *j = js("{\"name\":\"a\",\"stage\":\"post-backup\","
	                    "\"selector\":\"app in (a,\"}");
	cr_assert_lt(astra__hook_parse(&h, j, "x", 1), 0);
	cr_assert(strstr(astra_error_last()->message, "selector"));
	/* 64 KiB is the limit, and NUL bytes are refused */
	static char big[ASTRA_HOOK_SCRIPT_MAX + 1];
	memset(big, 'x', sizeof(big));
	cr_assert_astra_fail(
	        astra__hook_parse(&h, j, big, sizeof(big)), ASTRA_EINVALID);
	astra__json_del(j, "selector");
	cr_assert_astra_ok(astra__hook_parse(&h, j, big, sizeof(big) - 1));
	astra__hook_clear(&h);
	cr_assert_astra_fail(
	        astra__hook_parse(&h, j, "a\0b", 3), ASTRA_EINVALID);
	astra__json_free(j);
}

Test(hook, matching)
{
	astra__hook h;
	cr_assert_astra_ok(parse(&h,
	        "{\"name\":\"a\",\"stage\":\"pre-snapshot\",\"script\":\"x\","
	        "\"namespaceRegex\":\"^shop$\",\"podRegex\":\"^db-\","
	        "\"containerRegex\":\"postgres\",\"imageRegex\":"
	        "\"postgres:1[56]\",\"selector\":\"tier=db,!canary\"}"));
	astra__json *l = js("{\"tier\":\"db\"}");
	astra__json *canary = js("{\"tier\":\"db\",\"canary\":\"1\"}");
	cr_assert(astra__hook_matches(
	        &h, "shop", "db-0", "postgres", "postgres:16", l));
	cr_assert_not(astra__hook_matches(
	        &h, "shop2", "db-0", "postgres", "postgres:16", l));
	cr_assert_not(astra__hook_matches(
	        &h, "shop", "web-0", "postgres", "postgres:16", l));
	cr_assert_not(astra__hook_matches(
	        &h, "shop", "db-0", "sidecar", "postgres:16", l));
	cr_assert_not(astra__hook_matches(
	        &h, "shop", "db-0", "postgres", "postgres:14", l));
	cr_assert_not(astra__hook_matches(
	        &h, "shop", "db-0", "postgres", "postgres:16", canary));
	cr_assert_not(astra__hook_matches(
	        &h, "shop", "db-0", "postgres", "postgres:16", NULL));
	astra__hook_clear(&h);
	/* no filters: everything */
	cr_assert_astra_ok(parse(&h, "{\"name\":\"b\",\"stage\":"
	                             "\"post-restore\",\"script\":\"x\"}"));
	cr_assert(astra__hook_matches(&h, "n", "p", "c", NULL, NULL));
	astra__hook_clear(&h);
	astra__json_free(l);
	astra__json_free(canary);
}

static const char *pods_json =
        "[{\"metadata\":{\"namespace\":\"b\",\"name\":\"web\",\"labels\":"
        "{\"role\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\","
        "\"image\":\"nginx\"}]},\"status\":{\"phase\":\"Running\","
        "\"containerStatuses\":[{\"name\":\"nginx\",\"state\":{\"running\":"
        "{}}}]}},"
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"db-1\",\"labels\":"
        "{\"role\":\"db\"}},\"spec\":{\"containers\":[{\"name\":\"pg\","
        "\"image\":\"postgres\"},{\"name\":\"agent\",\"image\":\"busybox\"}]},"
        "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":"
        "\"pg\",\"state\":{\"running\":{}}},{\"name\":\"agent\",\"state\":"
        "{\"waiting\":{}}}]}},"
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"db-0\",\"labels\":"
        "{\"role\":\"db\"}},\"spec\":{\"containers\":[{\"name\":\"pg\","
        "\"image\":\"postgres\"}]},\"status\":{\"phase\":\"Pending\"}},"
        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"gone\","
        "\"deletionTimestamp\":\"x\"},\"spec\":{\"containers\":[{\"name\":"
        "\"pg\",\"image\":\"postgres\"}]},\"status\":{\"phase\":"
        "\"Running\"}}]";

static void add(astra__hook_set *s, const char *def)
{
	cr_assert_astra_ok(parse(&s->v[s->n], def));
	s->n++;
}

Test(hook, plan_order)
{
	astra__hook_set s = { 0 };
	s.v = calloc(8, sizeof(*s.v));
	/* created out of order; run by stage, then name */
	add(&s, "{\"name\":\"after\",\"stage\":\"post-restore\",\"script\":"
	        "\"x\"}");
	add(&s, "{\"name\":\"before\",\"stage\":\"pre-restore\",\"script\":"
	        "\"x\"}");
	add(&s, "{\"name\":\"zz-last\",\"stage\":\"pre-snapshot\",\"script\":"
	        "\"x\",\"selector\":\"role=db\"}");
	add(&s, "{\"name\":\"post\",\"stage\":\"post-snapshot\",\"script\":"
	        "\"x\"}");
	add(&s, "{\"name\":\"aa-first\",\"stage\":\"pre-snapshot\",\"script\":"
	        "\"x\",\"imageRegex\":\"^(nginx|postgres)$\"}");
	add(&s, "{\"name\":\"backup\",\"stage\":\"pre-backup\",\"script\":"
	        "\"x\"}");
	astra__hook_set_sort(&s);
	cr_assert_str_eq(s.v[0].name, "aa-first");
	cr_assert_str_eq(s.v[1].name, "zz-last");
	cr_assert_str_eq(s.v[2].name, "post");
	cr_assert_str_eq(s.v[3].name, "backup");
	cr_assert_str_eq(s.v[4].name, "before");
	cr_assert_str_eq(s.v[5].name, "after");
	cr_assert(astra__hook_has_stage(&s, "pre-backup"));
	cr_assert(astra__hook_has_stage(&s, "pre-restore"));
	cr_assert_not(astra__hook_has_stage(&s, "pre-snapshot-x"));

	astra__json *pods = js(pods_json);
	astra__hook_target *t = NULL;
	size_t n = 0;
	cr_assert_astra_ok(astra__hook_plan(&s, "pre-snapshot", pods, &t, &n));
	/* aa-first: pg in a/db-0 (pending), pg in a/db-1, nginx in b/web;
	 * zz-last (role=db): a/db-0 pg, a/db-1 agent, a/db-1 pg */
	const char *want[][4] = { { "aa-first", "db-0", "pg", "1" },
		{ "aa-first", "db-1", "pg", "" },
		{ "aa-first", "web", "nginx", "" },
		{ "zz-last", "db-0", "pg", "1" },
		{ "zz-last", "db-1", "agent", "1" },
		{ "zz-last", "db-1", "pg", "" } };
	cr_assert_eq(n, 6, "%zu targets", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(
		        s.v[t[i].hook].name, want[i][0], "target %zu", i);
		cr_assert_str_eq(t[i].pod, want[i][1], "target %zu", i);
		cr_assert_str_eq(t[i].container, want[i][2], "target %zu", i);
		cr_assert_eq(t[i].not_running != NULL, want[i][3][0] == '1',
		        "target %zu", i);
	}
	free(t);
	cr_assert_astra_ok(astra__hook_plan(&s, "pre-restore", pods, &t, &n));
	cr_assert_eq(n, 4, "%zu", n); /* before: every container */
	free(t);
	cr_assert_astra_ok(astra__hook_plan(&s, "post-backup", pods, &t, &n));
	cr_assert_eq(n, 0);
	free(t);
	astra__json_free(pods);
	astra__hook_set_free(&s);
}

Test(hook, from_record)
{
	astra__json *arr = js("[{\"name\":\"b\",\"stage\":\"post-restore\","
	                      "\"script\":\"x\"},{\"name\":\"a\",\"stage\":"
	                      "\"post-restore\",\"script\":\"y\",\"args\":"
	                      "[\"1\"]}]");
	astra__hook_set s;
	cr_assert_astra_ok(astra__hook_from_json(arr, &s));
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.v[0].name, "a");
	cr_assert_str_eq(s.v[0].args[0], "1");
	astra__hook_set_free(&s);
	astra__json_free(arr);
	arr = js("[{\"name\":\"b\",\"stage\":\"post-restore\"}]");
	cr_assert_astra_fail(astra__hook_from_json(arr, &s), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "record"));
	astra__json_free(arr);
	/* no definitions at all (older records) */
	cr_assert_astra_ok(astra__hook_from_json(NULL, &s));
	cr_assert_eq(s.n, 0);
	astra__hook_set_free(&s);
}

Test(hook, printable_output)
{
	const char in[] = "ok\ttab\n\x01\x7f"
	                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80|"
	                  "\xc3(\xed\xa0\x80\xc0\xaf\0z\xe2\x82";
	char *s = astra__hook_printable(in, sizeof(in) - 1);
	cr_assert_str_eq(s, "ok\ttab\n\?\?caf\xc3\xa9 \xe2\x82\xac "
	                    "\xf0\x9f\x98\x80|\?(\?\?\?\?\?\?z\?\?");
	free(s);
	s = astra__hook_printable(NULL, 0);
	cr_assert_str_eq(s, "");
	free(s);
}
