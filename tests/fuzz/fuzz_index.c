/* Index files are read from the store: any bytes must be refused cleanly. */
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__index ix = { 0 };
	(void)astra__index_decode(&ix, data, size, "fuzz");
	astra__index_free(&ix);
	return 0;
}
