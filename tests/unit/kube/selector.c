/*
 * Label selectors: parsing, validation, matching, printing.
 */
#include <string.h>

#include "astra_test.h"
#include "fmt/json.h"
#include "kube/selector.h"

static astra__json *labels(const char *json)
{
	astra__json *j;
	cr_assert_astra_ok(astra__json_parse(&j, json, strlen(json), "labels"));
	return j;
}

static int matches(const char *sel, const char *json)
{
	astra__selector *s;
	cr_assert_astra_ok(astra__selector_parse(&s, sel));
	astra__json *l = labels(json);
	int m = astra__selector_matches(s, l);
	astra__json_free(l);
	astra__selector_free(s);
	return m;
}

static void canonical(const char *sel, const char *want)
{
	astra__selector *s;
	cr_assert_astra_ok(astra__selector_parse(&s, sel));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__selector_string(s, &b));
	cr_assert_str_eq(b.ptr, want, "selector \"%s\"", sel);
	astra_buf_dispose(&b);
	astra__selector_free(s);
}

static void invalid(const char *sel, const char *needle)
{
	astra__selector *s = NULL;
	cr_assert_astra_fail(astra__selector_parse(&s, sel), ASTRA_EINVALID);
	cr_assert_null(s);
	const char *m = astra_error_last()->message;
	cr_assert(strstr(m, "label selector"), "%s", m);
	cr_assert(strstr(m, needle), "selector \"%s\": %s", sel, m);
}

Test(kube_selector, empty_selector_matches_everything)
{
	cr_assert(matches("", "{}"));
	cr_assert(matches("  ", "{\"a\":\"b\"}"));
	astra__selector *s;
	cr_assert_astra_ok(astra__selector_parse(&s, NULL));
	cr_assert(astra__selector_empty(s));
	cr_assert(astra__selector_matches(s, NULL));
	astra__selector_free(s);
}

Test(kube_selector, equality_based)
{
	const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"empty\":\"\"}";
	cr_assert(matches("app=web", l));
	cr_assert(matches("app==web", l));
	cr_assert(matches("app = web , tier=front", l));
	cr_assert_not(matches("app=db", l));
	cr_assert(matches("app!=db", l));
	cr_assert(matches("missing!=x", l), "!= matches a missing label");
	cr_assert_not(matches("app!=web", l));
	cr_assert(matches("empty=", l));
	cr_assert_not(matches("app=", l));
}

Test(kube_selector, set_based)
{
	const char *l = "{\"env\":\"prod\",\"app\":\"web\"}";
	cr_assert(matches("env in (prod, staging)", l));
	cr_assert_not(matches("env in (dev)", l));
	cr_assert(matches("env notin (dev,qa)", l));
	cr_assert_not(matches("env notin (prod)", l));
	cr_assert(matches("region notin (eu)", l),
	        "notin matches a missing label");
	cr_assert_not(matches("region in (eu)", l));
	cr_assert(matches("app", l));
	cr_assert_not(matches("!app", l));
	cr_assert(matches("!region", l));
	cr_assert_not(matches("region", l));
	cr_assert(matches("env in (prod),app,!region", l));
}

Test(kube_selector, numeric_comparison)
{
	const char *l = "{\"replicas\":\"5\",\"name\":\"x\"}";
	cr_assert(matches("replicas>3", l));
	cr_assert_not(matches("replicas>5", l));
	cr_assert(matches("replicas<10", l));
	cr_assert_not(matches("name>1", l), "non-numeric label never matches");
	cr_assert_not(matches("missing<10", l));
}

Test(kube_selector, qualified_keys)
{
	const char *l = "{\"app.kubernetes.io/name\":\"db\"}";
	cr_assert(matches("app.kubernetes.io/name=db", l));
	cr_assert(matches("app.kubernetes.io/name in (db,cache)", l));
}

Test(kube_selector, canonical_string_is_sorted)
{
	canonical("tier=front, app in (web, api), !legacy",
	        "app in (api,web),!legacy,tier=front");
	canonical("a==b,c!=d,e>1,f<2,g", "a==b,c!=d,e>1,f<2,g");
	canonical("a notin (z,y)", "a notin (y,z)");
}

Test(kube_selector, bad_selectors_are_rejected_clearly)
{
	invalid("app in web", "expected '(' after 'in'");
	invalid("app in ()", "at least one value");
	invalid("app in (a b)", "expected ',' or ')'");
	invalid("app in (a", "expected ',' or ')'");
	invalid("=x", "expected a key");
	invalid("app=web,", "missing after ','");
	invalid("app foo", "expected one of");
	invalid("a=b c", "expected ',' or the end");
	invalid("-bad=1", "key \"-bad\"");
	invalid("a/b/c=1", "more than one '/'");
	invalid("Upper.Case/x=1", "prefix");
	invalid("a=-v", "value \"-v\"");
	invalid("a>b", "must be an integer");
	invalid("!", "expected a key after '!'");
	invalid("!a=b", "expected ',' or the end");
	char longkey[100];
	memset(longkey, 'k', 70);
	strcpy(longkey + 70, "=v");
	invalid(longkey, "63 characters");
	invalid("a = b = c", "position 7");
}

Test(kube_selector, from_label_selector_object)
{
	astra__json *j = labels(
	        "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
	        "{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\"]},"
	        "{\"key\":\"legacy\",\"operator\":\"DoesNotExist\"}]}");
	astra__selector *s;
	cr_assert_astra_ok(astra__selector_from_json(&s, j));
	astra__json *l = labels("{\"app\":\"web\",\"env\":\"prod\"}");
	cr_assert(astra__selector_matches(s, l));
	astra__json_free(l);
	l = labels("{\"app\":\"web\",\"env\":\"prod\",\"legacy\":\"1\"}");
	cr_assert_not(astra__selector_matches(s, l));
	astra__json_free(l);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__selector_string(s, &b));
	cr_assert_str_eq(b.ptr, "app=web,env in (prod),!legacy");
	astra_buf_dispose(&b);
	astra__selector_free(s);
	astra__json_free(j);

	j = labels(
	        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\"}]}");
	cr_assert_astra_fail(astra__selector_from_json(&s, j), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "unknown operator"));
	astra__json_free(j);
	j = labels(
	        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}");
	cr_assert_astra_fail(astra__selector_from_json(&s, j), ASTRA_EINVALID);
	astra__json_free(j);
	cr_assert_astra_ok(astra__selector_from_json(&s, NULL));
	cr_assert(astra__selector_empty(s));
	astra__selector_free(s);
}
