/*
 * Time zones and RRULE expansion through libical (the only user of it).
 * libical keeps per-zone caches that it fills lazily; one mutex serialises
 * every call into it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <libical/ical.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cal/cal.h"
#include "core/alloc.h"
#include "core/error.h"

struct astra__tz {
	icaltimezone *zone; /* NULL: UTC */
};

struct astra__rrule {
	struct icalrecurrencetype r;
};

static pthread_mutex_t ical_lock = PTHREAD_MUTEX_INITIALIZER;
static const astra__tz tz_utc = { NULL };

#define MAX_ZONES 128
static struct {
	char name[64];
	astra__tz tz;
} zones[MAX_ZONES];
static size_t nzones;

static void ical_setup(void)
{
	static int done;
	if (!done) {
		icalerror_set_errors_are_fatal(0);
		done = 1;
	}
}

int astra__tz_find(const char *name, const astra__tz **out)
{
	*out = &tz_utc;
	if (!name || !*name || !strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))
		return 0;
	if (strlen(name) >= sizeof(zones[0].name) || strstr(name, ".."))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "time zone \"%.80s\" is not a known IANA time zone",
		        name);
	int rc = 0;
	pthread_mutex_lock(&ical_lock);
	ical_setup();
	size_t i;
	for (i = 0; i < nzones; i++)
		if (!strcmp(zones[i].name, name))
			break;
	if (i < nzones) {
		*out = &zones[i].tz;
	} else {
		icaltimezone *z = icaltimezone_get_builtin_timezone(name);
		if (!z)
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "time zone \"%s\" is not a known IANA time "
			        "zone",
			        name);
		else if (nzones == MAX_ZONES)
			rc = astra__err(ASTRA_ENOTSUPPORTED,
			        ASTRA_ERROR_INVALID,
			        "time zone \"%s\": more than %d zones in one "
			        "process",
			        name, MAX_ZONES);
		else {
			strcpy(zones[nzones].name, name);
			zones[nzones].tz.zone = z;
			*out = &zones[nzones++].tz;
		}
	}
	pthread_mutex_unlock(&ical_lock);
	return rc;
}

int astra__tz_offset(const astra__tz *tz, int64_t utc)
{
	if (!tz || !tz->zone)
		return 0;
	pthread_mutex_lock(&ical_lock);
	struct icaltimetype t = icaltime_from_timet_with_zone(
	        (time_t)utc, 0, icaltimezone_get_utc_timezone());
	int dst = 0;
	int off = icaltimezone_get_utc_offset_of_utc_time(tz->zone, &t, &dst);
	pthread_mutex_unlock(&ical_lock);
	return off;
}

int64_t astra__tz_local(const astra__tz *tz, int64_t utc)
{
	return utc + astra__tz_offset(tz, utc);
}

int64_t astra__tz_utc(const astra__tz *tz, int64_t local)
{
	if (!tz || !tz->zone)
		return local;
	/* the offsets in effect a day before and a day after: zones change
	 * their offset at most once in such a window */
	int a = astra__tz_offset(tz, local - 86400);
	int b = astra__tz_offset(tz, local + 86400);
	int64_t ta = local - a, tb = local - b;
	int va = astra__tz_offset(tz, ta) == a;
	int vb = astra__tz_offset(tz, tb) == b;
	if (va && vb)
		return ta < tb ? ta : tb; /* repeated: the first occurrence */
	if (va)
		return ta;
	if (vb)
		return tb;
	return ta; /* skipped: the offset before the jump */
}

/* ---- RRULE ---- */

static int rr_bad(const char *text, const char *why)
{
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
	        "rrule \"%.200s\": %s", text, why);
}

static int has_any(const short *v)
{
	return v[0] != ICAL_RECURRENCE_ARRAY_MAX;
}

/* 1 when every BYMONTHDAY is positive and larger than any BYMONTH month
 * has days: the rule can never produce an instance */
static int impossible_days(const struct icalrecurrencetype *r)
{
	if (!has_any(r->by_month_day) || !has_any(r->by_month))
		return 0;
	int maxdays = 0;
	for (int i = 0; i < ICAL_BY_MONTH_SIZE &&
	                r->by_month[i] != ICAL_RECURRENCE_ARRAY_MAX;
	        i++) {
		int m = icalrecurrencetype_month_month(r->by_month[i]);
		int d = astra__cal_days_in_month(2000, m); /* a leap year */
		if (d > maxdays)
			maxdays = d;
	}
	for (int i = 0; i < ICAL_BY_MONTHDAY_SIZE &&
	                r->by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX;
	        i++)
		if (r->by_month_day[i] < 0 || r->by_month_day[i] <= maxdays)
			return 0;
	return 1;
}

