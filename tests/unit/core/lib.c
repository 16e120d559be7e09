#include <string.h>

#include "astra_test.h"
#include "core/op.h"

Test(core_lib, init_is_reference_counted)
{
	cr_assert_eq(astra_init(), 1);
	cr_assert_eq(astra_init(), 2);
	cr_assert_eq(astra_shutdown(), 1);
	cr_assert_eq(astra_shutdown(), 0);
	cr_assert_eq(astra_shutdown(), ASTRA_EINVALID);
}

Test(core_lib, versions_agree_with_headers)
{
	int a, b, c;
	astra_version(&a, &b, &c);
	cr_assert_eq(a, ASTRA_VERSION_MAJOR);
	cr_assert_eq(b, ASTRA_VERSION_MINOR);
	cr_assert_eq(c, ASTRA_VERSION_PATCH);
	cr_assert_eq(astra_version_number(), ASTRA_VERSION_NUMBER);
	cr_assert_str_eq(astra_version_string(), ASTRA_VERSION_STRING);
	cr_assert_eq(astra_format_version(), ASTRA_FORMAT_VERSION);
	astra_version(NULL, NULL, NULL);
}

static int calls;
static int cb_cancel_after_two(const astra_progress *p, void *payload)
{
	(void)p;
	(void)payload;
	return ++calls >= 2;
}
static int cb_user_error(const astra_progress *p, void *payload)
{
	(void)p;
	(void)payload;
	return ASTRA_EUSER - 5;
}

Test(core_op, callback_nonzero_cancels)
{
	astra__op op;
	calls = 0;
	astra__op_init(&op, cb_cancel_after_two, NULL, NULL);
	cr_assert_eq(astra__op_report(&op, 1), 0);
	cr_assert_eq(astra__op_report(&op, 1), ASTRA_ECANCELLED);
}

Test(core_op, callback_user_code_is_passed_through)
{
	astra__op op;
	astra__op_init(&op, cb_user_error, NULL, NULL);
	cr_assert_eq(astra__op_report(&op, 1), ASTRA_EUSER - 5);
}

Test(core_op, token_cancels_from_anywhere)
{
	astra_cancel *tok;
	astra__op op;
	cr_assert_astra_ok(astra_cancel_new(&tok));
	astra__op_init(&op, NULL, NULL, tok);
	cr_assert_eq(astra__op_check(&op), 0);
	astra_cancel_request(tok);
	cr_assert_eq(astra_cancel_requested(tok), 1);
	cr_assert_eq(astra__op_check(&op), ASTRA_ECANCELLED);
	astra_cancel_reset(tok);
	cr_assert_eq(astra__op_check(&op), 0);
	astra_cancel_free(tok);
	astra_cancel_free(NULL);
}

static int logged_level;
static char logged[256];
static void log_cb(int level, const char *msg, void *payload)
{
	(void)payload;
	logged_level = level;
	strncpy(logged, msg, sizeof(logged) - 1);
}

#include "core/log.h"
Test(core_log, handler_receives_messages_up_to_its_level)
{
	logged_level = 0;
	astra_log_set_handler(log_cb, ASTRA_LOG_INFO, NULL);
	astra__log(ASTRA_LOG_DEBUG, "too verbose");
	cr_assert_eq(logged_level, 0);
	astra__log(ASTRA_LOG_WARN, "disk %d%% full", 95);
	cr_assert_eq(logged_level, ASTRA_LOG_WARN);
	cr_assert_str_eq(logged, "disk 95% full");
	astra_log_set_handler(NULL, ASTRA_LOG_TRACE, NULL);
	logged_level = 0;
	astra__log(ASTRA_LOG_ERROR, "dropped");
	cr_assert_eq(logged_level, 0);
}
