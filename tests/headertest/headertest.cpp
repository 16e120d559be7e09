// The public headers compile alone, as C++17, with -pedantic -Werror.
#include <astra.h>

int headertest_cxx();
int headertest_cxx()
{
	astra_buf b = ASTRA_BUF_INIT;
	astra_buf_dispose(&b);
	const astra_error *e = astra_error_last();
	return e->code == ASTRA_OK ? 0 : 1;
}
