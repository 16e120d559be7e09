/*
 * pods/exec: the status channel's metav1.Status as the API server sends it.
 */
#include <string.h>

#include "astra_test.h"
#include "kube/podexec.h"

static int parse(const char *json, astra__kube_exec_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -2;
	return astra__kube_exec_parse_status(json, strlen(json), r);
}

Test(podexec, status_success)
{
	astra__kube_exec_result r;
	cr_assert_astra_ok(
	        parse("{\"metadata\":{},\"status\":\"Success\"}", &r));
	cr_assert_eq(r.exit_code, 0);
}

Test(podexec, status_exit_code)
{
	astra__kube_exec_result r;
	cr_assert_astra_ok(parse(
	        "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command "
	        "terminated with non-zero exit code: error executing command "
	        "[sh -c exit 3], exit code 3\",\"reason\":\"NonZeroExitCode\","
	        "\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":"
	        "\"3\"}]}}",
	        &r));
	cr_assert_eq(r.exit_code, 3);
	cr_assert(strstr(r.message, "exit code 3"));
}

Test(podexec, status_runtime_failure)
{
	astra__kube_exec_result r;
	/* no such executable: a Failure without an exit code */
	cr_assert_astra_ok(parse("{\"status\":\"Failure\",\"message\":\"exec: "
	                         "\\\"nope\\\": executable file not found\"}",
	        &r));
	cr_assert_eq(r.exit_code, -1);
	cr_assert(strstr(r.message, "executable file not found"));
	/* a bogus exit code is not believed */
	cr_assert_astra_ok(
	        parse("{\"status\":\"Failure\",\"reason\":"
	              "\"NonZeroExitCode\",\"details\":{\"causes\":"
	              "[{\"reason\":\"ExitCode\",\"message\":\"x1\"}]}}",
	                &r));
	cr_assert_eq(r.exit_code, -1);
	cr_assert_str_eq(r.message, "NonZeroExitCode");
	cr_assert_astra_fail(parse("{\"kind\":\"Status\"}", &r), ASTRA_EPARSE);
	cr_assert_astra_fail(parse("not json", &r), ASTRA_EPARSE);
}
