"""Library-wide pieces: versions, logging, progress reports, cancel tokens."""
from __future__ import annotations

import atexit
import enum
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from . import capi


class Stage(enum.IntEnum):
    """astra_stage: what a long operation is doing."""

    NONE = 0
    SCANNING = 1
    BACKING_UP = 2
    RESTORING = 3
    CHECKING = 4
    COLLECTING_GARBAGE = 5
    FINISHING = 6
    SNAPSHOTTING = 7
    WAITING = 8


class LogLevel(enum.IntEnum):
    """astra_log_level."""

    NONE = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


@dataclass(frozen=True)
class Progress:
    """A progress report passed to ``progress=`` callables.

    The callable runs on the thread that started the operation, with the
    GIL held, at most every 100 ms or so. Return None/False to go on, a
    true value to cancel (the call raises :class:`CancelledError`), or
    raise: the operation stops and the call re-raises that exception.
    """

    stage: Stage
    bytes_done: int
    bytes_total: int  #: 0 when unknown
    items_done: int
    items_total: int  #: 0 when unknown
    bytes_stored: int  #: new bytes written to the target
    item: Optional[str]  #: current file or object, if any

    @property
    def fraction(self) -> Optional[float]:
        """bytes_done / bytes_total, or None when the total is unknown."""
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


ProgressCallback = Callable[[Progress], Any]


def _stage(v: int) -> Any:
    try:
        return Stage(v)
    except ValueError:
        return v


def _progress_proxy(user: Optional[ProgressCallback]) -> Optional[Callable[..., Any]]:
    """The raw callable the C proxy calls (positional values)."""
    if user is None:
        return None
    if not callable(user):
        raise TypeError("progress must be callable")

    def raw(stage: int, bytes_done: int, bytes_total: int, items_done: int,
            items_total: int, bytes_stored: int, item: Optional[str]) -> Any:
        return user(Progress(_stage(stage), bytes_done, bytes_total,
                             items_done, items_total, bytes_stored, item))

    return raw


class Cancel:
    """A cancellation token (astra_cancel).

    Pass it as ``cancel=`` to a long call and call :meth:`request` from any
    thread (or a signal handler): the operation stops at its next safe
    point and raises :class:`CancelledError`, leaving stored data
    consistent. A token may be reused after :meth:`reset`.
    """

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h = capi.astra_cancel_new()

    def request(self) -> None:
        """Requests cancellation; safe from any thread."""
        capi.astra_cancel_request(self._h)

    cancel = request

    @property
    def requested(self) -> bool:
        """True once cancellation was requested (until reset)."""
        return bool(capi.astra_cancel_requested(self._h))

    def reset(self) -> None:
        """Clears a request so the token can be used again."""
        capi.astra_cancel_reset(self._h)

    def __repr__(self) -> str:
        return f"<astra.Cancel requested={self.requested}>"


def _cancel_handle(cancel: Optional[Cancel]) -> Any:
    if cancel is None:
        return None
    if not isinstance(cancel, Cancel):
        raise TypeError("cancel must be an astra.Cancel")
    return cancel._h


def version() -> str:
    """The runtime library version, e.g. "0.1.0"."""
    return str(capi.astra_version_string())


def version_info() -> Tuple[int, int, int]:
    """(major, minor, patch) of the runtime library."""
    major, minor, patch = capi.astra_version()
    return int(major), int(minor), int(patch)


def format_version() -> int:
    """The vault format version the library writes."""
    return int(capi.astra_format_version())


def strerror(code: int) -> str:
    """A static description of a status code."""
    return str(capi.astra_strerror(int(code)))


LogHandler = Callable[[LogLevel, str], Any]
_log_lock = threading.Lock()


def set_log_handler(handler: Optional[LogHandler],
                    level: int = LogLevel.INFO) -> None:
    """Sets the process-wide log handler: handler(level, message).

    It may be called from any of libastra's threads, concurrently; it runs
    with the GIL held. Exceptions it raises are reported through
    sys.unraisablehook and otherwise ignored. None discards messages.
    """
    if handler is not None and not callable(handler):
        raise TypeError("handler must be callable or None")

    def raw(lvl: int, message: str) -> None:
        assert handler is not None
        try:
            lv: Any = LogLevel(lvl)
        except ValueError:
            lv = lvl
        handler(lv, message)

    with _log_lock:
        capi.astra_py_set_log_handler(raw if handler else None, int(level))


_TO_LOGGING = {
    LogLevel.ERROR: logging.ERROR,
    LogLevel.WARN: logging.WARNING,
    LogLevel.INFO: logging.INFO,
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.TRACE: logging.DEBUG,
}


def log_to_logging(logger: Optional[logging.Logger] = None,
                   level: int = LogLevel.INFO) -> None:
    """Forwards libastra's log to a :mod:`logging` logger ("astra")."""
    log = logger or logging.getLogger("astra")

    def handler(lvl: LogLevel, message: str) -> None:
        log.log(_TO_LOGGING.get(lvl, logging.DEBUG), "%s", message)

    set_log_handler(handler, level)


def _init() -> None:
    capi.astra_init()
    # No Python code may run once the interpreter is finalising.
    atexit.register(capi.astra_py_set_log_handler, None, 0)
