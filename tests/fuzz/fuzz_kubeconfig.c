/*
 * libFuzzer target: kubeconfig text -> resolved configuration. Any input
 * must give 0 or an astra error, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__kubeconfig *c = NULL;
	/* relative paths resolve under a directory that does not exist */
	if (astra__kubeconfig_parse(&c, (const char *)data, size, "fuzz",
	            "/nonexistent", NULL) == 0)
		astra__kubeconfig_free(c);
	return 0;
}
