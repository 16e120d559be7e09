/*
 * Schedules: validation, next run and due evaluation (docs/policies.md).
 *
 * Wall-clock schedules (daily, weekly, monthly, cron, RRULE) produce local
 * times in order; each becomes a Unix time through astra__tz_utc() (first
 * occurrence of a repeated time, a skipped time shifted forward by the
 * jump). That mapping is not monotonic around a forward jump, so the
 * search keeps going 4 hours of local time past the first hit and takes
 * the earliest. Hourly schedules are elapsed-time schedules: every instant
 * whose local minute is the policy's minute.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "policy/policy.h"

#define SEARCH_DAYS 3700 /* ten years and some */
#define SETTLE (4 * 3600) /* local seconds searched past the first hit */

static int ref_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		            (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int bad_field(const char *field, const char *fmt, ...)
        ASTRA_PRINTF(2, 3);
static int bad_field(const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID, "policy: %s %s",
	        field, msg);
}

static int range(const char *field, int v, int lo, int hi)
{
	if (v < lo || v > hi)
		return bad_field(field, "%d is out of range %d-%d", v, lo, hi);
	return 0;
}

static int dns_label(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || !isalnum((unsigned char)s[0]) ||
	        !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		            isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

void astra__sched_clear(astra__sched *s)
{
	astra__rrule_free(s->rrule);
	memset(s, 0, sizeof(*s));
}

int astra__sched_compile(const astra_policy_options *p, astra__sched *s)
{
	memset(s, 0, sizeof(*s));
	ASTRA_ASSERT_ARG(p);
	int rc = astra__check_version(p->version, ASTRA_POLICY_OPTIONS_VERSION,
	        "astra_policy_options");
	if (rc)
		return rc;
	if (!dns_label(p->name, 40))
		return bad_field("name",
		        "\"%.80s\" is not a DNS label of at "
		        "most 40 characters",
		        p->name ? p->name : "");
	s->gran = p->granularity;
	s->minute = p->minute;
	s->hour = p->hour;
	s->dow = p->day_of_week;
	s->dom = p->day_of_month;
	int custom = p->granularity == ASTRA_POLICY_CUSTOM;
	if (!custom && ((p->rrule && *p->rrule) || (p->cron && *p->cron)))
		return bad_field("rrule/cron",
		        "need granularity custom, not %s",
		        astra__policy_granularity_name(p->granularity));
	switch (p->granularity) {
	case ASTRA_POLICY_MONTHLY:
		if ((rc = range("day of month", p->day_of_month, 1, 31)))
			return rc;
		/* fall through */
	case ASTRA_POLICY_WEEKLY:
		if (p->granularity == ASTRA_POLICY_WEEKLY &&
		        (rc = range("day of week", p->day_of_week, 0, 7)))
			return rc;
		/* fall through */
	case ASTRA_POLICY_DAILY:
		if ((rc = range("hour", p->hour, 0, 23)))
			return rc;
		/* fall through */
	case ASTRA_POLICY_HOURLY:
		if ((rc = range("minute", p->minute, 0, 59)))
			return rc;
		break;
	case ASTRA_POLICY_CUSTOM: {
		int has_r = p->rrule && *p->rrule;
		int has_c = p->cron && *p->cron;
		if (has_r == has_c)
			return bad_field("rrule/cron",
			        "%s: a custom policy takes exactly one of an "
			        "RRULE and a cron expression",
			        has_r ? "both given" : "neither given");
		if (has_r && (rc = astra__rrule_parse(p->rrule, &s->rrule)))
			return astra__err_prefix(rc, "policy");
		if (has_c && (rc = astra__cron_parse(p->cron, &s->cron)))
			return astra__err_prefix(rc, "policy");
		s->has_cron = has_c;
		break;
	}
	default:
		return bad_field("granularity",
		        "%u is not hourly, daily, weekly, monthly or custom",
		        p->granularity);
	}
	if ((rc = astra__tz_find(p->time_zone, &s->tz))) {
		astra__sched_clear(s);
		return astra__err_prefix(rc, "policy");
	}
	if (p->snapshot_retention == 0 && p->backup_retention == 0) {
		astra__sched_clear(s);
		return bad_field("retention", "%s",
		        "counts are both 0: the policy would take nothing");
	}
	if (p->snapshot_retention > 10000 || p->backup_retention > 10000) {
		astra__sched_clear(s);
		return bad_field("retention", "%u is more than 10000",
		        p->snapshot_retention > 10000 ? p->snapshot_retention
		                                      : p->backup_retention);
	}
	const char *ref = p->version >= 2 ? p->vault_ref : NULL;
	if (ref && *ref && p->vault && *p->vault) {
		astra__sched_clear(s);
		return bad_field("vault", "%s",
		        "and a vault reference exclude each other");
	}
	if (ref && *ref && !ref_name(ref)) {
		astra__sched_clear(s);
		return bad_field("vault reference",
		        "\"%s\" is not a DNS label "
		        "of at most 40 characters",
		        ref);
	}
	if (p->backup_retention && (!p->vault || !*p->vault) &&
	        (!ref || !*ref)) {
		astra__sched_clear(s);
		return bad_field("vault", "%s",
		        "(or a vault reference) is needed when backup retention "
		        "is not 0");
	}
	if (p->vault && *p->vault) {
		const char *auth = strstr(p->vault, "://");
		const char *end = auth ? strchr(auth + 3, '/') : NULL;
		const char *at = auth ? strchr(auth + 3, '@') : NULL;
		if (!auth || (at && (!end || at < end))) {
			astra__sched_clear(s);
			return bad_field("vault", "%s",
			        "must be a URL (file://, s3://...) "
			        "without credentials");
		}
	}
	return 0;
}

/* ---- search ---- */

typedef struct {
	const astra__sched *s;
	int64_t after; /* next: > after */
	int64_t lo, hi; /* latest: in (lo, hi] */
	int latest;
	int found;
	int64_t best; /* utc */
	int64_t first_local;
} search;

/* 1: stop */
static int offer(void *payload, int64_t local)
{
	search *q = payload;
	if (q->found && local > q->first_local + SETTLE)
		return 1;
	int64_t u = astra__tz_utc(q->s->tz, local);
	if (!q->latest) {
		if (u > q->after && (!q->found || u < q->best)) {
			if (!q->found)
				q->first_local = local;
			q->found = 1;
			q->best = u;
		}
	} else if (u > q->lo && u <= q->hi && (!q->found || u > q->best)) {
		q->found = 1;
		q->best = u;
		q->first_local = INT64_MAX / 2; /* never stop early */
	}
	return 0;
}

static int day_matches(const astra__sched *s, const astra__cal_fields *f)
{
	switch (s->gran) {
	case ASTRA_POLICY_WEEKLY:
		return f->wday == s->dow % 7;
	case ASTRA_POLICY_MONTHLY: {
		int dim = astra__cal_days_in_month(f->year, f->month);
		return f->day == (s->dom < dim ? s->dom : dim);
	}
	case ASTRA_POLICY_CUSTOM:
		return astra__cron_day_matches(
		        &s->cron, f->year, f->month, f->day, f->wday);
	default:
		return 1;
	}
}

/* Offers every wall-clock time of the schedule in [from, until] (local). */
static int scan(const astra__sched *s, int64_t from, int64_t until, search *q)
{
	if (s->rrule)
		return astra__rrule_each(s->rrule, from, until, offer, q);
	int64_t day0 = astra__cal_floordiv(from, 86400);
	int64_t day1 = astra__cal_floordiv(until, 86400);
	for (int64_t d = day0; d <= day1; d++) {
		astra__cal_fields f;
		astra__cal_split(d * 86400, &f);
		if (!day_matches(s, &f))
			continue;
		for (int h = 0; h < 24; h++) {
			if (s->has_cron ? !((s->cron.hour >> h) & 1)
			                : h != s->hour)
				continue;
			for (int m = 0; m < 60; m++) {
				if (s->has_cron ? !((s->cron.minute >> m) & 1)
				                : m != s->minute)
					continue;
				int64_t t = d * 86400 + h * 3600 + m * 60;
				if (t < from)
					continue;
				if (t > until)
					return 0;
				if (offer(q, t))
					return 0;
			}
		}
	}
	return 0;
}

static int64_t local_minute(const astra__sched *s, int64_t t)
{
	int64_t l = astra__tz_local(s->tz, t);
	return (l / 60 % 60 + 60) % 60;
}

int astra__sched_next(const astra__sched *s, int64_t after, int64_t *next)
{
	if (s->gran == ASTRA_POLICY_HOURLY) {
		int64_t t = astra__cal_floordiv(after, 60) * 60 + 60;
		for (int i = 0; i < 200; i++) {
			int64_t lm = local_minute(s, t);
			int64_t delta = (s->minute - lm + 60) % 60;
			if (delta == 0) {
				*next = t;
				return 0;
			}
			t += delta * 60;
		}
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_POLICY,
		        "policy: no hourly run found");
	}
	search q = { 0 };
	q.s = s;
	q.after = after;
	int64_t from =
	        astra__cal_floordiv(astra__tz_local(s->tz, after), 60) * 60 -
	        86400;
	int rc = scan(s, from, from + (int64_t)SEARCH_DAYS * 86400, &q);
	if (rc)
		return rc;
	if (!q.found)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_POLICY,
		        "policy: the schedule has no run in the next ten "
		        "years");
	*next = q.best;
	return 0;
}

