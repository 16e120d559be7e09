/*
 * Policy schedules: the next-run table (next_run.tsv, cross-checked by
 * crosscheck.py with zoneinfo and dateutil), due evaluation, and bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra.h"
#include "astra_test.h"
#include "cal/cal.h"

static int64_t utc(const char *s)
{
	int y, mo, d, h, mi, sec;
	cr_assert_eq(
	        sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec), 6,
	        "bad time %s", s);
	return astra__cal_join(y, mo, d, h, mi, sec);
}

static void fmt(char *out, int64_t t)
{
	astra__cal_fields f;
	astra__cal_split(t, &f);
	sprintf(out, "%04d-%02d-%02dT%02d:%02d:%02dZ", f.year, f.month, f.day,
	        f.hour, f.minute, f.second);
}

static int kv(const char *params, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "%s=", key);
	const char *p = strstr(params, pat);
	return p ? atoi(p + strlen(pat)) : 0;
}

Test(policy_schedule, next_run_table)
{
	FILE *f = fopen(
	        ASTRA_TEST_SOURCE_DIR "/tests/unit/policy/next_run.tsv", "r");
	cr_assert(f);
	char line[1024];
	int rows = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char *cols[6] = { 0 };
		char *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, "|", &save); t && n < 6;
		        t = strtok_r(NULL, "|", &save))
			cols[n++] = t;
		cr_assert_geq(n, 5);
		astra_policy_options p;
		cr_assert_astra_ok(astra_policy_options_init(
		        &p, ASTRA_POLICY_OPTIONS_VERSION));
		p.name = "t";
		p.snapshot_retention = 1;
		p.time_zone = cols[2];
		const char *k = cols[0];
		p.minute = kv(cols[1], "minute");
		p.hour = kv(cols[1], "hour");
		p.day_of_week = kv(cols[1], "dow");
		p.day_of_month = kv(cols[1], "dom");
		if (!strcmp(k, "hourly"))
			p.granularity = ASTRA_POLICY_HOURLY;
		else if (!strcmp(k, "daily"))
			p.granularity = ASTRA_POLICY_DAILY;
		else if (!strcmp(k, "weekly"))
			p.granularity = ASTRA_POLICY_WEEKLY;
		else if (!strcmp(k, "monthly"))
			p.granularity = ASTRA_POLICY_MONTHLY;
		else {
			p.granularity = ASTRA_POLICY_CUSTOM;
			if (!strcmp(k, "cron"))
				p.cron = cols[1];
			else
				p.rrule = cols[1];
		}
		int64_t next = 0;
		cr_assert_astra_ok(
		        astra_policy_next_run(&p, utc(cols[3]), &next));
		char got[32];
		fmt(got, next);
		cr_expect_str_eq(got, cols[4], "%s %s in %s after %s (%s)",
		        cols[0], cols[1], cols[2], cols[3], cols[5]);
		rows++;
	}
	fclose(f);
	cr_assert_geq(rows, 50);
}

static astra_policy_options minutely(void)
{
	astra_policy_options p;
	astra_policy_options_init(&p, ASTRA_POLICY_OPTIONS_VERSION);
	p.name = "m";
	p.granularity = ASTRA_POLICY_CUSTOM;
	p.cron = "* * * * *";
	p.snapshot_retention = 2;
	return p;
}

Test(policy_schedule, missed_runs_make_one_run)
{
	astra_policy_options p = minutely();
	int64_t slot = 0;
	int64_t last = utc("2024-01-01T10:00:05Z");
	/* the process was down for 3 hours: one run, the latest slot */
	cr_assert_eq(
	        astra_policy_due(&p, last, utc("2024-01-01T13:00:30Z"), &slot),
	        1);
	cr_assert_eq(slot, utc("2024-01-01T13:00:00Z"));
	/* after that run nothing is due until the next minute */
	cr_assert_eq(astra_policy_due(&p, utc("2024-01-01T13:00:31Z"),
	                     utc("2024-01-01T13:00:59Z"), &slot),
	        0);
	cr_assert_eq(astra_policy_due(&p, utc("2024-01-01T13:00:31Z"),
	                     utc("2024-01-01T13:01:00Z"), &slot),
	        1);
	/* a daily policy missed for three days runs once, for the last day */
	astra_policy_options d = minutely();
	d.cron = NULL;
	d.granularity = ASTRA_POLICY_DAILY;
	d.hour = 2;
	d.time_zone = "Europe/Berlin";
	cr_assert_eq(astra_policy_due(&d, utc("2024-03-28T12:00:00Z"),
	                     utc("2024-03-31T12:00:00Z"), &slot),
	        1);
	cr_assert_eq(slot, utc("2024-03-31T01:00:00Z")); /* 02:00 skipped */
}

