/*
 * libFuzzer target: what an API server or a credential plugin sends back:
 * Status bodies, discovery documents, ExecCredentials; and label
 * selectors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astra/common.h"
#include "kube/exec.h"
#include "kube/kube.h"
#include "kube/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	astra__kube_status_error(
	        "fuzz", 400 + (long)(size % 200), text, size, "get", "fuzz");

	astra__kube_discovery d;
	memset(&d, 0, sizeof(d));
	astra__kube_parse_aggregated(text, size, &d);
	astra__kube_discovery_clear(&d);
	astra__kube_parse_resource_list(text, size, "g", "v1", 1, &d);
	astra__kube_discovery_clear(&d);

	astra__kube_cred c;
	if (astra__kube_exec_parse(text, size,
	            "client.authentication.k8s.io/v1", "fuzz", &c) == 0)
		astra__kube_cred_clear(&c);

	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		astra__selector *sel = NULL;
		if (astra__selector_parse(&sel, s) == 0) {
			astra_buf b = ASTRA_BUF_INIT;
			astra__selector_string(sel, &b);
			astra_buf_dispose(&b);
			astra__selector_free(sel);
		}
		free(s);
	}
	return 0;
}
