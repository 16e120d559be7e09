/* The public headers compile alone, as C11, with -pedantic -Werror. */
#include <astra.h>

int headertest_c(void);
int headertest_c(void)
{
	astra_buf b = ASTRA_BUF_INIT;
	astra_progress p = { ASTRA_PROGRESS_VERSION, 0, 0, 0, 0, 0, 0, 0 };
	(void)p;
	astra_buf_dispose(&b);
	return ASTRA_VERSION_CHECK(0, 0, 1) ? 0 : 1;
}
