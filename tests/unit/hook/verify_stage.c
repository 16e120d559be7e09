/*
 * The "verify" hook stage (backup verification's test restore): a valid
 * stage, ordered after post-restore, loaded from a record's hook
 * definitions like post-restore.
 */
#include <string.h>

#include "astra_test.h"
#include "fmt/json.h"
#include "hook/hook.h"

TestSuite(hook_verify_stage);

Test(hook_verify_stage, verify_is_a_stage_after_post_restore)
{
	cr_assert(astra__hook_stage_valid("verify"));
	cr_assert_not(astra__hook_stage_valid("verified"));
	const char *text =
	        "[{\"name\":\"a\",\"stage\":\"verify\",\"script\":\"x\"},"
	        "{\"name\":\"b\",\"stage\":\"post-restore\",\"script\":\"y\"}]";
	astra__json *arr = NULL;
	cr_assert_astra_ok(astra__json_parse(&arr, text, strlen(text), "t"));
	astra__hook_set s;
	cr_assert_astra_ok(astra__hook_from_json(arr, &s));
	cr_assert(astra__hook_has_stage(&s, "verify"));
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.v[0].stage, "post-restore");
	cr_assert_str_eq(s.v[1].stage, "verify");
	astra__hook_set_free(&s);
	astra__json_free(arr);
}
