/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/net.h"

#include <curl/curl.h>

#include "core/error.h"

int astra__net_global_init(void)
{
	CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c != CURLE_OK)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_NET,
		        "cannot initialise libcurl: %s", curl_easy_strerror(c));
	return 0;
}

void astra__net_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *astra__net_version(void)
{
	return curl_version_info(CURLVERSION_NOW)->version;
}
