"""Vaults: open or create one, back up and restore directory trees, list,
forget and check snapshots, collect garbage."""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Union)

from . import capi
from ._common import Cancel, ProgressCallback, _cancel_handle, _progress_proxy
from ._errors import CorruptError, Error, PartialError

PathLike = Union[str, "os.PathLike[str]"]

# vault.h constants
LOCK_COMPLIANCE = 1  #: ASTRA_VAULT_LOCK_COMPLIANCE: nobody can delete early
LOCK_GOVERNANCE = 2  #: ASTRA_VAULT_LOCK_GOVERNANCE: privileged users can
_VAULT_F_KEY_FILE = 0x1
_VAULT_F_REKEY = 0x2
_DATA_BACKUP_F_NO_PARENT = 0x1
_DATA_BACKUP_F_NO_SCAN = 0x2
_DATA_RESTORE_F_NO_OWNER = 0x1
_DATA_RESTORE_F_NO_XATTRS = 0x2
_DATA_RESTORE_F_OVERWRITE = 0x4
_DATA_RESTORE_F_DEVICES = 0x8
_CHECK_F_READ_DATA = 0x1
_GC_F_DRY_RUN = 0x1


@dataclass(frozen=True)
class BackupResult:
    """What a backup did (astra_data_backup_result)."""

    id: str  #: the new snapshot's id
    files: int
    dirs: int
    files_unchanged: int  #: not read again (parent snapshot)
    bytes_total: int  #: logical bytes of all files
    bytes_read: int  #: bytes read from the source
    bytes_new: int  #: plaintext bytes of new chunks
    bytes_stored: int  #: bytes written to the store
    errors: int  #: items that could not be read
    duration_s: float


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did (astra_data_restore_result)."""

    files: int
    dirs: int
    bytes: int  #: logical bytes written
    errors: int  #: items that could not be restored
    duration_s: float
    #: [{"path", "error"}] for the items that failed (partial restores)
    report: List[Dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    """A data snapshot record (see docs/format.md)."""

    id: str
    time: str  #: ISO 8601, UTC
    host: str
    source: str
    tags: Dict[str, str]
    parent: Optional[str]
    tree: str
    stats: Dict[str, int]
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def _from_json(cls, d: Dict[str, Any]) -> "Snapshot":
        tags = d.get("tags") or {}
        if isinstance(tags, list):  # tolerate ["k=v", ...]
            tags = dict(t.split("=", 1) if "=" in t else (t, "") for t in tags)
        return cls(id=d.get("id", ""), time=d.get("time", ""),
                   host=d.get("host", ""), source=d.get("source", ""),
                   tags=dict(tags), parent=d.get("parent") or None,
                   tree=d.get("tree", ""), stats=dict(d.get("stats") or {}),
                   raw=d)


def _json(s: Optional[str]) -> Any:
    return json.loads(s) if s else None


def _tags(tags: Union[None, Mapping[str, str], Iterable[str]]) -> List[str]:
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [f"{k}={v}" for k, v in tags.items()]
    if isinstance(tags, str):
        raise TypeError("tags must be a mapping or an iterable of 'k=v'")
    return [str(t) for t in tags]


def _vault_options(password: Optional[str], password_file: Optional[PathLike],
                   key_file: bool, threads: int, **init: int) -> Any:
    o = capi.astra_vault_options()
    if password is not None:
        o.password = password
    if password_file is not None:
        o.password_file = os.fspath(password_file)
    if key_file:
        o.flags = o.flags | _VAULT_F_KEY_FILE
    o.threads = int(threads)
    for k, v in init.items():
        if v:
            setattr(o, k, int(v))
    return o


def _backup_result(r: Any) -> BackupResult:
    return BackupResult(r.id, r.files, r.dirs, r.files_unchanged,
                        r.bytes_total, r.bytes_read, r.bytes_new,
                        r.bytes_stored, r.errors, r.duration_s)


def _restore_result(r: Any, report: Any) -> RestoreResult:
    return RestoreResult(r.files, r.dirs, r.bytes, r.errors, r.duration_s,
                         list(report or []))


class Vault:
    """An open vault: a deduplicated, compressed, encrypted repository.

    Create one with :meth:`create` or open one with :meth:`open`; use it as
    a context manager or call :meth:`close`. A vault is used by one thread
    at a time: calls from other threads wait for the running one (long
    calls release the GIL, so other Python threads keep running). Calling
    the vault from its own progress callback raises RuntimeError.
    """

    def __init__(self, handle: Any, url: str) -> None:
        """Internal: use :meth:`open` or :meth:`create`."""
        self._h: Any = handle
        self._url = url
        self._lock = threading.RLock()
        self._busy = 0

    # -- lifetime -----------------------------------------------------

    @classmethod
    def create(cls, url: str, password: Optional[str] = None, *,
               password_file: Optional[PathLike] = None,
               key_file: bool = False, kdf_log2n: int = 0, kdf_p: int = 0,
               compression_level: int = 0, chunk_min: int = 0,
               chunk_avg: int = 0, chunk_max: int = 0, pack_size: int = 0,
               threads: int = 0, immutable_days: int = 0,
               lock_mode: int = 0) -> "Vault":
        """Creates a vault at ``url`` (file:///dir, s3://bucket/prefix or
        azure://container/prefix)
        and opens it.

        Raises ExistsError when a vault is already there. ``kdf_log2n`` and
        ``kdf_p`` are the scrypt cost, N = 2^kdf_log2n per lane and p lanes
        derived in parallel (0: 16 and 2); the chunk sizes, pack size and compression
        level default when 0; ``threads`` 0 means one per CPU.
        ``immutable_days`` > 0 makes the vault immutable (S3 Object Lock,
        ``lock_mode`` LOCK_COMPLIANCE or LOCK_GOVERNANCE).
        """
        o = _vault_options(password, password_file, key_file, threads,
                           kdf_log2n=kdf_log2n, kdf_p=kdf_p,
                           compression_level=compression_level,
                           chunk_min=chunk_min, chunk_avg=chunk_avg,
                           chunk_max=chunk_max, pack_size=pack_size,
                           immutable_days=immutable_days, lock_mode=lock_mode)
        return cls(capi.astra_vault_init(url, o), url)

    @classmethod
    def open(cls, url: str, password: Optional[str] = None, *,
             password_file: Optional[PathLike] = None,
             key_file: bool = False, threads: int = 0) -> "Vault":
        """Opens the vault at ``url``.

        Raises NotFoundError when there is no vault, AuthError for a wrong
        password or key, VersionError for a newer format.
        """
        o = _vault_options(password, password_file, key_file, threads)
        return cls(capi.astra_vault_open(url, o), url)

    def close(self) -> None:
        """Closes the vault and wipes its keys. Idempotent."""
        with self._lock:
            if self._busy:
                raise RuntimeError("close() during an operation on this vault")
            h, self._h = self._h, None
            if h is not None:
                capi.astra_vault_free(h)

    @property
    def closed(self) -> bool:
        return self._h is None

    @property
    def url(self) -> str:
        return self._url

    def __enter__(self) -> "Vault":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<astra.Vault {self._url!r} {state}>"

    @contextmanager
    def _use(self) -> Iterator[Any]:
        with self._lock:
            if self._busy:
                raise RuntimeError(
                    "vault used from its own callback while an operation runs")
            if self._h is None:
                raise ValueError("operation on a closed vault")
            self._busy += 1
            try:
                yield self._h
            finally:
                self._busy -= 1

    # -- queries ------------------------------------------------------

    def info(self) -> Dict[str, Any]:
        """The vault's description (url, vault_id, format, chunker, ...)."""
        with self._use() as h:
            return dict(_json(capi.astra_vault_info(h)) or {})

    def snapshots(self) -> List[Snapshot]:
        """The data snapshots, oldest first."""
        with self._use() as h:
            records = _json(capi.astra_vault_snapshots(h)) or []
        return [Snapshot._from_json(d) for d in records]

    def iter_snapshots(self) -> Iterator[Snapshot]:
        """Iterates over the snapshots, oldest first."""
        return iter(self.snapshots())

    def __iter__(self) -> Iterator[Snapshot]:
        return self.iter_snapshots()

    def change_password(self, password: Optional[str] = None, *,
                        password_file: Optional[PathLike] = None,
                        key_file: bool = False, kdf_log2n: int = 0,
                        kdf_p: int = 0, rekey: bool = False) -> None:
        """Replaces the secret; the master key is re-wrapped (with scrypt
        cost ``kdf_log2n`` and ``kdf_p``, 0: 16 and 2). No data is
        rewritten. ``rekey``: a new key epoch instead (a new master key,
        the vault's records rewritten under it, every other key slot
        removed; docs/format.md, "Key epochs")."""
        o = _vault_options(password, password_file, key_file, 0,
                           kdf_log2n=kdf_log2n, kdf_p=kdf_p)
        if rekey:
            o.flags = o.flags | _VAULT_F_REKEY
        with self._use() as h:
            capi.astra_vault_change_password(h, o)

    # -- application backups (backup.h) ----------------------------------

    def backups(self, app: Optional[str] = None) -> List[Dict[str, Any]]:
        """The application backups in the vault (of ``app``, an app name
        or :class:`App`, or of every app), oldest first. Needs no cluster."""
        name = app if app is None or isinstance(app, str) else app.name
        with self._use() as h:
            return list(_json(capi.astra_backup_list(h, name)) or [])

    def get_backup(self, name: str) -> Dict[str, Any]:
        """An application backup's record: {"format", "name", "app",
        "definition", "source", "created", "state", "snapshot",
        "consistency", "resources", "volumes", "durationMs", ...}.
        NotFoundError if there is none. (:meth:`backup` backs up a
        directory tree.)"""
        with self._use() as h:
            return dict(_json(capi.astra_backup_get(h, name)) or {})

    def delete_backup(self, name: str) -> None:
        """Deletes an application backup's record and forgets its volume
        data (:meth:`gc` reclaims the space)."""
        with self._use() as h:
            capi.astra_backup_delete(h, name)

    def verify_backup(self, name: str, *,
                      test_restore: Optional[Any] = None,
                      namespace_prefix: Optional[str] = None,
                      timeout: int = 0,
                      volume_path: Optional[Any] = None,
                      mover: Optional[Any] = None,
                      progress: Optional[ProgressCallback] = None,
                      cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Reads and checks everything application backup ``name`` needs,
        and nothing else of the vault (astra_backup_verify; docs/backups.md
        "Verifying a backup"). With ``test_restore`` (a :class:`Cluster`)
        it also restores the backup into scratch namespaces
        "<namespace_prefix>-<random>" there, waits up to ``timeout`` seconds
        (0: 300) for its workloads, runs its "verify" hooks and deletes the
        namespaces again; ``volume_path`` and ``mover`` are for that
        restore. Returns the report {"backup", "app", "ok", "objects",
        "bytes", "snapshots", "trees", "blobs", "packs", "problems",
        "testRestore"}. NotFoundError for an unknown backup; CorruptError
        (``err.report`` is the report) when an object is damaged or
        missing; the test restore's error when it fails (``err.report``
        too)."""
        from ._app import _mover, _volume_path
        o = capi.astra_backup_verify_options()
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        if namespace_prefix is not None:
            o.namespace_prefix = namespace_prefix
        o.timeout_s = int(timeout)
        _volume_path(o, volume_path)
        m = _mover(o, mover)
        with self._use() as h:
            try:
                if test_restore is None:
                    report = capi.astra_backup_verify(h, name, o)
                else:
                    o.flags = capi.ASTRA_BACKUP_VERIFY_F_TEST_RESTORE
                    with test_restore._use() as ch:
                        o.cluster = ch
                        report = capi.astra_backup_verify(h, name, o)
            except Error as e:
                try:
                    e.report = _json(e.result)  # type: ignore[attr-defined]
                except (AttributeError, TypeError, ValueError):
                    e.report = None  # type: ignore[attr-defined]
                raise
            finally:
                del m
        return dict(_json(report) or {})

    def delete_app_backup(self, app: Any, name: str) -> None:
        """Deletes backup ``name`` only when it is ``app``'s (an App):
        its record names the app and only namespaces the app covers.
        Raises AuthError otherwise, and deletes nothing."""
        with self._use() as h:
            capi.astra_backup_delete_app(h, app._handle(), name)

    def forget(self, snapshot_id: str) -> None:
        """Forgets a snapshot (id or unique prefix); gc reclaims its data."""
        with self._use() as h:
            capi.astra_vault_forget(h, snapshot_id)

    # -- data path ----------------------------------------------------

    def backup(self, path: PathLike, *,
               tags: Union[None, Mapping[str, str], Iterable[str]] = None,
               parent: Optional[str] = None, source: Optional[str] = None,
               no_parent: bool = False, no_scan: bool = False,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[Cancel] = None) -> BackupResult:
        """Backs up a directory tree, file or block device at ``path``.

        Unchanged files of the parent snapshot (``parent``, or the latest
        of the same source and host) are not read again. Releases the GIL
        while it runs. Raises PartialError when some items could not be
        read (the snapshot is recorded: ``err.backup`` is the result),
        CancelledError when ``cancel`` fired or ``progress`` returned a
        true value, and re-raises what ``progress`` raised.
        """
        o = capi.astra_data_backup_options()
        for t in _tags(tags):
            if o.add_tag(t) < 0:
                raise MemoryError("tags")
        if parent is not None:
            o.parent = parent
        if source is not None:
            o.source = source
        o.flags = ((_DATA_BACKUP_F_NO_PARENT if no_parent else 0) |
                   (_DATA_BACKUP_F_NO_SCAN if no_scan else 0))
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        res = capi.astra_data_backup_result()
        with self._use() as h:
            try:
                capi.astra_vault_backup_path(h, os.fspath(path), o, res)
            except PartialError as e:
                e.backup = _backup_result(res)  # type: ignore[attr-defined]
                raise
        return _backup_result(res)

    def restore(self, snapshot_id: str, target: PathLike, *,
                subpath: Optional[str] = None, no_owner: bool = False,
                no_xattrs: bool = False, overwrite: bool = False,
                devices: bool = False,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[Cancel] = None) -> RestoreResult:
        """Restores snapshot ``snapshot_id`` (or a unique prefix) into
        ``target``; nothing outside ``target`` is created, followed or
        changed (docs/format.md, "Restore semantics").

        ``target`` must be empty unless ``overwrite`` (then what is in
        the way of the snapshot's items is replaced; nothing is deleted
        otherwise). Device nodes are created only with ``devices``.

        Every chunk is verified. Raises PartialError when some items could
        not be restored (``err.restore`` is the result with its
        ``report``), CancelledError, or what ``progress`` raised.
        """
        o = capi.astra_data_restore_options()
        if subpath is not None:
            o.subpath = subpath
        o.flags = ((_DATA_RESTORE_F_NO_OWNER if no_owner else 0) |
                   (_DATA_RESTORE_F_NO_XATTRS if no_xattrs else 0) |
                   (_DATA_RESTORE_F_OVERWRITE if overwrite else 0) |
                   (_DATA_RESTORE_F_DEVICES if devices else 0))
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        res = capi.astra_data_restore_result()
        with self._use() as h:
            try:
                report = capi.astra_vault_restore_path(
                    h, snapshot_id, os.fspath(target), o, res)
            except PartialError as e:
                rep = _json(e.result) or []
                e.report = rep  # type: ignore[attr-defined]
                e.restore = _restore_result(res, rep)  # type: ignore[attr-defined]
                raise
        return _restore_result(res, _json(report))

    def check(self, *, read_data: bool = False,
              progress: Optional[ProgressCallback] = None,
              cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Checks the structure and, with ``read_data``, every blob.

        Returns the report {"ok", "snapshots", "trees", "blobs", "packs",
        "damaged", "unreferenced_packs"}. Raises CorruptError when anything
        is damaged or missing (``err.report`` is the report).
        """
        o = capi.astra_check_options()
        o.flags = _CHECK_F_READ_DATA if read_data else 0
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._use() as h:
            try:
                report = capi.astra_vault_check(h, o)
            except CorruptError as e:
                e.report = _json(e.result)  # type: ignore[attr-defined]
                raise
        return dict(_json(report) or {})

    def gc(self, *, dry_run: bool = False, grace_seconds: int = 3600,
           repack_threshold: int = 50,
           progress: Optional[ProgressCallback] = None,
           cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Removes data no snapshot references (two-phase, see
        docs/format.md "Garbage collection"); returns the report."""
        o = capi.astra_gc_options()
        o.flags = _GC_F_DRY_RUN if dry_run else 0
        o.grace_seconds = int(grace_seconds)
        o.repack_threshold = int(repack_threshold)
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._use() as h:
            report = capi.astra_vault_gc(h, o)
        return dict(_json(report) or {})

    def repair(self, *, progress: Optional[ProgressCallback] = None,
               cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Re-indexes blobs from the packs' own headers; deletes nothing
        (docs/format.md "Repair"). Returns the report; its "ok" is False
        when a snapshot still misses objects or a pack header is
        unreadable."""
        o = capi.astra_repair_options()
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._use() as h:
            report = capi.astra_vault_repair(h, o)
        return dict(_json(report) or {})

    def replicate(self, to: str, *, dry_run: bool = False, parallel: int = 0,
                  progress: Optional[ProgressCallback] = None,
                  cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Copies into the store at `to` what it lacks of this vault, in
        the order of the writing protocol, so that it becomes a replica
        that opens with the same password (docs/format.md "Replication").
        Returns the report ("copied" or, with dry_run, "would_copy")."""
        o = capi.astra_replicate_options()
        if dry_run:
            o.flags = capi.ASTRA_REPLICATE_F_DRY_RUN
        o.parallel = parallel
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._use() as h:
            report = capi.astra_vault_replicate(h, to, o)
        return dict(_json(report) or {})


def open_vault(url: str, password: Optional[str] = None,
               **kwargs: Any) -> Vault:
    """Same as :meth:`Vault.open`."""
    return Vault.open(url, password, **kwargs)


def create_vault(url: str, password: Optional[str] = None,
                 **kwargs: Any) -> Vault:
    """Same as :meth:`Vault.create`."""
    return Vault.create(url, password, **kwargs)
