#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/base64.h"
#include "core/buf.h"

Test(core_buf, put_and_printf_keep_nul_termination)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__buf_puts(&b, "hello"));
	cr_assert_astra_ok(astra__buf_printf(&b, " %d-%s", 42, "x"));
	cr_assert_str_eq(b.ptr, "hello 42-x");
	cr_assert_eq(b.size, strlen("hello 42-x"));
	astra_buf_dispose(&b);
	cr_assert_null(b.ptr);
	cr_assert_eq(b.size, 0);
	astra_buf_dispose(&b); /* twice is fine */
	astra_buf_dispose(NULL);
}

Test(core_buf, grows_across_many_appends)
{
	astra_buf b = ASTRA_BUF_INIT;
	for (int i = 0; i < 10000; i++)
		cr_assert_astra_ok(astra__buf_putc(&b, (char)('a' + i % 26)));
	cr_assert_eq(b.size, 10000);
	cr_assert_eq(b.ptr[10000], '\0');
	cr_assert_eq(b.ptr[27], 'b');
	astra_buf_dispose(&b);
}

Test(core_buf, json_escape_and_hex)
{
	astra_buf b = ASTRA_BUF_INIT;
	const char s[] = "a\"b\\c\n\x01";
	cr_assert_astra_ok(astra__buf_put_json_escaped(&b, s, sizeof(s) - 1));
	cr_assert_str_eq(b.ptr, "a\\\"b\\\\c\\n\\u0001");
	astra__buf_clear(&b);
	unsigned char bytes[] = { 0x00, 0xab, 0xff };
	cr_assert_astra_ok(astra__buf_put_hex(&b, bytes, 3));
	cr_assert_str_eq(b.ptr, "00abff");
	astra_buf_dispose(&b);
}

Test(core_buf, detach_hands_over_memory)
{
	astra_buf b = ASTRA_BUF_INIT;
	astra__buf_puts(&b, "abc");
	char *p = astra__buf_detach(&b);
	cr_assert_str_eq(p, "abc");
	cr_assert_null(b.ptr);
	free(p);
}

Test(core_base64, both_alphabets_decode_and_bad_lengths_are_refused)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_eq(astra__base64_decode(&b, "-_8=", 4), 0);
	cr_assert_eq(b.size, 2);
	cr_assert_eq((unsigned char)b.ptr[0], 0xfb);
	cr_assert_eq((unsigned char)b.ptr[1], 0xff);
	b.size = 0;
	cr_assert_eq(astra__base64_decode(&b, "+/8=", 4), 0);
	cr_assert_eq((unsigned char)b.ptr[0], 0xfb);
	b.size = 0;
	/* five characters: 30 bits, no whole byte after the fourth */
	cr_assert_eq(astra__base64_decode(&b, "Y2VydA", 5), ASTRA_EPARSE);
	b.size = 0;
	cr_assert_eq(astra__base64_decode(&b, "Y2=Vy", 5), ASTRA_EPARSE);
	b.size = 0;
	cr_assert_eq(astra__base64_encode(&b, "cert", 4), 0);
	cr_assert_str_eq(b.ptr, "Y2VydA==");
	astra_buf_dispose(&b);
}
