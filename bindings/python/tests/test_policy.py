"""Protection policies through the raw SWIG layer: schedules need no
cluster (the next-run rules are tested in depth by the C unit tests)."""
import calendar

import pytest

import astra
from astra import capi


def utc(y, mo, d, h=0, mi=0):
    return calendar.timegm((y, mo, d, h, mi, 0))


def daily(hour, minute, tz):
    p = capi.astra_policy_options()
    p.name = "nightly"
    p.granularity = capi.ASTRA_POLICY_DAILY
    p.hour, p.minute = hour, minute
    p.time_zone = tz
    p.snapshot_retention = 7
    return p


def test_options_are_initialised():
    for cls, version in [
            (capi.astra_policy_options, capi.ASTRA_POLICY_OPTIONS_VERSION),
            (capi.astra_policy_run_options,
             capi.ASTRA_POLICY_RUN_OPTIONS_VERSION),
            (capi.astra_policy_scheduler_options,
             capi.ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION)]:
        assert cls().version == version > 0
    assert capi.astra_policy_options().day_of_month == 1


def test_next_run_over_a_skipped_time():
    p = daily(2, 30, "America/New_York")
    # 02:30 does not exist on 2024-03-10: 03:30 EDT
    assert capi.astra_policy_next_run(p, utc(2024, 3, 9, 12)) == \
        utc(2024, 3, 10, 7, 30)


def test_due_collapses_missed_runs():
    p = daily(2, 0, "Europe/Berlin")
    r = capi.astra_policy_due(p, utc(2024, 3, 28, 12), utc(2024, 3, 31, 12))
    assert r == [1, utc(2024, 3, 31, 1)]


def test_bad_input_names_field_and_value():
    p = daily(24, 0, "UTC")
    with pytest.raises(astra.InvalidError, match="hour 24"):
        capi.astra_policy_validate(p)
    p = daily(1, 0, "Mars/Base")
    with pytest.raises(astra.InvalidError, match="Mars/Base"):
        capi.astra_policy_validate(p)
    p.time_zone = None
    p.granularity = capi.ASTRA_POLICY_CUSTOM
    p.cron = "61 * * * *"
    with pytest.raises(astra.InvalidError, match='field "61"'):
        capi.astra_policy_validate(p)
