/*
 * Civil-calendar arithmetic and standard 5-field cron expressions, by
 * hand: libical has no cron, and Debian packages no C cron parser that a
 * library could link (docs/policies.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cal/cal.h"
#include "core/error.h"

int64_t astra__cal_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b) != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = astra__cal_floordiv(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = astra__cal_floordiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void astra__cal_split(int64_t t, astra__cal_fields *f)
{
	int64_t days = astra__cal_floordiv(t, 86400);
	int64_t secs = t - days * 86400;
	civil_from_days(days, &f->year, &f->month, &f->day);
	f->hour = (int)(secs / 3600);
	f->minute = (int)(secs / 60 % 60);
	f->second = (int)(secs % 60);
	f->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
}

int64_t astra__cal_join(
        int year, int month, int day, int hour, int minute, int second)
{
	return days_from_civil(year, month, day) * 86400 + hour * 3600 +
	       minute * 60 + second;
}

int astra__cal_days_in_month(int year, int month)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	if (month == 2)
		return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		               ? 29
		               : 28;
	return dm[(month - 1) % 12];
}

/* ---- cron ---- */

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may",
	"jun", "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu",
	"fri", "sat" };

typedef struct {
	const char *name;
	int lo, hi;
	const char *const *names;
	int nnames, name_base;
} field_spec;

static const field_spec fields[5] = {
	{ "minute", 0, 59, NULL, 0, 0 },
	{ "hour", 0, 23, NULL, 0, 0 },
	{ "day-of-month", 1, 31, NULL, 0, 0 },
	{ "month", 1, 12, month_names, 12, 1 },
	{ "day-of-week", 0, 7, dow_names, 7, 0 },
};

static int cron_bad(
        const char *text, const field_spec *f, const char *tok, const char *why)
{
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
	        "cron \"%.100s\": %s field \"%.40s\" %s", text, f->name, tok,
	        why);
}

/* a number or a name; -1 when neither */
static int atom(const field_spec *f, const char *s, size_t n)
{
	if (n == 0 || n > 9)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		int v = 0;
		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				return -1;
			v = v * 10 + (s[i] - '0');
		}
		return v;
	}
	for (int i = 0; i < f->nnames; i++)
		if (n == 3 && !strncasecmp(s, f->names[i], 3))
			return i + f->name_base;
	return -1;
}

static int parse_field(const char *text, const field_spec *f, const char *tok,
        uint64_t *bits, int *star)
{
	char msg[64];
	*bits = 0;
	*star = tok[0] == '*';
	const char *p = tok;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *slash = memchr(p, '/', n);
		size_t rn = slash ? (size_t)(slash - p) : n;
		int lo, hi, step = 1;
		if (rn == 1 && p[0] == '*') {
			lo = f->lo;
			hi = f->hi;
		} else {
			const char *dash = memchr(p, '-', rn);
			lo = atom(f, p, dash ? (size_t)(dash - p) : rn);
			hi = dash ? atom(f, dash + 1,
			                    rn - (size_t)(dash - p) - 1)
			          : lo;
			if (lo < 0 || hi < 0)
				return cron_bad(text, f, tok,
				        "is not a number, range or list");
			if (slash && !dash)
				hi = f->hi; /* "a/n": from a to the end */
		}
		if (slash) {
			step = atom(f, slash + 1, n - rn - 1);
			if (step <= 0 || isalpha((unsigned char)slash[1]))
				return cron_bad(text, f, tok,
				        "has a step that is not a positive "
				        "number");
		}
		if (lo < f->lo || hi > f->hi || lo > hi) {
			snprintf(msg, sizeof(msg), "is out of range %d-%d",
			        f->lo, f->hi);
			return cron_bad(text, f, tok, msg);
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << v;
		if (!end)
			break;
		p = end + 1;
		if (!*p)
			return cron_bad(text, f, tok, "ends with a comma");
	}
	if (!*tok)
		return cron_bad(text, f, tok, "is empty");
	return 0;
}

int astra__cron_parse(const char *text, astra__cron *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		text = "";
	char buf[256];
	if (strlen(text) >= sizeof(buf))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "cron expression is longer than %zu characters",
		        sizeof(buf) - 1);
	strcpy(buf, text);
	char *tok[6] = { 0 };
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, " \t", &save); t;
	        t = strtok_r(NULL, " \t", &save)) {
		if (n == 5) {
			n++;
			break;
		}
		tok[n++] = t;
	}
	if (n != 5)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "cron \"%.100s\": needs 5 fields (minute hour "
		        "day-of-month month day-of-week)",
		        text);
	uint64_t bits[5];
	int star[5];
	for (int i = 0; i < 5; i++) {
		int rc = parse_field(
		        text, &fields[i], tok[i], &bits[i], &star[i]);
		if (rc)
			return rc;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
	out->dom_star = star[2];
	out->dow_star = star[4];
	/* a day of month that no selected month has */
	int maxd = 0;
	for (int m = 1; m <= 12; m++)
		if ((out->month >> m) & 1) {
			int d = astra__cal_days_in_month(2000, m);
			maxd = d > maxd ? d : maxd;
		}
	if (out->dow_star && !(out->dom & ((((uint32_t)2) << maxd) - 2)))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "cron \"%.100s\": the day of month never falls in the "
		        "months: the schedule never runs",
		        text);
	return 0;
}

int astra__cron_day_matches(
        const astra__cron *c, int year, int month, int day, int wday)
{
	(void)year;
	if (!((c->month >> month) & 1))
		return 0;
	int dom = (c->dom >> day) & 1;
	int dow = (c->dow >> wday) & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}
