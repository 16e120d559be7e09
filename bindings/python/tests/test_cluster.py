"""Clusters from kubeconfig files (no API server needed)."""
import socket

import pytest

import astra

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context:
    cluster: local
    user: me
    namespace: apps
- name: other
  context:
    cluster: local
    user: me
users:
- name: me
  user:
    token: not-a-real-token
"""


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    p = tmp_path / "config"
    p.write_text(KUBECONFIG.format(port=_closed_port()))
    return p


def test_open_current_context(kubeconfig):
    with astra.Cluster.open(kubeconfig) as c:
        assert c.context_name == "dev"
        assert c.server.startswith("https://127.0.0.1:")
        assert c.namespace == "apps"
        assert "dev" in repr(c)
    assert c.closed
    with pytest.raises(ValueError):
        c.server


def test_control_namespace(kubeconfig):
    with astra.Cluster.open(kubeconfig) as c:
        assert c.control_namespace == "astra-system"
    with astra.Cluster.open(kubeconfig, control_namespace="platform") as c:
        assert c.control_namespace == "platform"
    with pytest.raises(astra.InvalidError, match="Not_A_Namespace"):
        astra.Cluster.open(kubeconfig, control_namespace="Not_A_Namespace")


def test_open_named_context(kubeconfig):
    with astra.open_cluster(kubeconfig, "other") as c:
        assert c.context_name == "other"
        assert c.namespace == "default"


def test_unknown_context(kubeconfig):
    with pytest.raises(astra.NotFoundError) as ei:
        astra.Cluster.open(kubeconfig, "nope")
    assert "dev" in ei.value.message  # lists the known contexts


def test_malformed_kubeconfig(tmp_path):
    p = tmp_path / "bad"
    p.write_text("clusters: [\n  - : :\n")
    with pytest.raises(astra.ParseError):
        astra.Cluster.open(p)


def test_missing_kubeconfig(kubeconfig, tmp_path):
    with pytest.raises(astra.NotFoundError):
        astra.Cluster.open(tmp_path / "does-not-exist")


def test_unreachable_server_is_a_network_error(kubeconfig):
    with astra.Cluster.open(kubeconfig, timeout_ms=500,
                            retry_budget_ms=300) as c:
        with pytest.raises(astra.NetworkError):
            c.server_version()
        with pytest.raises(astra.NetworkError):
            c.namespaces()


def test_cancelled_cluster_calls(kubeconfig):
    token = astra.Cancel()
    token.request()
    with astra.Cluster.open(kubeconfig, cancel=token, retry_budget_ms=300) as c:
        with pytest.raises((astra.CancelledError, astra.NetworkError)):
            c.server_version()