Test(policy_schedule, hourly_due_over_fall_back)
{
	astra_policy_options p = minutely();
	p.cron = NULL;
	p.granularity = ASTRA_POLICY_HOURLY;
	p.minute = 30;
	p.time_zone = "America/New_York";
	int64_t slot = 0;
	cr_assert_eq(astra_policy_due(&p, utc("2024-11-03T05:31:00Z"),
	                     utc("2024-11-03T06:45:00Z"), &slot),
	        1);
	cr_assert_eq(slot, utc("2024-11-03T06:30:00Z"));
}

static void expect_invalid(
        astra_policy_options *p, const char *a, const char *b)
{
	cr_assert_eq(astra_policy_validate(p), ASTRA_EINVALID);
	const char *msg = astra_error_last()->message;
	cr_expect(strstr(msg, a), "\"%s\" not in: %s", a, msg);
	if (b)
		cr_expect(strstr(msg, b), "\"%s\" not in: %s", b, msg);
}

Test(policy_schedule, bad_input_names_field_and_value)
{
	astra_policy_options p = minutely();
	cr_assert_astra_ok(astra_policy_validate(&p));
	p.cron = NULL;
	p.granularity = ASTRA_POLICY_HOURLY;
	p.minute = 60;
	expect_invalid(&p, "minute", "60");
	p.minute = 0;
	p.granularity = ASTRA_POLICY_MONTHLY;
	p.day_of_month = 32;
	expect_invalid(&p, "day of month", "32");
	p.day_of_month = 0;
	expect_invalid(&p, "day of month", "0");
	p.day_of_month = 1;
	p.hour = 24;
	expect_invalid(&p, "hour", "24");
	p.hour = 0;
	p.granularity = ASTRA_POLICY_WEEKLY;
	p.day_of_week = 8;
	expect_invalid(&p, "day of week", "8");
	p.day_of_week = 7;
	cr_assert_astra_ok(astra_policy_validate(&p));
	p.time_zone = "Mars/Olympus_Mons";
	expect_invalid(&p, "time zone", "Mars/Olympus_Mons");
	p.time_zone = "Europe/Berlin";
	p.granularity = ASTRA_POLICY_CUSTOM;
	p.rrule = "FREQ=SOMETIMES";
	expect_invalid(&p, "rrule", "FREQ=SOMETIMES");
	p.rrule = "FREQ=DAILY;BYHOUR=25";
	expect_invalid(&p, "rrule", "BYHOUR=25");
	p.rrule = "FREQ=DAILY;COUNT=3";
	expect_invalid(&p, "rrule", "COUNT");
	p.rrule = "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30";
	expect_invalid(&p, "rrule", "never");
	p.rrule = NULL;
	p.cron = "61 * * * *";
	expect_invalid(&p, "minute field \"61\"", "0-59");
	p.cron = "0 0 32 * *";
	expect_invalid(&p, "day-of-month field \"32\"", NULL);
	p.cron = "0 0 * * 8";
	expect_invalid(&p, "day-of-week field \"8\"", NULL);
	p.cron = "0 0 * *";
	expect_invalid(&p, "cron", "5 fields");
	p.cron = "0 0 30 feb *";
	expect_invalid(&p, "cron", "never");
	p.cron = "0 0 * * *";
	p.rrule = "FREQ=DAILY";
	expect_invalid(&p, "exactly one", NULL);
	p.rrule = NULL;
	p.snapshot_retention = 0;
	expect_invalid(&p, "retention", "0");
	p.backup_retention = 3;
	expect_invalid(&p, "vault", NULL);
	p.vault = "s3://key:secret@bucket/x";
	expect_invalid(&p, "vault", "credentials");
	cr_expect(!strstr(astra_error_last()->message, "secret"));
	p.vault = "file:///var/backups/v";
	cr_assert_astra_ok(astra_policy_validate(&p));
	p.name = "Bad_Name";
	expect_invalid(&p, "name", "Bad_Name");
}
