/*
 * HTTP over libcurl. This module is the only user of libcurl.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_NET_NET_H
#define ASTRA_NET_NET_H

int astra__net_global_init(void);
void astra__net_global_cleanup(void);
/* libcurl's version string, e.g. "7.88.1". */
const char *astra__net_version(void);

#endif
