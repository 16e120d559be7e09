"""Applications (app.h), their snapshots (snapshot.h), backups, restores and
clones (backup.h).

Every result is the library's JSON parsed into dicts and lists; the field
names are those of the C API (docs/apps.md, docs/backups.md).
"""
from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List,
                    Mapping, Optional, Tuple, Union)

from . import capi
from ._common import Cancel, ProgressCallback, _cancel_handle, _progress_proxy
from ._errors import Error, PartialError

if TYPE_CHECKING:  # pragma: no cover
    from ._cluster import Cluster
    from ._vault import Vault

PathLike = Union[str, "os.PathLike[str]"]
#: A volume path: a template of the directory holding a PersistentVolume's
#: data ({volumeHandle}, {pvName}, {pvcName}, {namespace} substituted), or a
#: callable that gets the PersistentVolume (a dict) and returns the
#: directory. The callable may run on any of libastra's threads.
VolumePath = Union[PathLike, Callable[[Dict[str, Any]], PathLike]]
#: "SRC=DST" mappings: a dict {SRC: DST} or an iterable of "SRC=DST".
Mappings = Union[Mapping[str, str], Iterable[str]]



@dataclass
class Mover:
    """How volume data moves (astra_mover_options; docs/backups.md).

    ``strategy`` "hostpath" (default: this process reads and writes volumes
    through ``volume_path``) or "job": a Kubernetes Job per volume runs
    astractl from ``image`` next to the data, ``parallelism`` at once
    (0: 4), each for at most ``timeout`` seconds (0: 3600), on nodes
    chosen by ``node_selector`` (a dict) and ``tolerations`` (a list),
    with the pod network or, with ``host_network``, the node's. The pods
    get the vault's secret (``vault_password`` or ``vault_password_file``,
    one required for Jobs) through a Secret owned by their Job, and open
    the vault at ``vault_url`` (default: the URL this process opened).
    Jobs, Secrets and PVCs live in ``control_namespace`` (default
    "astra-system"), never in the tenant's namespace; ``run_as_user``
    (non-zero) runs the pods as that non-root user (docs/security.md).
    """

    strategy: str = "hostpath"
    image: Optional[str] = None
    image_pull_policy: Optional[str] = None
    parallelism: int = 0
    timeout: int = 0
    node_selector: Optional[Mapping[str, str]] = None
    tolerations: Optional[List[Mapping[str, Any]]] = None
    vault_password: Optional[str] = None
    vault_password_file: Optional[PathLike] = None
    vault_url: Optional[str] = None
    host_network: bool = False
    control_namespace: Optional[str] = None
    run_as_user: int = 0

    def _options(self) -> Any:
        strategies = {"hostpath": capi.ASTRA_MOVER_HOSTPATH,
                      "job": capi.ASTRA_MOVER_JOB}
        if self.strategy not in strategies:
            raise ValueError(f"mover strategy {self.strategy!r}: use "
                             "'hostpath' or 'job'")
        o = capi.astra_mover_options()
        o.strategy = strategies[self.strategy]
        for k in ("image", "image_pull_policy", "vault_password", "vault_url",
                  "control_namespace"):
            v = getattr(self, k)
            if v is not None:
                setattr(o, k, str(v))
        if self.vault_password_file is not None:
            o.vault_password_file = os.fspath(self.vault_password_file)
        if self.node_selector is not None:
            o.node_selector_json = json.dumps(dict(self.node_selector))
        if self.tolerations is not None:
            o.tolerations_json = json.dumps(list(self.tolerations))
        o.parallelism = int(self.parallelism)
        o.timeout_s = int(self.timeout)
        o.host_network = 1 if self.host_network else 0
        o.run_as_user = int(self.run_as_user)
        return o


def _mover(o: Any, mover: Optional[Mover]) -> Any:
    """Points options ``o`` at the C form of ``mover``; returns that form,
    which the caller keeps alive until the call returns."""
    if mover is None:
        return None
    if not isinstance(mover, Mover):
        raise TypeError("mover must be an astra.Mover")
    m = mover._options()
    o.mover = m
    return m


_APP_F_UPDATE = 0x1
_SNAPSHOT_F_NO_GROUP = 0x1
_RESTORE_F_REPLACE = 0x1
_HOOK_F_UPDATE = 0x1


def _json(s: Optional[str]) -> Any:
    return json.loads(s) if s else None


