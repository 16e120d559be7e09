/*
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_CLOCK_H
#define ASTRA_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds, for durations and timeouts. */
uint64_t astra__mono_ns(void);
/* Wall-clock nanoseconds since the Unix epoch. */
int64_t astra__wall_ns(void);
void astra__sleep_ms(unsigned ms);
/* "2026-11-22T01:02:03Z" into out (at least 21 bytes) from Unix seconds. */
void astra__fmt_utc(char *out, int64_t unix_seconds);

#endif
