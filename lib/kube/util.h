/*
 * Small helpers of the Kubernetes client: base64, RFC 3339 times.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_UTIL_H
#define ASTRA_KUBE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"

/* Standard base64 (padding optional, whitespace ignored). -1 when the input
 * is not base64; 0 or ASTRA_ENOMEM otherwise. Appends to out. */
int astra__kube_b64decode(astra_buf *out, const char *in, size_t len);
int astra__kube_b64encode(astra_buf *out, const void *in, size_t len);

/* "2026-11-22T01:02:03Z", with optional fraction and numeric offset, to
 * Unix seconds. 0 on success, -1 when malformed. */
int astra__kube_parse_time(const char *s, int64_t *unix_seconds);

#endif
