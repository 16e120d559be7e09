"""Protection policies (docs/policies.md): when an app is snapshotted and
backed up and how many of each are kept; the runner that carries out what
is due and the scheduler that runs it under leader election."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional, Union

from . import capi

#: Unix seconds or a datetime (a naive one is taken as UTC).
Time = Union[int, float, datetime]

_GRANULARITY = {
    "hourly": capi.ASTRA_POLICY_HOURLY,
    "daily": capi.ASTRA_POLICY_DAILY,
    "weekly": capi.ASTRA_POLICY_WEEKLY,
    "monthly": capi.ASTRA_POLICY_MONTHLY,
    "custom": capi.ASTRA_POLICY_CUSTOM,
}


def _unix(t: Time, what: str) -> int:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            return calendar.timegm(t.timetuple())
        return int(t.timestamp())
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"{what} must be Unix seconds or a datetime")
    return int(t)


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


@dataclass
class Policy:
    """A protection policy of an app (astra_policy_options).

    ``granularity`` is "hourly" (at ``minute``), "daily" (at
    ``hour``:``minute``), "weekly" (on ``day_of_week``, 0 and 7 Sunday),
    "monthly" (on ``day_of_month``; in a shorter month its last day) or
    "custom" with exactly one of ``rrule`` (RFC 5545) or ``cron`` (5
    fields). Times are in ``time_zone`` (IANA; None: UTC). The policy keeps
    ``snapshot_retention`` snapshots and ``backup_retention`` backups in
    the vault at URL ``vault`` or in the vault defined in the control
    namespace under the name ``vault_ref`` (one of them needed when
    backup_retention > 0; docs/policies.md says which URLs a scheduler
    follows).
    """

    name: str
    granularity: str = "daily"
    minute: int = 0
    hour: int = 0
    day_of_week: int = 0
    day_of_month: int = 1
    rrule: Optional[str] = None
    cron: Optional[str] = None
    time_zone: Optional[str] = None
    snapshot_retention: int = 0
    backup_retention: int = 0
    vault: Optional[str] = None
    vault_ref: Optional[str] = None

    def _options(self) -> Any:
        g = _GRANULARITY.get(self.granularity)
        if g is None:
            raise ValueError(
                f"granularity {self.granularity!r}: use one of "
                + ", ".join(_GRANULARITY))
        o = capi.astra_policy_options()
        o.name = self.name
        o.granularity = g
        o.minute, o.hour = int(self.minute), int(self.hour)
        o.day_of_week, o.day_of_month = (int(self.day_of_week),
                                         int(self.day_of_month))
        for k in ("rrule", "cron", "time_zone", "vault", "vault_ref"):
            v = getattr(self, k)
            if v is not None:
                setattr(o, k, str(v))
        o.snapshot_retention = int(self.snapshot_retention)
        o.backup_retention = int(self.backup_retention)
        return o

    def validate(self) -> None:
        """Raises InvalidError naming the field and the value (minute 60,
        an unknown time zone, a malformed RRULE or cron, a policy that
        takes nothing). Needs no cluster."""
        capi.astra_policy_validate(self._options())

    def next_run(self, after: Time) -> datetime:
        """The first scheduled time strictly after ``after`` (UTC)."""
        return _utc(int(capi.astra_policy_next_run(
            self._options(), _unix(after, "after"))))

    def due(self, last_run: Time, now: Time) -> Optional[datetime]:
        """The latest scheduled time in (last_run, now] -- the one to run
        now, missed times collapsed into it -- or None when none is due."""
        r = capi.astra_policy_due(self._options(), _unix(last_run, "last_run"),
                                  _unix(now, "now"))
        if isinstance(r, list) and r and r[0] == 1:
            return _utc(int(r[1]))
        return None
