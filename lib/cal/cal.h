/*
 * Calendar arithmetic for schedules: IANA time zones and RFC 5545 RRULE
 * expansion (the only user of libical, ical.c), and standard 5-field cron
 * expressions (cron.c, by hand: no library in Debian parses cron).
 *
 * Times are int64 seconds. "utc" values are Unix times; "local" values are
 * wall-clock times of a zone written as if they were UTC (the seconds since
 * 1970-01-01T00:00 of the local calendar), so that calendar fields follow
 * from gmtime-style arithmetic.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CAL_CAL_H
#define ASTRA_CAL_CAL_H

#include <stdint.h>

/* A time zone (never freed: zones are cached for the process). */
typedef struct astra__tz astra__tz;

/* Looks up an IANA name ("Europe/Berlin"; "UTC"; NULL or "" is UTC).
 * ASTRA_EINVALID naming the zone when it is unknown. Thread-safe. */
int astra__tz_find(const char *name, const astra__tz **out);
/* The zone's offset from UTC in seconds at a Unix time. */
int astra__tz_offset(const astra__tz *tz, int64_t utc);
/* utc -> local */
int64_t astra__tz_local(const astra__tz *tz, int64_t utc);
/*
 * local -> utc with the schedule rule: a wall-clock time that happens
 * twice (the clock goes back) is its first occurrence; one that does not
 * exist (the clock jumps forward) is shifted forward by the length of the
 * jump (the offset in effect before the jump applies). This is what
 * Python's zoneinfo does with fold=0.
 */
int64_t astra__tz_utc(const astra__tz *tz, int64_t local);

/* Calendar fields of a local (or UTC) time. wday: 0 = Sunday. */
typedef struct {
	int year, month, day, hour, minute, second, wday;
} astra__cal_fields;
void astra__cal_split(int64_t t, astra__cal_fields *f);
int64_t astra__cal_join(
        int year, int month, int day, int hour, int minute, int second);
int astra__cal_days_in_month(int year, int month);
/* Floor division of a by b (b > 0). */
int64_t astra__cal_floordiv(int64_t a, int64_t b);

/* ---- RRULE (libical) ---- */

typedef struct astra__rrule astra__rrule;
/*
 * Parses the supported subset (docs/policies.md): FREQ MINUTELY..YEARLY,
 * INTERVAL, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO,
 * BYMONTH, BYSETPOS, WKST; not COUNT, UNTIL, BYSECOND, SECONDLY or
 * RSCALE. ASTRA_EINVALID naming the rule and the cause.
 */
int astra__rrule_parse(const char *text, astra__rrule **out);
void astra__rrule_free(astra__rrule *r);
/*
 * Calls fn(payload, local) for each local instance >= from, in order,
 * until fn returns non-zero or the instance passes `until` (local).
 * Expansion starts at the rule's period boundary at or before `from`,
 * counted from the epoch 2000-01-03T00:00 (a Monday), so that INTERVAL
 * keeps the same phase whatever `from` is. Returns 0 or a negative code.
 */
int astra__rrule_each(const astra__rrule *r, int64_t from, int64_t until,
        int (*fn)(void *payload, int64_t local), void *payload);

/* ---- cron ---- */

typedef struct {
	uint64_t minute; /* bit m: minute m */
	uint32_t hour;
	uint32_t dom; /* bit d: day d (1..31) */
	uint16_t month; /* bit m: month m (1..12) */
	uint8_t dow; /* bit d: weekday d (0 = Sunday; 7 folded into 0) */
	int dom_star, dow_star;
} astra__cron;
/* Parses "MIN HOUR DOM MON DOW" (lists, ranges, steps, names). */
int astra__cron_parse(const char *text, astra__cron *out);
/* 1 when the cron runs on that local date (the DOM/DOW rule of cron). */
int astra__cron_day_matches(
        const astra__cron *c, int year, int month, int day, int wday);

#endif