def _mappings(what: str, m: Optional[Mappings]) -> List[str]:
    if m is None:
        return []
    if isinstance(m, Mapping):
        return [f"{k}={v}" for k, v in m.items()]
    if isinstance(m, (str, bytes)):
        raise TypeError(f"{what} must be a mapping or an iterable of 'SRC=DST'")
    return [str(x) for x in m]


def _strings(what: str, v: Optional[Iterable[str]]) -> List[str]:
    if v is None:
        return []
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{what} must be an iterable of strings")
    return [str(x) for x in v]


def _add_all(add: Callable[[str], int], items: List[str]) -> None:
    for s in items:
        if add(s) < 0:
            raise MemoryError("options")


def _volume_path(o: Any, volume_path: Optional[VolumePath]) -> None:
    """Sets a template or installs the callable on options ``o``."""
    if volume_path is None:
        return
    if callable(volume_path) and not isinstance(volume_path, (str, os.PathLike)):
        user = volume_path

        def raw(pv_json: str) -> PathLike:
            return os.fspath(user(json.loads(pv_json)))

        o.set_volume_path(raw)
    else:
        o.volume_path = os.fspath(volume_path)


def _definition(definition: Union[Mapping[str, Any], str, bytes]) -> str:
    if isinstance(definition, bytes):
        return definition.decode()
    if isinstance(definition, str):
        return definition
    if isinstance(definition, Mapping):
        return json.dumps(dict(definition))
    raise TypeError("definition must be a dict or a JSON string")


def _app_name(app: Union[None, str, "App"]) -> Optional[str]:
    if app is None or isinstance(app, str):
        return app
    if isinstance(app, App):
        return app.name
    raise TypeError("app must be a name or an astra.App")


def _attach_partial(e: Error, attr: str) -> None:
    """Parses the outputs of a failed call into ``e.<attr>``."""
    try:
        val = _json(e.result) if isinstance(e.result, str) else e.result
    except ValueError:
        val = None
    setattr(e, attr, val)