int astra__sched_latest(
        const astra__sched *s, int64_t lo, int64_t hi, int64_t *slot)
{
	int64_t n;
	int rc = astra__sched_next(s, lo, &n);
	if (rc == ASTRA_ENOTFOUND || (!rc && n > hi))
		return 0;
	if (rc)
		return rc;
	if (s->gran == ASTRA_POLICY_HOURLY) {
		int64_t t = astra__cal_floordiv(hi, 60) * 60;
		for (int i = 0; i < 200 && t > lo; i++) {
			int64_t lm = local_minute(s, t);
			int64_t delta = (lm - s->minute + 60) % 60;
			if (delta == 0) {
				*slot = t;
				return 1;
			}
			t -= delta * 60;
		}
		*slot = n;
		return 1;
	}
	int64_t lhi = astra__tz_local(s->tz, hi);
	int64_t llo = astra__tz_local(s->tz, lo) - 86400;
	for (int64_t w = 2 * 86400;; w *= 8) {
		search q = { 0 };
		q.s = s;
		q.latest = 1;
		q.lo = lo;
		q.hi = hi;
		int64_t from = lhi - w < llo ? llo : lhi - w;
		from = astra__cal_floordiv(from, 60) * 60;
		rc = scan(s, from, lhi + 86400, &q);
		if (rc)
			return rc;
		if (q.found) {
			*slot = q.best;
			return 1;
		}
		if (from <= llo)
			break;
	}
	*slot = n; /* not reached in practice: next(lo) <= hi */
	return 1;
}

