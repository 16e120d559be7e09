"""The exception hierarchy: one class per astra status code.

Every exception raised for a failed libastra call is an :class:`Error`
carrying the status ``code`` (a negative :class:`Status`), the subsystem
``klass`` (an :class:`ErrorClass`) and the library's message. A few also
derive from the matching builtin (``MemoryError``, ``OSError``,
``ValueError``, ``TimeoutError``, ...) so generic handlers keep working.
"""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Type


class Status(enum.IntEnum):
    """astra_error_code: 0 or a negative status."""

    OK = 0
    ERROR = -1
    ENOTSUPPORTED = -2
    ENOTFOUND = -3
    EEXISTS = -4
    EINVALID = -5
    ENOMEM = -6
    EIO = -7
    ENET = -8
    EAUTH = -9
    ECERTIFICATE = -10
    EPARSE = -11
    EPOLICY = -12
    ECANCELLED = -13
    ECORRUPT = -14
    EVERSION = -15
    ENOSPACE = -16
    ECONFLICT = -17
    ETIMEOUT = -18
    EPARTIAL = -19
    EBUSY = -20
    EUSER = -30


class ErrorClass(enum.IntEnum):
    """astra_error_class: which subsystem produced the error."""

    NONE = 0
    NOMEMORY = 1
    OS = 2
    INVALID = 3
    NET = 4
    TLS = 5
    HTTP = 6
    JSON = 7
    YAML = 8
    CRYPTO = 9
    STORE = 10
    REPO = 11
    KUBE = 12
    POLICY = 13
    CALLBACK = 14
    COMPRESS = 15
    CONFIG = 16


class Error(Exception):
    """A libastra call failed.

    Attributes:
        code: the negative status (:class:`Status` when known).
        klass: the subsystem (:class:`ErrorClass` when known).
        message: the library's message for the failure.
        result: outputs the failed call still produced (for example the
            JSON report of a partial restore), or None.
    """

    code: int = Status.ERROR
    _astra_result = True  # marks exceptions the wrapper may attach .result to

    def __init__(self, message: str = "", code: Optional[int] = None,
                 klass: int = 0) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = _enum(Status, code)
        self.klass = _enum(ErrorClass, klass)
        self.result: Any = None

    @property
    def name(self) -> str:
        """The status name, e.g. "EAUTH"."""
        c = self.code
        return c.name if isinstance(c, Status) else str(int(c))

    def __str__(self) -> str:
        return self.message or self.name

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code={self.name}, "
                f"klass={getattr(self.klass, 'name', self.klass)})")


def _enum(cls: Any, v: int) -> int:
    try:
        e: int = cls(v)
        return e
    except ValueError:
        return int(v)


class NotSupportedError(Error, NotImplementedError):
    """ASTRA_ENOTSUPPORTED: operation not supported here."""
    code = Status.ENOTSUPPORTED


class NotFoundError(Error):
    """ASTRA_ENOTFOUND: vault, snapshot, file, context... missing."""
    code = Status.ENOTFOUND


class ExistsError(Error):
    """ASTRA_EEXISTS: the object already exists."""
    code = Status.EEXISTS


class InvalidError(Error, ValueError):
    """ASTRA_EINVALID: invalid argument or options."""
    code = Status.EINVALID


class NoMemoryError(Error, MemoryError):
    """ASTRA_ENOMEM: out of memory."""
    code = Status.ENOMEM


class IoError(Error, OSError):
    """ASTRA_EIO: local I/O error."""
    code = Status.EIO


class NetworkError(Error, ConnectionError):
    """ASTRA_ENET: network error after bounded retries."""
    code = Status.ENET


class AuthError(Error):
    """ASTRA_EAUTH: wrong password or key, or not authorised."""
    code = Status.EAUTH


class CertificateError(Error):
    """ASTRA_ECERTIFICATE: TLS certificate not trusted."""
    code = Status.ECERTIFICATE


class ParseError(Error, ValueError):
    """ASTRA_EPARSE: malformed input (JSON, YAML...)."""
    code = Status.EPARSE


class PolicyError(Error):
    """ASTRA_EPOLICY: denied by a policy (e.g. object lock)."""
    code = Status.EPOLICY


class CancelledError(Error):
    """ASTRA_ECANCELLED: cancelled by a Cancel token or a progress callback
    that returned a true value. (An exception raised by a callback is
    re-raised as itself, not as this.)"""
    code = Status.ECANCELLED


class CorruptError(Error):
    """ASTRA_ECORRUPT: stored data failed verification."""
    code = Status.ECORRUPT


class VersionError(Error):
    """ASTRA_EVERSION: unsupported format or API version."""
    code = Status.EVERSION


class NoSpaceError(Error, OSError):
    """ASTRA_ENOSPACE: no space left on the target."""
    code = Status.ENOSPACE


class ConflictError(Error):
    """ASTRA_ECONFLICT: concurrent modification conflict."""
    code = Status.ECONFLICT


class TimedOutError(Error, TimeoutError):
    """ASTRA_ETIMEOUT: an operation did not finish in time."""
    code = Status.ETIMEOUT


class PartialError(Error):
    """ASTRA_EPARTIAL: finished, but some items failed. The outputs of the
    call are attached (``result``; the methods of Vault add parsed fields
    such as ``report`` or ``backup``)."""
    code = Status.EPARTIAL


class BusyError(Error):
    """ASTRA_EBUSY: resource in use or locked."""
    code = Status.EBUSY


class CallbackError(Error):
    """A callback returned its own status <= ASTRA_EUSER (raw API only)."""
    code = Status.EUSER


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls for cls in (
        NotSupportedError, NotFoundError, ExistsError, InvalidError,
        NoMemoryError, IoError, NetworkError, AuthError, CertificateError,
        ParseError, PolicyError, CancelledError, CorruptError, VersionError,
        NoSpaceError, ConflictError, TimedOutError, PartialError, BusyError,
    )
}


def error_class_for(code: int) -> Type[Error]:
    """The exception class raised for a status code."""
    if code <= Status.EUSER:
        return CallbackError
    return _BY_CODE.get(code, Error)


def _from_status(code: int, klass: int, message: str) -> Error:
    """Called by the C wrapper: the exception for a failed call."""
    cls = error_class_for(code)
    exc = cls(message)
    exc.code = _enum(Status, code)
    exc.klass = _enum(ErrorClass, klass)
    exc.message = message
    exc.result = None
    return exc