class App:
    """A defined application (astra_app): a snapshot of its definition,
    bound to the :class:`Cluster` it was loaded from.

    Get one with :meth:`Cluster.define_app` or :meth:`Cluster.app`. Calls
    that talk to the cluster release the GIL and are serialised with the
    cluster's other calls. The handle is freed by :meth:`close` (or when
    the object is collected); the cluster must stay open while it is used.
    """

    def __init__(self, cluster: "Cluster", handle: Any) -> None:
        """Internal: use :meth:`Cluster.define_app` or :meth:`Cluster.app`."""
        self._cluster = cluster
        self._h: Any = handle
        self._name = str(capi.astra_app_name(handle))

    # -- lifetime -----------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def cluster(self) -> "Cluster":
        return self._cluster

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Frees the handle (not the definition: see :meth:`remove`).
        Idempotent."""
        with self._cluster._lock:
            if self._cluster._busy and self._h is not None:
                raise RuntimeError("close() during an operation on the cluster")
            h, self._h = self._h, None
            if h is not None:
                capi.astra_app_free(h)

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._h is None else ""
        return f"<astra.App {self._name!r}{state}>"

    def _handle(self) -> Any:
        if self._h is None:
            raise ValueError("operation on a closed app")
        return self._h

    # -- definition ---------------------------------------------------

    @property
    def definition(self) -> Dict[str, Any]:
        """The definition (with "home", the namespace holding it)."""
        with self._cluster._use():
            return dict(_json(capi.astra_app_definition(self._handle())) or {})

    def resources(self) -> Dict[str, Any]:
        """A dry run of collection: {"app", "resources": [{"apiVersion",
        "kind", "namespace", "name", "reason", "restore"}], "warnings",
        "counts"}: exactly what a snapshot would capture."""
        with self._cluster._use():
            return dict(_json(capi.astra_app_resources(self._handle())) or {})

    def remove(self) -> None:
        """Removes the definition from the cluster (never the app's
        resources). The handle stays usable until :meth:`close`."""
        self._cluster.remove_app(self._name)

    # -- snapshots ----------------------------------------------------

    def snapshot(self, name: Optional[str] = None, *, no_group: bool = False,
                 timeout: float = 0,
                 progress: Optional[ProgressCallback] = None,
                 cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Takes a snapshot (manifests and one consistency group of volume
        snapshots per namespace and driver) and returns its record:
        {"app", "name", "namespace", "created", "state", "consistency"
        ("group", "individual", "none"), "volumes", ...}.

        ``name`` defaults to "<app>-<UTC time>"; ``timeout`` is how long
        volume snapshots may take to be ready (seconds, 0: 300);
        ``no_group`` takes individual VolumeSnapshots even where a group
        class exists. A failed snapshot leaves nothing behind.
        """
        o = capi.astra_snapshot_options()
        if name is not None:
            o.name = name
        o.timeout_s = int(timeout) if timeout else 0
        o.flags = _SNAPSHOT_F_NO_GROUP if no_group else 0
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._cluster._use():
            rec = capi.astra_snapshot_create(self._handle(), o)
        return dict(_json(rec) or {})

    def snapshots(self) -> List[Dict[str, Any]]:
        """This app's snapshot records, oldest first."""
        return self._cluster.snapshots(self._name)

    # -- hooks ----------------------------------------------------------

    def create_hook(self, name: str, stage: str, script: Union[str, bytes], *,
                    args: Optional[Iterable[str]] = None,
                    namespace_regex: Optional[str] = None,
                    pod_regex: Optional[str] = None,
                    container_regex: Optional[str] = None,
                    image_regex: Optional[str] = None,
                    selector: Optional[str] = None,
                    timeout: float = 0, on_error: str = "fail",
                    update: bool = False) -> None:
        """Stores hook ``name`` (docs/hooks.md): ``script`` (at most
        64 KiB) run by /bin/sh with ``args`` in every running container of
        the app that matches all the given regexes and the label
        ``selector``, at ``stage`` ("pre-snapshot", "post-snapshot",
        "pre-backup", "post-backup", "pre-restore", "post-restore"). ``timeout`` bounds
        one execution (seconds, 0: 60); ``on_error`` is "fail" (abort the
        operation) or "continue". ``update`` replaces a hook of that name.
        """
        if on_error not in ("fail", "continue"):
            raise ValueError("on_error must be 'fail' or 'continue'")
        if isinstance(script, bytes):
            script = script.decode()
        o = capi.astra_hook_options()
        o.stage = stage
        o.script = script
        _add_all(o.add_arg, _strings("args", args))
        if namespace_regex is not None:
            o.namespace_regex = namespace_regex
        if pod_regex is not None:
            o.pod_regex = pod_regex
        if container_regex is not None:
            o.container_regex = container_regex
        if image_regex is not None:
            o.image_regex = image_regex
        if selector is not None:
            o.selector = selector
        o.timeout_s = int(timeout) if timeout else 0
        o.on_error = 1 if on_error == "continue" else 0
        with self._cluster._use():
            capi.astra_hook_create(self._handle(), name, o,
                                   _HOOK_F_UPDATE if update else 0)

    def hooks(self) -> List[Dict[str, Any]]:
        """The app's hooks in execution order (by stage, then name), each
        {"name", "stage", "args", "namespaceRegex", ..., "timeoutSeconds",
        "onError", "scriptBytes", "script"}."""
        with self._cluster._use():
            return list(_json(capi.astra_hook_list(self._handle())) or [])

    def delete_hook(self, name: str) -> None:
        """Deletes hook ``name`` (NotFoundError if there is none)."""
        with self._cluster._use():
            capi.astra_hook_delete(self._handle(), name)

    def run_hooks(self, stage: str) -> Dict[str, Any]:
        """Runs the hooks of ``stage`` now, as an operation would, and
        returns {"stage", "hooks", "failed", "results": [...]}. A failed
        hook with on_error "fail" raises."""
        with self._cluster._use():
            return dict(_json(capi.astra_hook_run(self._handle(), stage)) or {})

    # -- backups and clones --------------------------------------------

    def backup(self, vault: "Vault", name: Optional[str] = None, *,
               snapshot: Optional[str] = None,
               volume_path: Optional[VolumePath] = None,
               mover: Optional[Mover] = None,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """Backs the app up into ``vault``: its manifests and the data of
        every PVC, read from the volume snapshots of ``snapshot`` (an
        existing snapshot's name) or of one taken for the backup and
        deleted afterwards. Returns the backup's record.

        ``volume_path`` gives access to volume data (see
        :data:`VolumePath`); without it an app with PVCs fails with
        NotSupportedError. An exception raised by a ``volume_path``
        callable fails the backup and is re-raised. ``mover`` chooses how
        volume data moves (:class:`Mover`).
        """
        o = capi.astra_backup_options()
        if name is not None:
            o.name = name
        if snapshot is not None:
            o.snapshot = snapshot
        _volume_path(o, volume_path)
        m = _mover(o, mover)
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        with self._cluster._use(), vault._use() as vh:
            try:
                rec = capi.astra_backup_create(self._handle(), vh, o)
            except PartialError as e:
                _attach_partial(e, "record")
                raise
            finally:
                del m
        return dict(_json(rec) or {})

    def backups(self, vault: "Vault") -> List[Dict[str, Any]]:
        """This app's backups in ``vault``, oldest first."""
        return vault.backups(self._name)

    def clone(self, vault: "Vault", namespace_map: Mappings, *,
              target: Optional["Cluster"] = None,
              storage_class_map: Optional[Mappings] = None,
              from_backup: Optional[str] = None,
              from_snapshot: Optional[str] = None,
              name: Optional[str] = None,
              volume_path: Optional[VolumePath] = None,
              mover: Optional[Mover] = None,
              progress: Optional[ProgressCallback] = None,
              cancel: Optional[Cancel] = None,
              cluster_resources: bool = False,
              with_policies: bool = False) -> Dict[str, Any]:
        """Clones the app into new namespaces (every namespace mapped,
        none existing yet) of ``target`` (default: this cluster) through
        ``vault``, from ``from_backup``, ``from_snapshot`` or a backup
        taken now, and defines the clone as app ``name`` (default
        "<app>-clone") with the app's hooks; cluster-scoped objects are
        created only with ``cluster_resources``; the app's policies come
        along with ``with_policies``. Returns the restore report; raises PartialError
        (``err.report``) when some objects failed.
        """
        o = capi.astra_clone_options()
        _add_all(o.add_namespace_map, _mappings("namespace_map", namespace_map))
        _add_all(o.add_storage_class_map,
                 _mappings("storage_class_map", storage_class_map))
        if from_backup is not None:
            o.from_backup = from_backup
        if from_snapshot is not None:
            o.from_snapshot = from_snapshot
        if name is not None:
            o.name = name
        o.cluster_resources = 1 if cluster_resources else 0
        o.with_policies = 1 if with_policies else 0
        _volume_path(o, volume_path)
        m = _mover(o, mover)
        o.set_progress(_progress_proxy(progress))
        o.cancel = _cancel_handle(cancel)
        tgt = target if target is not None else self._cluster
        with ExitStack() as stack:
            # two clusters: lock them in a fixed order (no lock cycles)
            clusters = sorted({id(self._cluster): self._cluster,
                               id(tgt): tgt}.items())
            handles = {k: stack.enter_context(c._use()) for k, c in clusters}
            vh = stack.enter_context(vault._use())
            try:
                report = capi.astra_app_clone(self._handle(), vh,
                                              handles[id(tgt)], o)
            except PartialError as e:
                _attach_partial(e, "report")
                raise
            finally:
                del m
        return dict(_json(report) or {})


def _snapshot_ref(snapshot: Union[None, Tuple[Any, str], List[Any]]
                  ) -> Tuple[Optional[str], Optional[str]]:
    if snapshot is None:
        return None, None
    if isinstance(snapshot, (str, bytes)) or len(snapshot) != 2:
        raise TypeError("snapshot must be an (app, name) pair")
    return _app_name(snapshot[0]), str(snapshot[1])


def _restore_options(backup: Optional[str],
                     snapshot: Union[None, Tuple[Any, str], List[Any]],
                     namespace_map: Optional[Mappings],
                     storage_class_map: Optional[Mappings],
                     include: Optional[Iterable[str]],
                     exclude: Optional[Iterable[str]], replace: bool,
                     volume_path: Optional[VolumePath], concurrency: int,
                     progress: Optional[ProgressCallback],
                     cancel: Optional[Cancel],
                     mover: Optional[Mover] = None,
                     inplace_timeout: int = 0) -> Tuple[Any, Any]:
    """The options, and the C form of ``mover`` they point at (keep it
    alive until the call returns)."""
    o = capi.astra_restore_options()
    if backup is not None:
        o.backup = backup
    snap_app, snap = _snapshot_ref(snapshot)
    if snap_app is not None:
        o.snapshot_app = snap_app
    if snap is not None:
        o.snapshot = snap
    _add_all(o.add_namespace_map, _mappings("namespace_map", namespace_map))
    _add_all(o.add_storage_class_map,
             _mappings("storage_class_map", storage_class_map))
    _add_all(o.add_include, _strings("include", include))
    _add_all(o.add_exclude, _strings("exclude", exclude))
    o.flags = _RESTORE_F_REPLACE if replace else 0
    _volume_path(o, volume_path)
    o.concurrency = int(concurrency)
    o.inplace_timeout_s = int(inplace_timeout)
    o.set_progress(_progress_proxy(progress))
    o.cancel = _cancel_handle(cancel)
    return o, _mover(o, mover)
