"""libastra for Python: vaults, backups and restores of directory trees,
and Kubernetes applications (define, snapshot, back up, restore, clone),
over libastra's C ABI (generated with SWIG).

    import astra

    with astra.Vault.create("file:///tmp/v", "secret") as vault:
        res = vault.backup("/data", progress=lambda p: print(p.bytes_done))
        vault.restore(res.id, "/tmp/restored")

    with astra.Cluster.open() as c, astra.Vault.open(url, "secret") as v:
        app = c.define_app({"name": "shop", "namespaces": [{"name": "shop"}]})
        rec = app.backup(v, volume_path="/var/lib/csi-hostpath-data/{volumeHandle}")
        c.restore(v, rec["name"], namespace_map={"shop": "shop-copy"},
                  volume_path="/var/lib/csi-hostpath-data/{volumeHandle}")

Errors are exceptions derived from :class:`astra.Error` (one class per
status: :class:`NotFoundError`, :class:`AuthError`, ...). Long calls
release the GIL. The raw SWIG layer is :mod:`astra.capi`.
"""
from ._errors import (AuthError, BusyError, CallbackError, CancelledError,
                      CertificateError, ConflictError, CorruptError, Error,
                      ErrorClass, ExistsError, InvalidError, IoError,
                      NetworkError, NoMemoryError, NoSpaceError,
                      NotFoundError, NotSupportedError, ParseError,
                      PartialError, PolicyError, Status, TimedOutError,
                      VersionError, error_class_for)
from ._common import (Cancel, LogLevel, Progress, ProgressCallback, Stage,
                      format_version, log_to_logging, set_log_handler,
                      strerror, version, version_info)
from ._vault import (LOCK_COMPLIANCE, LOCK_GOVERNANCE, BackupResult,
                     RestoreResult, Snapshot, Vault, create_vault, open_vault)
from ._app import App, Mover
from ._cluster import Cluster, open_cluster
from ._policy import Policy
from . import _common

_common._init()

__version__ = version()

__all__ = [
    "App", "AuthError", "BackupResult", "BusyError", "CallbackError", "Cancel",
    "CancelledError", "CertificateError", "Cluster", "ConflictError",
    "CorruptError", "Error", "ErrorClass", "ExistsError", "InvalidError",
    "IoError", "LOCK_COMPLIANCE", "LOCK_GOVERNANCE", "LogLevel", "Mover", "NetworkError", "NoMemoryError", "NoSpaceError",
    "NotFoundError", "NotSupportedError", "ParseError", "PartialError",
    "Policy", "PolicyError", "Progress", "ProgressCallback", "RestoreResult",
    "Snapshot", "Stage", "Status", "TimedOutError", "Vault", "VersionError",
    "create_vault", "error_class_for", "format_version", "log_to_logging",
    "open_cluster", "open_vault", "set_log_handler", "strerror", "version",
    "version_info",
]
