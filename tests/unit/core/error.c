#include <errno.h>
#include <string.h>

#include "astra_test.h"
#include "core/error.h"

Test(core_error, last_error_is_never_null_and_starts_clear)
{
	astra_error_clear();
	const astra_error *e = astra_error_last();
	cr_assert_not_null(e);
	cr_assert_not_null(e->message);
	cr_assert_eq(e->code, ASTRA_OK);
}

Test(core_error, err_sets_message_class_and_code)
{
	int rc = astra__err(
	        ASTRA_ENOTFOUND, ASTRA_ERROR_STORE, "bucket %s", "b1");
	cr_assert_eq(rc, ASTRA_ENOTFOUND);
	cr_assert_str_eq(astra_error_last()->message, "bucket b1");
	cr_assert_eq(astra_error_last()->klass, ASTRA_ERROR_STORE);
	cr_assert_eq(astra_error_last()->code, ASTRA_ENOTFOUND);
}

Test(core_error, prefix_adds_context)
{
	astra__err(ASTRA_EIO, ASTRA_ERROR_OS, "disk gone");
	int rc = astra__err_prefix(ASTRA_EIO, "vault %s", "file:///v");
	cr_assert_eq(rc, ASTRA_EIO);
	cr_assert_str_eq(
	        astra_error_last()->message, "vault file:///v: disk gone");
}

Test(core_error, os_errors_map_errno)
{
	errno = ENOENT;
	cr_assert_eq(astra__err_os("open %s", "/x"), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "open /x: ") != NULL);
	errno = ENOSPC;
	cr_assert_eq(astra__err_os("write"), ASTRA_ENOSPACE);
	errno = EIO;
	cr_assert_eq(astra__err_os("read"), ASTRA_EIO);
}

Test(core_error, long_messages_are_truncated_not_overflowed)
{
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	astra__err(ASTRA_ERROR, ASTRA_ERROR_OS, "%s", big);
	cr_assert_lt(strlen(astra_error_last()->message), 1024);
	astra__err_prefix(ASTRA_ERROR, "%s", big);
	cr_assert_lt(strlen(astra_error_last()->message), 1024);
}

Test(core_error, strerror_covers_every_code)
{
	for (int c = 0; c >= -20; c--)
		cr_assert_str_neq(
		        astra_strerror(c), "unknown error", "code %d", c);
	cr_assert_str_neq(astra_strerror(ASTRA_EUSER), "unknown error");
	cr_assert_str_eq(astra_strerror(12345), "unknown error");
}

Test(core_error, version_check_rejects_zero_and_future)
{
	cr_assert_eq(astra__check_version(0, 1, "x options"), ASTRA_EVERSION);
	cr_assert(strstr(astra_error_last()->message, "x options") != NULL);
	cr_assert_eq(astra__check_version(2, 1, "x"), ASTRA_EVERSION);
	cr_assert_eq(astra__check_version(1, 1, "x"), 0);
}

static void *other_thread(void *arg)
{
	(void)arg;
	astra__err(ASTRA_EAUTH, ASTRA_ERROR_NET, "other thread");
	return NULL;
}

#include <pthread.h>
Test(core_error, errors_are_thread_local)
{
	astra__err(ASTRA_EIO, ASTRA_ERROR_OS, "main thread");
	pthread_t t;
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, NULL);
	cr_assert_str_eq(astra_error_last()->message, "main thread");
}

Test(core_error, a_saved_error_survives_cleanup_and_none_clears)
{
	astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO, "the first failure");
	astra__saved_err e;
	astra__err_save(&e);
	astra__err(ASTRA_EIO, ASTRA_ERROR_OS, "a clean-up failure");
	astra__err_restore(&e);
	cr_assert_eq(astra_error_last()->code, ASTRA_ENOTFOUND);
	cr_assert_eq(astra_error_last()->klass, ASTRA_ERROR_REPO);
	cr_assert_str_eq(astra_error_last()->message, "the first failure");
	astra_error_clear();
	astra__err_save(&e);
	astra__err(ASTRA_EIO, ASTRA_ERROR_OS, "a clean-up failure");
	astra__err_restore(&e);
	cr_assert_eq(astra_error_last()->code, ASTRA_OK);
}
