/*
 * The smallest libastra program: initialise, print versions, shut down.
 * Build: cc hello.c $(pkg-config --cflags --libs astra)
 * SPDX-License-Identifier: Apache-2.0
 */
#include <astra.h>
#include <stdio.h>

int main(void)
{
	if (astra_init() < 0) {
		fprintf(stderr, "astra_init: %s\n",
		        astra_error_last()->message);
		return 1;
	}
	if (astra_version_number() != ASTRA_VERSION_NUMBER)
		fprintf(stderr, "warning: headers %s, library %s\n",
		        ASTRA_VERSION_STRING, astra_version_string());
	printf("libastra %s (vault format %d)\n", astra_version_string(),
	        astra_format_version());
	astra_shutdown();
	return 0;
}
