/*
 * The scheduler's Lease takeover decision (astra__lease_expired) with
 * replicas whose wall clocks disagree: expiry is timed by the reader's
 * monotonic clock from the moment it saw the holder's record change, as
 * client-go does, never by comparing the holder's renewTime with the
 * reader's wall clock.
 */
#include <stdio.h>
#include <string.h>

#include "astra_test.h"
#include "cal/cal.h"
#include "policy/policy.h"

#define S_NS 1000000000LL

/* MicroTime as the holder writes it from its own wall clock */
static const char *micro(int64_t wall_ns, char *buf, size_t n)
{
	astra__cal_fields f;
	astra__cal_split(wall_ns / S_NS, &f);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", f.year, f.month,
	        f.day, f.hour, f.minute, f.second,
	        (int)(wall_ns % S_NS / 1000));
	return buf;
}

/* Holder A renews every 5 s (Lease of 15 s) from t = 0 until `stop_s`
 * (never when negative) with its wall clock at T0. Reader B reads every 2 s
 * from t = `from_s`, its wall clock `skew_s` ahead of A's and its monotonic
 * clock at an arbitrary origin. Returns the first t at which B may take
 * the Lease, or -1 when it may not before t = `until_s`. */
static int64_t last_skew_s; /* seen.skew_s at the end */

static int64_t first_takeover(int skew_s, int stop_s, int from_s, int until_s)
{
	last_skew_s = 0;
	const int64_t T0 = astra__cal_join(2026, 12, 7, 12, 0, 0) * S_NS;
	const uint64_t mono0 = 987654321ULL * 1000;
	astra__lease_seen seen;
	memset(&seen, 0, sizeof(seen));
	for (int t = from_s; t <= until_s; t += 2) {
		int last_renew = t / 5 * 5;
		if (stop_s >= 0 && last_renew > stop_s)
			last_renew = stop_s / 5 * 5;
		char rt[64];
		astra__lease_read r = {
			.holder = "replica-a",
			.renew_time =
			        micro(T0 + last_renew * S_NS, rt, sizeof(rt)),
			.duration_s = 15,
			.wall_ns = T0 + (int64_t)(t + skew_s) * S_NS,
			.mono_ns = mono0 + (uint64_t)t * S_NS,
		};
		int exp = astra__lease_expired(&seen, &r);
		last_skew_s = seen.skew_s;
		if (exp)
			return t;
	}
	return -1;
}

Test(policy_lease, a_replica_60s_ahead_does_not_take_a_renewed_lease)
{
	int64_t t = first_takeover(60, -1, 0, 300);
	cr_assert_eq(t, -1,
	        "took the Lease at t=%lld s although the holder "
	        "renews it every 5 s",
	        (long long)t);
}

Test(policy_lease, a_replica_60s_behind_takes_over_a_dead_holder_in_time)
{
	/* A dies at t = 30 (last renewal at 30): B takes over 15 s after
	 * it last saw the record change, not 60 s + 15 s later */
	int64_t t = first_takeover(-60, 30, 0, 300);
	cr_assert(t >= 45 && t <= 48, "took over at t=%lld s", (long long)t);
}

Test(policy_lease, no_skew_takes_over_after_the_duration)
{
	int64_t t = first_takeover(0, 30, 0, 300);
	cr_assert(t >= 45 && t <= 48, "took over at t=%lld s", (long long)t);
	cr_assert_eq(first_takeover(0, -1, 0, 300), -1);
}

Test(policy_lease, a_fresh_reader_waits_a_full_duration)
{
	/* the holder died long ago (its renewTime is ancient to everyone),
	 * but a reader that just started cannot know that the record does
	 * not change: it waits one duration from its first read */
	int64_t t = first_takeover(0, 0, 600, 900);
	cr_assert(t >= 615 && t <= 618, "took over at t=%lld s", (long long)t);
}

Test(policy_lease, an_empty_holder_is_free_at_once)
{
	astra__lease_seen seen;
	memset(&seen, 0, sizeof(seen));
	astra__lease_read r = { .holder = "",
		.renew_time = "2026-12-07T12:00:00.000000Z",
		.duration_s = 1,
		.wall_ns = 0,
		.mono_ns = 1 };
	cr_assert_eq(astra__lease_expired(&seen, &r), 1);
	r.holder = NULL;
	cr_assert_eq(astra__lease_expired(&seen, &r), 1);
}

Test(policy_lease, a_changed_duration_restarts_the_wait)
{
	astra__lease_seen seen;
	memset(&seen, 0, sizeof(seen));
	astra__lease_read r = { .holder = "a",
		.renew_time = "2026-12-07T12:00:00.000000Z",
		.duration_s = 15,
		.wall_ns = 0,
		.mono_ns = 1000 * S_NS };
	cr_assert_eq(astra__lease_expired(&seen, &r), 0);
	r.mono_ns += 10 * S_NS;
	r.duration_s = 30;
	cr_assert_eq(astra__lease_expired(&seen, &r), 0);
	r.mono_ns += 20 * S_NS; /* 30 s after the first read, 20 s after
	                         * the change */
	cr_assert_eq(astra__lease_expired(&seen, &r), 0);
	r.mono_ns += 10 * S_NS;
	cr_assert_eq(astra__lease_expired(&seen, &r), 1);
	cr_assert_eq(seen.changes, 1);
}
