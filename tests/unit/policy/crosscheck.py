#!/usr/bin/python3
"""Independent check of the next-run table in next_run.tsv.

Computes every row's next run with Python's zoneinfo (the system tz
database), python-dateutil's rrule and a small cron matcher written here,
not with libical or any libastra code, and fails on any difference with the
table the C unit test (tests/unit/policy/schedule.c) checks the library
against. Rules (docs/policies.md): wall-clock times map to UTC with fold=0
(a repeated time is its first occurrence, a skipped one is shifted forward
by the jump); hourly policies run at every instant whose local minute is
the policy's minute.

    crosscheck.py [TABLE]              verify, exit 1 on a mismatch
    crosscheck.py --generate [TABLE]   print the table with computed results
"""
import calendar
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

UTC = timezone.utc


def parse_utc(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def fmt_utc(ts):
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_utc(naive, tz):
    return int(naive.replace(tzinfo=tz, fold=0).timestamp())


def earliest_after(candidates, tz, after):
    """Minimum UTC time > after among local wall-clock candidates."""
    best = None
    for c in candidates:
        u = to_utc(c, tz)
        if u > after and (best is None or u < best):
            best = u
    return best


def days(start, n):
    for i in range(n):
        yield start + timedelta(days=i)


# ---- cron, written for this check ----
NAMES = {3: "jan feb mar apr may jun jul aug sep oct nov dec".split(),
         4: "sun mon tue wed thu fri sat".split()}
LIMITS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def cron_value(field, s):
    if s.isdigit():
        return int(s)
    base = 1 if field == 3 else 0
    return NAMES[field].index(s.lower()) + base


def cron_field(field, text):
    lo, hi = LIMITS[field]
    out = set()
    for part in text.split(","):
        rng, _, step = part.partition("/")
        step = int(step) if step else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (cron_value(field, x) for x in rng.split("-"))
        else:
            a = cron_value(field, rng)
            b = hi if step != 1 or "/" in part else a
        out.update(range(a, b + 1, step))
    if field == 4 and 7 in out:
        out.add(0)
    return out


def cron_candidates(expr, start, ndays):
    f = expr.split()
    mins, hours, doms, months, dows = (cron_field(i, f[i]) for i in range(5))
    dom_star, dow_star = f[2].startswith("*"), f[4].startswith("*")
    for d in days(start, ndays):
        if d.month not in months:
            continue
        dm = d.day in doms
        dw = (d.isoweekday() % 7) in dows
        ok = (dm and dw) if (dom_star or dow_star) else (dm or dw)
        if ok:
            for h in sorted(hours):
                for m in sorted(mins):
                    yield datetime(d.year, d.month, d.day, h, m)


# ---- RRULE through dateutil, expanded from the period boundary ----
EPOCH = datetime(2000, 1, 3)  # a Monday
WKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def rrule_anchor(rule, local):
    parts = dict(p.split("=", 1) for p in rule.upper().split(";"))
    freq, iv = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    if freq in ("MINUTELY", "HOURLY", "DAILY", "WEEKLY"):
        base = EPOCH
        unit = {"MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400,
                "WEEKLY": 7 * 86400}[freq]
        if freq == "WEEKLY":
            base = EPOCH + timedelta(days=WKDAYS.index(parts.get("WKST", "MO")))
        k = int((local - base).total_seconds()) // (unit * iv)
        return base + timedelta(seconds=k * unit * iv)
    if freq == "MONTHLY":
        m = ((local.year - 2000) * 12 + local.month - 1) // iv * iv
        return datetime(2000 + m // 12, m % 12 + 1, 1)
    y = (local.year - 2000) // iv * iv
    return datetime(2000 + y, 1, 1)


def rrule_candidates(rule, start_local, span_days):
    dt = rrule_anchor(rule, start_local)
    r = rrulestr(rule, dtstart=dt)
    end = start_local + timedelta(days=span_days)
    return r.between(start_local, end, inc=True)


def next_run(kind, params, tzname, after):
    tz = ZoneInfo(tzname) if tzname != "UTC" else UTC
    p = dict(kv.split("=", 1) for kv in params.split(",")) if kind in (
        "hourly", "daily", "weekly", "monthly") else {}
    if kind == "hourly":
        t = after // 60 * 60 + 60
        while True:
            if datetime.fromtimestamp(t, tz).minute == int(p["minute"]):
                return t
            t += 60
    local = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    start = local.date() - timedelta(days=2)
    if kind in ("daily", "weekly", "monthly"):
        h, m = int(p.get("hour", 0)), int(p["minute"])
        cands = []
        for d in days(start, 800):
            if kind == "weekly" and d.isoweekday() % 7 != int(p["dow"]) % 7:
                continue
            if kind == "monthly":
                last = calendar.monthrange(d.year, d.month)[1]
                if d.day != min(int(p["dom"]), last):
                    continue
            cands.append(datetime(d.year, d.month, d.day, h, m))
        return earliest_after(cands, tz, after)
    if kind == "cron":
        return earliest_after(cron_candidates(params, start, 3000), tz, after)
    if kind == "rrule":
        span = 3700 if "YEARLY" in params.upper() else 70
        s = datetime(start.year, start.month, start.day)
        return earliest_after(rrule_candidates(params, s, span), tz, after)
    raise ValueError(kind)


def main(argv):
    gen = "--generate" in argv
    args = [a for a in argv[1:] if a != "--generate"]
    table = Path(args[0]) if args else Path(__file__).with_name("next_run.tsv")
    bad = rows = 0
    for line in table.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            if gen:
                print(line)
            continue
        cols = line.split("|")
        kind, params, tzname, after, want = cols[:5]
        got = fmt_utc(next_run(kind, params, tzname,
                               int(parse_utc(after).timestamp())))
        rows += 1
        if gen:
            cols[4] = got
            print("|".join(cols))
        elif got != want:
            bad += 1
            print(f"MISMATCH {kind} {params} {tzname} after {after}: "
                  f"table says {want}, zoneinfo/dateutil say {got}")
    if not gen:
        print(f"crosscheck: {rows} rows, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