/* ---- public, pure ---- */

astra_status astra_policy_options_init(
        astra_policy_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_policy_options, POLICY, o, version,
	        offsetof(astra_policy_options, vault_ref), sizeof(defaults));
}

astra_status astra_policy_validate(const astra_policy_options *p)
{
	astra__sched s;
	int rc = astra__sched_compile(p, &s);
	if (rc)
		return rc;
	/* a schedule that never runs is invalid too */
	int64_t n;
	rc = astra__sched_next(&s, 946684800, &n);
	astra__sched_clear(&s);
	if (rc == ASTRA_ENOTFOUND)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "policy \"%s\": the schedule never runs", p->name);
	return rc;
}

astra_status astra_policy_next_run(
        const astra_policy_options *p, int64_t after, int64_t *next_out)
{
	ASTRA_ASSERT_ARG(next_out);
	astra__sched s;
	int rc = astra__sched_compile(p, &s);
	if (rc)
		return rc;
	rc = astra__sched_next(&s, after, next_out);
	astra__sched_clear(&s);
	return rc;
}

astra_status astra_policy_due(const astra_policy_options *p, int64_t last_run,
        int64_t now, int64_t *slot_out)
{
	astra__sched s;
	int rc = astra__sched_compile(p, &s);
	if (rc)
		return rc;
	int64_t slot = 0;
	rc = now > last_run ? astra__sched_latest(&s, last_run, now, &slot) : 0;
	astra__sched_clear(&s);
	if (rc == 1 && slot_out)
		*slot_out = slot;
	return rc;
}
