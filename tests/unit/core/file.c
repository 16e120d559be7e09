#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astra_test.h"
#include "core/buf.h"
#include "core/file.h"

static char dir[] = "/tmp/astra-file-XXXXXX";

static void put(const char *name, const char *data, size_t n)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(core_file, .init = setup, .fini = teardown);

Test(core_file, reads_appends_and_caps_naming_the_path)
{
	char big[5000], p[256];
	memset(big, 'x', sizeof(big));
	put("big", big, sizeof(big));
	put("small", "abc", 3);
	for (unsigned flags = 0; flags < 2; flags++) {
		astra_buf b = ASTRA_BUF_INIT;
		cr_assert_astra_ok(astra__buf_puts(&b, ">"));
		snprintf(p, sizeof(p), "%s/small", dir);
		cr_assert_astra_ok(astra__file_read(&b, p, 10, flags));
		cr_assert_str_eq(b.ptr, ">abc");
		snprintf(p, sizeof(p), "%s/big", dir);
		b.size = 0;
		cr_assert_astra_ok(astra__file_read(&b, p, 5000, flags));
		cr_assert_eq(b.size, 5000);
		b.size = 0;
		cr_assert_astra_fail(
		        astra__file_read(&b, p, 4999, flags), ASTRA_EINVALID);
		cr_assert(strstr(astra_error_last()->message, p));
		cr_assert(strstr(
		        astra_error_last()->message, "larger than 4999 bytes"));
		cr_assert_astra_fail(
		        astra__file_read(&b, dir, 10, flags), ASTRA_EINVALID);
		cr_assert(strstr(astra_error_last()->message, "directory"));
		snprintf(p, sizeof(p), "%s/none", dir);
		cr_assert_astra_fail(
		        astra__file_read(&b, p, 10, flags), ASTRA_ENOTFOUND);
		cr_assert(strstr(astra_error_last()->message, p));
		astra_buf_dispose(&b);
	}
}

Test(core_file, a_secret_is_read_into_one_buffer)
{
	char p[256];
	put("pw", "hunter2\n", 8);
	snprintf(p, sizeof(p), "%s/pw", dir);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__file_read(&b, p, 1 << 20, ASTRA_FILE_SECRET));
	cr_assert_str_eq(b.ptr, "hunter2\n");
	/* sized from the file: no growth, hence no stale copy */
	cr_assert_leq(b.asize, 64);
	astra_buf_dispose(&b);
}
