"""Kubernetes clusters: a kubeconfig context and a connection to its API
server; the apps defined in it, their snapshots, restores into it, and its
protection policies."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import (TYPE_CHECKING, Any, Dict, Iterable, Iterator, List,
                    Mapping, Optional, Sequence, Tuple, Union)

from . import capi
from ._app import (_APP_F_UPDATE, App, Mappings, Mover, VolumePath,
                   _app_name,
                   _attach_partial, _definition, _json, _restore_options,
                   _volume_path)
from ._common import Cancel, ProgressCallback, _cancel_handle
from ._errors import PartialError
from ._policy import Policy, Time, _unix

if TYPE_CHECKING:  # pragma: no cover
    from ._vault import Vault

PathLike = Union[str, "os.PathLike[str]"]


class Cluster:
    """A connection to one Kubernetes cluster (astra_cluster).

    :meth:`open` loads the kubeconfig without contacting the server. The
    calls that talk to the API server release the GIL. Use it as a context
    manager or call :meth:`close`; calls from several threads are
    serialised (also those of the cluster's :class:`App` objects). Calling
    the cluster from a callback of its own running operation raises
    RuntimeError.
    """

    def __init__(self, handle: Any, cancel: Optional[Cancel]) -> None:
        """Internal: use :meth:`open`."""
        self._h: Any = handle
        self._cancel = cancel  # must outlive the handle
        self._lock = threading.RLock()
        self._busy = 0

    @classmethod
    def open(cls, kubeconfig: Union[None, PathLike, Sequence[PathLike]] = None,
             context: Optional[str] = None, *, timeout_ms: int = 0,
             retry_budget_ms: int = 0, qps: float = 0.0, burst: int = 0,
             cancel: Optional[Cancel] = None,
             control_namespace: Optional[str] = None) -> "Cluster":
        """Loads a kubeconfig (a path, several paths merged like
        $KUBECONFIG, or None for $KUBECONFIG / ~/.kube/config / in-cluster)
        and selects ``context`` (None: the current context).
        ``control_namespace`` (default "astra-system") is the namespace
        whose app definitions may span namespaces (docs/security.md).

        Raises ParseError for a malformed kubeconfig, NotFoundError when
        none exists or the context is unknown.
        """
        o = capi.astra_cluster_options()
        if kubeconfig is not None:
            if isinstance(kubeconfig, (str, os.PathLike)):
                o.kubeconfig = os.fspath(kubeconfig)
            else:
                o.kubeconfig = ":".join(os.fspath(p) for p in kubeconfig)
        if context is not None:
            o.context = context
        o.timeout_ms = int(timeout_ms)
        o.retry_budget_ms = int(retry_budget_ms)
        o.qps = float(qps)
        o.burst = int(burst)
        o.cancel = _cancel_handle(cancel)
        if control_namespace is not None:
            o.control_namespace = control_namespace
        return cls(capi.astra_cluster_open(o), cancel)

    def _handle(self) -> Any:
        if self._h is None:
            raise ValueError("operation on a closed cluster")
        return self._h

    @contextmanager
    def _use(self) -> Iterator[Any]:
        with self._lock:
            if self._busy:
                raise RuntimeError(
                    "cluster used from its own callback while an operation runs")
            h = self._handle()
            self._busy += 1
            try:
                yield h
            finally:
                self._busy -= 1

    @property
    def context_name(self) -> str:
        """The kubeconfig context in use."""
        with self._lock:
            return str(capi.astra_cluster_context_name(self._handle()))

    @property
    def control_namespace(self) -> str:
        """The control namespace (docs/security.md)."""
        with self._lock:
            return str(capi.astra_cluster_control_namespace(self._handle()))

    @property
    def server(self) -> str:
        """The API server URL."""
        with self._lock:
            return str(capi.astra_cluster_server(self._handle()))

    @property
    def namespace(self) -> str:
        """The context's default namespace ("default" when unset)."""
        with self._lock:
            return str(capi.astra_cluster_namespace(self._handle()))

    def server_version(self) -> str:
        """The server's version, e.g. "v1.36.3" (contacts the server)."""
        with self._use() as h:
            return str(capi.astra_cluster_server_version(h))

    def namespaces(self) -> List[str]:
        """The names of all namespaces, sorted."""
        with self._use() as h:
            return list(capi.astra_cluster_namespaces(h))

    # -- apps -----------------------------------------------------------

    def define_app(self, definition: Union[Mapping[str, Any], str],
                   update: bool = False) -> App:
        """Defines an app (a dict or JSON string; docs/apps.md) and returns
        it. With ``update``, replaces an existing definition (NotFoundError
        when there is none).

        Raises InvalidError for an invalid definition (bad selector or
        name, unknown field, neither "namespaces" nor "helm"), ParseError
        for malformed JSON, NotFoundError for a missing namespace or Helm
        release, ExistsError when the name is taken (without ``update``).
        """
        text = _definition(definition)
        with self._use() as h:
            return App(self, capi.astra_app_define(
                h, text, _APP_F_UPDATE if update else 0))

    def app(self, name: str) -> App:
        """Loads the app called ``name`` (NotFoundError if there is none)."""
        with self._use() as h:
            return App(self, capi.astra_app_get(h, name))

    def apps(self) -> List[Dict[str, Any]]:
        """The managed apps' definitions (each with "name" and "home")."""
        with self._use() as h:
            return list(_json(capi.astra_app_list(h)) or [])

    def unmanaged(self) -> List[Dict[str, Any]]:
        """What no app covers: [{"kind": "namespace", "name"} or {"kind":
        "helm", "name", "namespace"}] (system namespaces left out)."""
        with self._use() as h:
            return list(_json(capi.astra_app_list_unmanaged(h)) or [])

    def remove_app(self, app: Union[str, App]) -> None:
        """Removes an app's definition; its resources are never touched."""
        name = _app_name(app)
        with self._use() as h:
            capi.astra_app_remove(h, name)

    # -- snapshots ------------------------------------------------------

    def snapshots(self, app: Union[None, str, App] = None
                  ) -> List[Dict[str, Any]]:
        """Snapshot records of ``app`` (or of every app), oldest first."""
        name = _app_name(app)
        with self._use() as h:
            return list(_json(capi.astra_snapshot_list(h, name)) or [])

    def get_snapshot(self, app: Union[str, App], name: str, *,
                     manifests: bool = False) -> Dict[str, Any]:
        """One snapshot's record; with ``manifests``, "manifests" holds
        every captured object. NotFoundError if there is none."""
        app_name = _app_name(app)
        with self._use() as h:
            return dict(_json(capi.astra_snapshot_get(
                h, app_name, name, 1 if manifests else 0)) or {})

    def delete_snapshot(self, app: Union[str, App], name: str) -> None:
        """Deletes a snapshot (its volume snapshots and record). BusyError
        while a backup reads it."""
        app_name = _app_name(app)
        with self._use() as h:
            capi.astra_snapshot_delete(h, app_name, name)

    # -- restores -------------------------------------------------------

    def restore(self, vault: Optional["Vault"] = None,
                backup: Optional[str] = None, *,
                snapshot: Union[None, Tuple[Union[str, App], str]] = None,
                namespace_map: Optional[Mappings] = None,
                storage_class_map: Optional[Mappings] = None,
                include: Optional[Iterable[str]] = None,
                exclude: Optional[Iterable[str]] = None,
                replace: bool = False,
                volume_path: Optional[VolumePath] = None,
                mover: Optional[Mover] = None,
                concurrency: int = 0,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[Cancel] = None,
                inplace_timeout: int = 0,
                include_selector: Optional[str] = None,
                exclude_selector: Optional[str] = None,
                cluster_resources: bool = False,
                app_name: Optional[str] = None,
                with_policies: bool = False) -> Dict[str, Any]:
        """Restores into this cluster from ``backup`` in ``vault``, or from
        ``snapshot=(app, name)`` (same cluster; volumes come from its
        VolumeSnapshots), and returns the report {"created", "replaced",
        "skipped", "failed", "items": [{"kind", "namespace", "name",
        "result", "reason"}]}.

        ``namespace_map`` / ``storage_class_map``: {SRC: DST} (or
        "SRC=DST" strings; "*" maps every storage class). ``include`` /
        ``exclude``: "GROUP/KIND[/NAMESPACE[/NAME]]" filters ("" or "core"
        for the core group; excludes win); ``include_selector`` /
        ``exclude_selector``: Kubernetes label selectors over the objects'
        labels. Cluster-scoped objects are created only with
        ``cluster_resources`` (else reported skipped). With a namespace
        map the restored app is defined as ``app_name`` (default
        "<app>-<first target namespace>"; the report's "app"), with the
        source app's policies when ``with_policies``. Existing objects are
        kept and reported as skipped unless ``replace``. ``replace``
        without ``namespace_map`` is an in-place restore that rolls the
        app's data back (docs/backups.md): workloads scaled to zero and
        back, each existing PVC re-created from its VolumeSnapshot or
        overwritten from the backup; the report adds "rolledBack" and
        "workloads", and ``inplace_timeout`` (seconds, 0: 300) bounds each
        of its waits. ``volume_path`` gives
        access to volume data (needed to restore PVC data from a backup);
        ``mover`` chooses how it moves (:class:`Mover`).

        Raises PartialError when some objects failed (the rest is
        restored; ``err.report`` is the report).
        """
        o, m = _restore_options(backup, snapshot, namespace_map,
                                storage_class_map, include, exclude,
                                replace, volume_path, concurrency, progress,
                                cancel, mover, inplace_timeout)
        if include_selector is not None:
            o.include_selector = include_selector
        if exclude_selector is not None:
            o.exclude_selector = exclude_selector
        o.cluster_resources = 1 if cluster_resources else 0
        if app_name is not None:
            o.app_name = app_name
        o.with_policies = 1 if with_policies else 0
        with self._use() as h:
            try:
                if vault is None:
                    report = capi.astra_restore(h, None, o)
                else:
                    with vault._use() as vh:
                        report = capi.astra_restore(h, vh, o)
            except PartialError as e:
                _attach_partial(e, "report")
                raise
            finally:
                del m
        return dict(_json(report) or {})

    # -- protection policies -------------------------------------------

    def set_policy(self, app: Union[str, App], policy: Policy) -> None:
        """Creates or replaces ``policy`` of ``app`` (stored beside the app
        definition). NotFoundError when the app is not defined;
        InvalidError as :meth:`Policy.validate`."""
        name = _app_name(app)
        o = policy._options()
        with self._use() as h:
            capi.astra_policy_set(h, name, o)

    def policies(self, app: Union[None, str, App] = None
                 ) -> List[Dict[str, Any]]:
        """The policies of ``app`` (or of every app): {"app", "name",
        "granularity", ..., "status": {"lastRun", "lastResult",
        "lastError", "nextRun", "snapshots", "backups", ...}}."""
        name = _app_name(app)
        with self._use() as h:
            return list(_json(capi.astra_policy_list(h, name)) or [])

    def remove_policy(self, app: Union[str, App], name: str) -> None:
        """Removes a policy (its snapshots and backups stay)."""
        app_name = _app_name(app)
        with self._use() as h:
            capi.astra_policy_remove(h, app_name, name)

    def run_due_policies(self, *, app: Union[None, str, App] = None,
                         now: Optional[Time] = None,
                         vault_password: Optional[str] = None,
                         vault_password_file: Optional[PathLike] = None,
                         volume_path: Optional[VolumePath] = None,
                         cancel: Optional[Cancel] = None,
                         vault: Optional[str] = None) -> Dict[str, Any]:
        """Runs every due policy (of ``app``, or of every app) once, as
        evaluated at ``now`` (default: now), and applies retention; returns
        the report {"ran": [{"app", "policies", "snapshot", "backups":
        [{"vault", "name", "result", "error"}], "result", "error"}],
        "deleted": [...], "failed": n}.

        The policies' vaults open with ``vault_password`` or
        ``vault_password_file``; ``volume_path`` gives the backups access
        to volume data. ``vault`` is a vault URL trusted for every policy
        that names it; other URLs are followed only for policies in the
        control namespace (docs/policies.md). Raises PartialError when some
        runs failed (``err.report`` is the report).
        """
        o = _run_options(app, now, vault_password, vault_password_file,
                         volume_path, cancel, vault)
        with self._use() as h:
            try:
                report = capi.astra_policy_run_due(h, o)
            except PartialError as e:
                _attach_partial(e, "report")
                raise
        return dict(_json(report) or {})

    def run_scheduler(self, *, app: Union[None, str, App] = None,
                      vault_password: Optional[str] = None,
                      vault_password_file: Optional[PathLike] = None,
                      volume_path: Optional[VolumePath] = None,
                      identity: Optional[str] = None,
                      lease_namespace: Optional[str] = None,
                      lease_name: Optional[str] = None,
                      lease_duration: int = 0, interval: int = 0,
                      once: bool = False,
                      cancel: Optional[Cancel] = None,
                      vault: Optional[str] = None) -> None:
        """The scheduler (docs/policies.md): every ``interval`` seconds
        (default 5) takes or renews the Lease ``lease_name`` (default
        "astra-scheduler") in ``lease_namespace`` (default: the context's
        namespace), held ``lease_duration`` seconds without renewal
        (default 15), and while this replica (``identity``, default
        "<hostname>-<pid>") leads, runs what is due as
        :meth:`run_due_policies`. Blocks until ``cancel`` is requested, or
        for one pass with ``once`` (then raises as the pass failed). Holds
        this Cluster while it runs: give it a Cluster of its own.
        """
        ro = _run_options(app, None, vault_password, vault_password_file,
                          volume_path, None, vault)
        so = capi.astra_policy_scheduler_options()
        so.run = ro
        if identity is not None:
            so.identity = identity
        if lease_namespace is not None:
            so.lease_namespace = lease_namespace
        if lease_name is not None:
            so.lease_name = lease_name
        so.lease_duration_s = int(lease_duration)
        so.interval_s = int(interval)
        so.flags = capi.ASTRA_POLICY_SCHEDULER_F_ONCE if once else 0
        so.cancel = _cancel_handle(cancel)
        with self._use() as h:
            capi.astra_policy_scheduler_run(h, so)

    def close(self) -> None:
        """Closes the connection. Idempotent. The apps loaded from it
        cannot be used any more (close them too)."""
        with self._lock:
            if self._busy:
                raise RuntimeError("close() during an operation on this cluster")
            h, self._h = self._h, None
            if h is not None:
                capi.astra_cluster_free(h)

    @property
    def closed(self) -> bool:
        return self._h is None

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h is None:
            return "<astra.Cluster closed>"
        return f"<astra.Cluster context={self.context_name!r} server={self.server!r}>"


def open_cluster(kubeconfig: Union[None, PathLike, Sequence[PathLike]] = None,
                 context: Optional[str] = None, **kwargs: Any) -> Cluster:
    """Same as :meth:`Cluster.open`."""
    return Cluster.open(kubeconfig, context, **kwargs)


def _run_options(app: Union[None, str, App], now: Optional[Time],
                 vault_password: Optional[str],
                 vault_password_file: Optional[PathLike],
                 volume_path: Optional[VolumePath],
                 cancel: Optional[Cancel],
                 vault: Optional[str] = None) -> Any:
    o = capi.astra_policy_run_options()
    if vault is not None:
        o.vault = vault
    name = _app_name(app)
    if name is not None:
        o.app = name
    if now is not None:
        o.now = _unix(now, "now")
    if vault_password is not None:
        o.vault_password = vault_password
    if vault_password_file is not None:
        o.vault_password_file = os.fspath(vault_password_file)
    _volume_path(o, volume_path)
    o.cancel = _cancel_handle(cancel)
    return o
