/*
 * libFuzzer target: YAML and JSON parsing.
 */
#include <stddef.h>
#include <stdint.h>

#include "fmt/json.h"
#include "fmt/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__json *j = NULL;
	if (astra__yaml_parse_all(&j, (const char *)data, size, "fuzz") == 0)
		astra__json_free(j);
	if (astra__json_parse(&j, (const char *)data, size, "fuzz") == 0)
		astra__json_free(j);
	return 0;
}
