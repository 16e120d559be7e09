/*
 * libFuzzer target: the XML reader (S3 and STS responses) and the S3/STS
 * response interpretation built on it.
 */
#include <stddef.h>
#include <stdint.h>

#include "fmt/xml.h"
#include "store/awscreds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const astra__xml *n, int depth)
{
	for (const astra__xml *c = astra__xml_child(n, NULL); c && depth < 100;
	        c = astra__xml_next(c, NULL)) {
		(void)astra__xml_name(c);
		(void)astra__xml_text(c);
		walk(c, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__xml *x = NULL;
	if (astra__xml_parse(&x, (const char *)data, size, "fuzz") == 0) {
		walk(x, 0);
		(void)astra__xml_path(x, "Contents/Key");
		astra__xml_free(x);
	}
	astra__aws_keys k;
	if (astra__aws_parse_sts((const char *)data, size, &k) == 0)
		astra__aws_keys_clear(&k);
	return 0;
}
