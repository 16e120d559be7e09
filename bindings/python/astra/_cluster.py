"""Kubernetes clusters: a kubeconfig context and a connection to its API
server."""
from __future__ import annotations

import os
import threading
from typing import Any, List, Optional, Sequence, Union

from . import capi
from ._common import Cancel, _cancel_handle

PathLike = Union[str, "os.PathLike[str]"]


class Cluster:
    """A connection to one Kubernetes cluster (astra_cluster).

    :meth:`open` loads the kubeconfig without contacting the server. The
    calls that talk to the API server release the GIL. Use it as a context
    manager or call :meth:`close`; calls from several threads are
    serialised.
    """

    def __init__(self, handle: Any, cancel: Optional[Cancel]) -> None:
        """Internal: use :meth:`open`."""
        self._h: Any = handle
        self._cancel = cancel  # must outlive the handle
        self._lock = threading.Lock()

    @classmethod
    def open(cls, kubeconfig: Union[None, PathLike, Sequence[PathLike]] = None,
             context: Optional[str] = None, *, timeout_ms: int = 0,
             retry_budget_ms: int = 0, qps: float = 0.0, burst: int = 0,
             cancel: Optional[Cancel] = None) -> "Cluster":
        """Loads a kubeconfig (a path, several paths merged like
        $KUBECONFIG, or None for $KUBECONFIG / ~/.kube/config / in-cluster)
        and selects ``context`` (None: the current context).

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
        return cls(capi.astra_cluster_open(o), cancel)

    def _handle(self) -> Any:
        if self._h is None:
            raise ValueError("operation on a closed cluster")
        return self._h

    @property
    def context_name(self) -> str:
        """The kubeconfig context in use."""
        with self._lock:
            return str(capi.astra_cluster_context_name(self._handle()))

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
        with self._lock:
            return str(capi.astra_cluster_server_version(self._handle()))

    def namespaces(self) -> List[str]:
        """The names of all namespaces, sorted."""
        with self._lock:
            return list(capi.astra_cluster_namespaces(self._handle()))

    def close(self) -> None:
        """Closes the connection. Idempotent."""
        with self._lock:
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