int astra__rrule_parse(const char *text, astra__rrule **out)
{
	*out = NULL;
	if (!text || !*text)
		return rr_bad("", "empty rule");
	const char *s = text;
	if (!strncasecmp(s, "RRULE:", 6))
		s += 6;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return rr_bad(text, "contains a control or non-ASCII "
			                    "character");
	if (strcasestr(s, "RSCALE") || strcasestr(s, "SKIP"))
		return rr_bad(text, "RSCALE and SKIP are not supported");
	if (strncasecmp(s, "FREQ=", 5) && !strcasestr(s, ";FREQ="))
		return rr_bad(text, "needs FREQ");
	pthread_mutex_lock(&ical_lock);
	ical_setup();
	icalerror_clear_errno();
	struct icalrecurrencetype r = icalrecurrencetype_from_string(s);
	icalerrorenum e = icalerrno;
	pthread_mutex_unlock(&ical_lock);
	if (r.freq == ICAL_NO_RECURRENCE || e != ICAL_NO_ERROR)
		return rr_bad(text, "malformed (not an RFC 5545 RRULE)");
	if (r.freq == ICAL_SECONDLY_RECURRENCE)
		return rr_bad(text, "FREQ=SECONDLY is not supported (a "
		                    "policy runs at most once a minute)");
	if (r.count > 0 || !icaltime_is_null_time(r.until))
		return rr_bad(text, "COUNT and UNTIL are not supported (a "
		                    "policy runs until it is removed)");
	if (has_any(r.by_second) &&
	        (r.by_second[0] != 0 ||
	                r.by_second[1] != ICAL_RECURRENCE_ARRAY_MAX))
		return rr_bad(text, "BYSECOND other than 0 is not supported");
	if ((has_any(r.by_year_day) || has_any(r.by_week_no)) &&
	        r.freq != ICAL_YEARLY_RECURRENCE)
		return rr_bad(text, "BYYEARDAY and BYWEEKNO need FREQ=YEARLY");
	if (r.interval < 1 || r.interval > 1000)
		return rr_bad(text, "INTERVAL must be 1 to 1000");
	if (impossible_days(&r))
		return rr_bad(text, "BYMONTHDAY never falls in BYMONTH: the "
		                    "rule never runs");
	astra__rrule *rr = astra__calloc(1, sizeof(*rr));
	ASTRA_CHECK_ALLOC(rr);
	rr->r = r;
	*out = rr;
	return 0;
}

void astra__rrule_free(astra__rrule *r)
{
	free(r);
}

/* The local time of the period boundary at or before `from`. */
static int64_t anchor(const struct icalrecurrencetype *r, int64_t from)
{
	const int64_t epoch = astra__cal_join(2000, 1, 3, 0, 0, 0); /* Mon */
	int64_t iv = r->interval;
	int64_t unit = 0;
	int64_t base = epoch;
	astra__cal_fields f;
	astra__cal_split(from, &f);
	switch (r->freq) {
	case ICAL_MINUTELY_RECURRENCE:
		unit = 60;
		break;
	case ICAL_HOURLY_RECURRENCE:
		unit = 3600;
		break;
	case ICAL_DAILY_RECURRENCE:
		unit = 86400;
		break;
	case ICAL_WEEKLY_RECURRENCE: {
		unit = 7 * 86400;
		/* weeks start on WKST (default Monday) */
		int wk = r->week_start == ICAL_NO_WEEKDAY
		                 ? 1
		                 : (int)r->week_start - 1; /* 0 = Sunday */
		base = epoch + (int64_t)((wk + 6) % 7) * 86400;
		break;
	}
	case ICAL_MONTHLY_RECURRENCE: {
		int64_t m = (int64_t)(f.year - 2000) * 12 + (f.month - 1);
		m = astra__cal_floordiv(m, iv) * iv;
		int64_t y = 2000 + astra__cal_floordiv(m, 12);
		int mon = (int)(m - (y - 2000) * 12) + 1;
		return astra__cal_join((int)y, mon, 1, 0, 0, 0);
	}
	default: { /* yearly */
		int64_t y = f.year - 2000;
		y = astra__cal_floordiv(y, iv) * iv;
		return astra__cal_join((int)(2000 + y), 1, 1, 0, 0, 0);
	}
	}
	return base + astra__cal_floordiv(from - base, unit * iv) * unit * iv;
}

int astra__rrule_each(const astra__rrule *rr, int64_t from, int64_t until,
        int (*fn)(void *payload, int64_t local), void *payload)
{
	int64_t start = anchor(&rr->r, from);
	astra__cal_fields f;
	astra__cal_split(start, &f);
	struct icaltimetype dt = icaltime_null_time();
	dt.year = f.year;
	dt.month = f.month;
	dt.day = f.day;
	dt.hour = f.hour;
	dt.minute = f.minute;
	dt.second = 0;
	pthread_mutex_lock(&ical_lock);
	icalrecur_iterator *it = icalrecur_iterator_new(rr->r, dt);
	pthread_mutex_unlock(&ical_lock);
	if (!it)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "rrule: libical cannot expand it");
	int rc = 0;
	for (;;) {
		pthread_mutex_lock(&ical_lock);
		struct icaltimetype n = icalrecur_iterator_next(it);
		pthread_mutex_unlock(&ical_lock);
		if (icaltime_is_null_time(n))
			break;
		int64_t t = astra__cal_join(
		        n.year, n.month, n.day, n.hour, n.minute, n.second);
		if (t > until)
			break;
		if (t < from)
			continue;
		rc = fn(payload, t);
		if (rc)
			break;
	}
	pthread_mutex_lock(&ical_lock);
	icalrecur_iterator_free(it);
	pthread_mutex_unlock(&ical_lock);
	return rc < 0 ? rc : 0;
}
