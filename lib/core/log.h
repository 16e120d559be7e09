/*
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_LOG_H
#define ASTRA_CORE_LOG_H

#include "core/error.h"

/* Cheap check before formatting an expensive message. */
int astra__log_enabled(int level);
void astra__log(int level, const char *fmt, ...) ASTRA_PRINTF(2, 3);

#define astra__log_error(...) astra__log(ASTRA_LOG_ERROR, __VA_ARGS__)
#define astra__log_warn(...) astra__log(ASTRA_LOG_WARN, __VA_ARGS__)
#define astra__log_info(...) astra__log(ASTRA_LOG_INFO, __VA_ARGS__)
#define astra__log_debug(...) astra__log(ASTRA_LOG_DEBUG, __VA_ARGS__)

#endif
