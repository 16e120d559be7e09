"""Apps, snapshots, backups and restores (app.h, snapshot.h, backup.h).

The cluster tests run against a real test-bed cluster (tests/testbed)
when one is given through the environment (KUBECONFIG, ASTRA_TB_BIN,
ASTRA_TB_CSI_VOLUMES, ASTRA_TB_STORAGECLASS: what `. DIR/env` exports);
run_tests.sh brings one up. Without it they are skipped.
"""
import json
import os
import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest

import astra
from astra import capi
from conftest import FAST_KDF, PASSWORD

TB = all(os.environ.get(k) for k in (
    "KUBECONFIG", "ASTRA_TB_BIN", "ASTRA_TB_CSI_VOLUMES",
    "ASTRA_TB_STORAGECLASS"))
needs_testbed = pytest.mark.skipif(
    not TB, reason="no test-bed cluster (bindings/python/run_tests.sh starts one)")


# -- without a cluster -------------------------------------------------

@pytest.mark.parametrize("cls,version", [
    (capi.astra_snapshot_options, capi.ASTRA_SNAPSHOT_OPTIONS_VERSION),
    (capi.astra_backup_options, capi.ASTRA_BACKUP_OPTIONS_VERSION),
    (capi.astra_restore_options, capi.ASTRA_RESTORE_OPTIONS_VERSION),
    (capi.astra_clone_options, capi.ASTRA_CLONE_OPTIONS_VERSION),
    (capi.astra_hook_options, capi.ASTRA_HOOK_OPTIONS_VERSION),
])
def test_app_options_are_initialised_with_their_version(cls, version):
    o = cls()
    assert o.version == version > 0
    with pytest.raises(AttributeError):
        o.version = 0


def test_restore_options_own_their_lists_and_strings():
    o = capi.astra_restore_options()
    for i in range(50):
        assert o.add_namespace_map(f"a{i}=b{i}") == 0
        assert o.add_include(f"core/ConfigMap/ns/{i}") == 0
    assert o.add_storage_class_map("*=fast") == 0
    assert o.add_exclude("apps/Deployment") == 0
    o.backup = "".join(["b", "1"])
    o.volume_path = "/v/{volumeHandle}"
    assert (o.backup, o.volume_path) == ("b1", "/v/{volumeHandle}")
    o.set_volume_path(lambda pv: "/x")
    o.set_volume_path(None)
    o.set_progress(None)
    del o  # the box frees everything (valgrind run: no leak)
    c = capi.astra_clone_options()
    assert c.add_namespace_map("a=b") == 0
    c.name = "copy"
    assert c.name == "copy"


def test_mapping_and_filter_arguments_are_checked():
    from astra._app import _mappings, _snapshot_ref, _strings
    assert _mappings("m", {"a": "b"}) == ["a=b"]
    assert _mappings("m", ["a=b", "c=d"]) == ["a=b", "c=d"]
    with pytest.raises(TypeError):
        _mappings("m", "a=b")
    with pytest.raises(TypeError):
        _strings("include", "core/ConfigMap")
    assert _snapshot_ref(("shop", "s1")) == ("shop", "s1")
    with pytest.raises(TypeError):
        _snapshot_ref("shop/s1")


def test_vault_app_backups_without_a_cluster(vault):
    assert vault.backups() == []
    assert vault.backups(app="shop") == []
    with pytest.raises(astra.NotFoundError):
        vault.get_backup("nope")
    with pytest.raises(astra.NotFoundError):
        vault.verify_backup("nope")


# -- on a test-bed cluster ---------------------------------------------

VOLUMES = os.environ.get("ASTRA_TB_CSI_VOLUMES", "")
TEMPLATE = VOLUMES + "/{volumeHandle}"
RID = secrets.token_hex(3)


def kubectl(*args, stdin=None, check=True):
    env = dict(os.environ)
    env["PATH"] = os.environ.get("ASTRA_TB_BIN", "") + os.pathsep + env["PATH"]
    p = subprocess.run(["kubectl", *args], input=stdin, capture_output=True,
                       text=True, env=env, timeout=180)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {p.stderr}")
    return p.stdout.strip()


def volume_dir(ns, pvc):
    pv = kubectl("-n", ns, "get", "pvc", pvc, "-o", "jsonpath={.spec.volumeName}")
    handle = kubectl("get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeHandle}")
    assert handle
    return Path(VOLUMES) / handle


@pytest.fixture(scope="module")
def cluster():
    with astra.Cluster.open() as c:
        yield c


@pytest.fixture(scope="module")
def shop(cluster):
    """A namespace with a ConfigMap and a bound PVC holding a file."""
    ns = f"py-shop-{RID}"
    kubectl("create", "namespace", ns)
    kubectl("apply", "-f", "-", stdin=f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data: {{mode: primary}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {ns}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Mi}}}}
  storageClassName: {os.environ.get("ASTRA_TB_STORAGECLASS")}
""")
    kubectl("-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound",
            "pvc/data", "--timeout=120s")
    d = volume_dir(ns, "data")
    (d / "sub").mkdir(parents=True, exist_ok=True)
    (d / "sub" / "hello.txt").write_text(f"hello from {ns}\n")
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found",
            check=False)


@pytest.fixture(scope="module")
def app(cluster, shop):
    a = cluster.define_app({"name": f"py-shop-{RID}",
                            "namespaces": [{"name": shop}]})
    with a:
        yield a


@pytest.fixture(scope="module")
def app_vault(tmp_path_factory):
    url = f"file://{tmp_path_factory.mktemp('appvault')}/vault"
    with astra.Vault.create(url, PASSWORD, kdf_log2n=FAST_KDF) as v:
        yield v


@pytest.fixture(scope="module")
def snap(app):
    """Snapshot "s1", taken while another Python thread keeps counting."""
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        t0 = time.monotonic()
        rec = app.snapshot("s1", timeout=120)
        took = time.monotonic() - t0
    finally:
        stop.set()
        t.join()
    return rec, ticks[0], took


@needs_testbed
def test_define_app_lists_its_resources(cluster, app, shop):
    assert app.name == f"py-shop-{RID}"
    assert app.definition["namespaces"] == [{"name": shop}]
    assert app.definition["home"] == shop
    res = app.resources()
    got = {(r["kind"], r.get("namespace"), r["name"]) for r in res["resources"]}
    assert ("ConfigMap", shop, "settings") in got
    assert ("PersistentVolumeClaim", shop, "data") in got
    assert res["counts"]["PersistentVolumeClaim"] == 1
    assert app.name in [d["name"] for d in cluster.apps()]
    assert shop not in [u["name"] for u in cluster.unmanaged()]
    with cluster.app(app.name) as again:
        assert again.definition == app.definition
    # the name is taken; update=True redefines it
    with pytest.raises(astra.ExistsError):
        cluster.define_app({"name": app.name, "namespaces": [{"name": shop}]})
    with cluster.define_app(json.dumps({"name": app.name, "namespaces": [
            {"name": shop, "selector": "!temporary"}]}), update=True) as upd:
        assert upd.definition["namespaces"][0]["selector"] == "!temporary"
    cluster.define_app({"name": app.name, "namespaces": [{"name": shop}]},
                       update=True).close()
    # a second app over the same namespace; removing it leaves the objects
    with cluster.define_app({"name": f"py-extra-{RID}", "namespaces": [
            {"name": shop, "selector": "tier=web"}]}) as extra:
        assert all(r["kind"] != "ConfigMap"
                   for r in extra.resources()["resources"])
        extra.remove()
    with pytest.raises(astra.NotFoundError):
        cluster.app(f"py-extra-{RID}")
    kubectl("-n", shop, "get", "configmap", "settings")


@needs_testbed
def test_bad_definitions_raise(cluster, shop):
    with pytest.raises(astra.InvalidError) as ei:
        cluster.define_app({"name": f"bad-{RID}", "namespaces": [
            {"name": shop, "selector": "tier in (web"}]})
    assert "selector" in ei.value.message
    assert isinstance(ei.value, ValueError)
    with pytest.raises(astra.InvalidError) as ei:
        cluster.define_app({"name": f"bad-{RID}",
                            "namespaces": [{"name": shop}], "colour": 1})
    assert "colour" in ei.value.message
    with pytest.raises(astra.InvalidError):
        cluster.define_app({"name": f"bad-{RID}"})
    with pytest.raises(astra.NotFoundError):
        cluster.define_app({"name": f"bad-{RID}",
                            "namespaces": [{"name": f"missing-{RID}"}]})
    with pytest.raises(astra.ParseError):
        cluster.define_app("not json")
    with pytest.raises(TypeError):
        cluster.define_app(42)
    with pytest.raises(astra.NotFoundError):
        cluster.app(f"bad-{RID}")


@needs_testbed
def test_snapshot_is_one_group_and_releases_the_gil(cluster, app, snap):
    rec, ticks, took = snap
    assert rec["name"] == "s1" and rec["app"] == app.name
    assert rec["state"] == "completed"
    assert rec["consistency"] == "group"
    assert [v["pvc"] for v in rec["volumes"]] == ["data"]
    assert took < 0.5 or ticks > 50, (ticks, took)
    assert [s["name"] for s in cluster.snapshots(app)] == ["s1"]
    assert [s["name"] for s in app.snapshots()] == ["s1"]
    assert cluster.snapshots(f"none-{RID}") == []
    full = cluster.get_snapshot(app.name, "s1", manifests=True)
    kinds = {m["kind"] for m in full["manifests"]}
    assert {"ConfigMap", "PersistentVolumeClaim"} <= kinds
    with pytest.raises(astra.NotFoundError):
        cluster.get_snapshot(app, "nope")


@needs_testbed
def test_backup_into_a_vault(app, snap, app_vault):
    rec = app.backup(app_vault, "b1", snapshot="s1", volume_path=TEMPLATE)
    assert rec["state"] == "completed" and rec["snapshot"] == "s1"
    assert [v["pvc"] for v in rec["volumes"]] == ["data"]
    assert [b["name"] for b in app_vault.backups()] == ["b1"]
    assert [b["name"] for b in app_vault.backups(app)] == ["b1"]
    assert app_vault.backups(f"none-{RID}") == []
    got = app_vault.get_backup("b1")
    assert got["app"] == app.name and got["definition"]["name"] == app.name
    seen = []
    rep = app_vault.verify_backup("b1", progress=lambda *a: seen.append(a))
    assert rep["ok"] and rep["backup"] == "b1" and rep["app"] == app.name
    assert rep["snapshots"] == 1 and rep["bytes"] > 0 and rep["problems"] == []


@needs_testbed
def test_volume_path_callable(app, snap, app_vault):
    seen = []

    def where(pv):
        seen.append(pv["spec"]["claimRef"]["name"])
        return Path(VOLUMES) / pv["spec"]["csi"]["volumeHandle"]

    rec = app.backup(app_vault, "b2", snapshot="s1", volume_path=where)
    assert rec["state"] == "completed"
    assert len(seen) == 1  # the temporary PVC made from the snapshot

    def broken(pv):
        raise KeyError("no such volume")

    with pytest.raises(KeyError, match="no such volume"):
        app.backup(app_vault, "b3", snapshot="s1", volume_path=broken)
    names = [b["name"] for b in app_vault.backups()]
    assert names == ["b1", "b2"]  # a failed backup records nothing
    app_vault.delete_backup("b2")
    with pytest.raises(astra.NotFoundError):
        app_vault.get_backup("b2")


def test_mover_options_are_checked_before_any_call():
    with pytest.raises(ValueError, match="jobs"):
        astra.Mover("jobs")._options()
    m = astra.Mover("job", image="img:1", parallelism=2, timeout=60,
                    node_selector={"disk": "ssd"},
                    tolerations=[{"key": "k", "operator": "Exists"}],
                    vault_password="pw", host_network=True)._options()
    assert (m.strategy, m.image, m.parallelism, m.timeout_s, m.host_network) \
        == (capi.ASTRA_MOVER_JOB, "img:1", 2, 60, 1)
    assert json.loads(m.node_selector_json) == {"disk": "ssd"}
    assert json.loads(m.tolerations_json) == [{"key": "k", "operator": "Exists"}]
    assert capi.astra_mover_options().version == capi.ASTRA_MOVER_OPTIONS_VERSION
    assert (m.control_namespace, m.run_as_user) == (None, 0)
    m = astra.Mover("job", image="img:1", vault_password="pw",
                    control_namespace="ctl-1", run_as_user=1000)._options()
    assert (m.control_namespace, m.run_as_user) == ("ctl-1", 1000)


@needs_testbed
def test_mover_options_reach_the_library(app, snap, app_vault):
    # the host-path strategy given explicitly: as without a mover
    rec = app.backup(app_vault, "bm", snapshot="s1", volume_path=TEMPLATE,
                     mover=astra.Mover("hostpath"))
    assert rec["state"] == "completed"
    assert [v["pvc"] for v in rec["volumes"]] == ["data"]
    # Jobs without an image or without the vault's secret: refused by the
    # library, naming what is missing, before anything is created
    with pytest.raises(astra.InvalidError, match="need an image"):
        app.backup(app_vault, "bj1", snapshot="s1",
                   mover=astra.Mover("job", vault_password="x"))
    with pytest.raises(astra.InvalidError, match="vault's secret"):
        app.backup(app_vault, "bj2", snapshot="s1",
                   mover=astra.Mover("job", image="img:1"))
    with pytest.raises(astra.InvalidError, match="pull policy"):
        app.clone(app_vault, {app.name: f"{app.name}-never"},
                  from_backup="bm", mover=astra.Mover(
                      "job", image="img:1", vault_password="x",
                      image_pull_policy="Sometimes"))
    with pytest.raises(astra.InvalidError, match="parallelism 300"):
        app.cluster.restore(app_vault, "bm",
                            namespace_map={app.name: f"{app.name}-never"},
                            volume_path=TEMPLATE,
                            mover=astra.Mover("job", image="img:1",
                                              vault_password="x",
                                              parallelism=300))
    assert [b["name"] for b in app_vault.backups()].count("bm") == 1
    app_vault.delete_backup("bm")


@needs_testbed
def test_no_volume_access_is_not_supported(cluster, app, app_vault):
    with pytest.raises(astra.NotSupportedError):
        cluster.restore(app_vault, "b1", namespace_map={"x": "y"})


@needs_testbed
def test_restore_from_a_snapshot(cluster, app, shop, snap):
    kubectl("-n", shop, "delete", "configmap", "settings")
    rep = cluster.restore(snapshot=(app, "s1"), include=["core/ConfigMap"])
    assert rep["failed"] == 0 and rep["created"] == 1
    assert kubectl("-n", shop, "get", "configmap", "settings", "-o",
                   "jsonpath={.data.mode}") == "primary"


@needs_testbed
def test_partial_restore_raises_with_the_report(cluster, app_vault, shop):
    # a namespace stuck terminating refuses new objects
    ns = f"py-term-{RID}"
    kubectl("create", "namespace", ns)
    kubectl("-n", ns, "create", "configmap", "hold")
    kubectl("-n", ns, "patch", "configmap", "hold", "--type=merge", "-p",
            '{"metadata":{"finalizers":["example.com/hold"]}}')
    kubectl("delete", "namespace", ns, "--wait=false")
    try:
        with pytest.raises(astra.PartialError) as ei:
            cluster.restore(app_vault, "b1", namespace_map={shop: ns},
                            include=["core/ConfigMap"], volume_path=TEMPLATE)
        rep = ei.value.report
        assert rep["failed"] == 1
        failed = [i for i in rep["items"] if i["result"] == "failed"]
        assert failed[0]["kind"] == "ConfigMap" and failed[0]["reason"]
    finally:
        kubectl("-n", ns, "patch", "configmap", "hold", "--type=merge", "-p",
                '{"metadata":{"finalizers":null}}', check=False)


@needs_testbed
def test_clone_into_a_new_namespace(cluster, app, shop, app_vault):
    dst = f"py-clone-{RID}"
    try:
        rep = app.clone(app_vault, {shop: dst}, from_backup="b1",
                        name=f"py-clone-{RID}", volume_path=TEMPLATE)
        assert rep["failed"] == 0, rep
        with cluster.app(f"py-clone-{RID}") as cl:
            assert cl.definition["namespaces"] == [{"name": dst}]
        assert (volume_dir(dst, "data") / "sub" / "hello.txt").read_text() == \
            f"hello from {shop}\n"
        with pytest.raises(astra.ExistsError):  # the namespace exists now
            app.clone(app_vault, {shop: dst}, from_backup="b1",
                      volume_path=TEMPLATE)
    finally:
        kubectl("delete", "namespace", dst, "--wait=false", check=False)


@needs_testbed
def test_delete_the_namespace_and_restore_elsewhere(cluster, app, shop,
                                                    app_vault):
    cluster.delete_snapshot(app, "s1")
    assert cluster.snapshots(app) == []
    kubectl("delete", "namespace", shop, "--wait=true", "--timeout=120s")
    dst = f"py-restored-{RID}"
    rep = cluster.restore(app_vault, "b1", namespace_map={shop: dst},
                          volume_path=TEMPLATE)
    assert rep["failed"] == 0, rep
    assert rep["created"] >= 3  # Namespace, ConfigMap, PVC
    assert kubectl("-n", dst, "get", "configmap", "settings", "-o",
                   "jsonpath={.data.mode}") == "primary"
    assert (volume_dir(dst, "data") / "sub" / "hello.txt").read_text() == \
        f"hello from {shop}\n"
    # restoring again keeps what exists
    rep = cluster.restore(app_vault, "b1", namespace_map={shop: dst},
                          volume_path=TEMPLATE, include=["core/ConfigMap"])
    assert rep["created"] == 0 and rep["skipped"] >= 1
    # the definition lived in the deleted namespace (its home)
    with pytest.raises(astra.NotFoundError):
        cluster.app(app.name)
    kubectl("delete", "namespace", dst, "--wait=false", check=False)


@needs_testbed
def test_closed_handles(cluster):
    with astra.Cluster.open() as c:
        pass
    with pytest.raises(ValueError):
        c.apps()
    with pytest.raises(ValueError):
        c.restore(None, "b1")


@needs_testbed
def test_hooks_are_stored_listed_run_and_deleted(cluster):
    ns = f"py-hooks-{RID}"
    kubectl("create", "namespace", ns)
    # a pod that never runs: its containers are skipped, not failures
    kubectl("apply", "-f", "-", stdin=f"""
apiVersion: v1
kind: Pod
metadata: {{name: waiting, namespace: {ns}, labels: {{role: db}}}}
spec:
  nodeSelector: {{none: none}}
  containers: [{{name: c, image: busybox}}]
""")
    try:
        with cluster.define_app({"name": ns, "namespaces": [{"name": ns}]}) as a:
            a.create_hook("thaw", "post-snapshot", "echo thawed",
                          container_regex="^c$")
            a.create_hook("freeze", "pre-snapshot", b"sync; echo \"$1\"",
                          args=["now"], selector="role=db", timeout=5,
                          on_error="continue")
            with pytest.raises(astra.ExistsError):
                a.create_hook("freeze", "pre-snapshot", "true")
            a.create_hook("freeze", "pre-snapshot", "sync; echo \"$1\"",
                          args=["now"], selector="role=db", timeout=5,
                          on_error="continue", update=True)
            with pytest.raises(astra.InvalidError) as ei:
                a.create_hook("bad", "pre-snapshot", "true", pod_regex="(")
            assert "pod regex" in ei.value.message
            with pytest.raises(ValueError):
                a.create_hook("bad", "pre-snapshot", "true", on_error="maybe")
            hooks = a.hooks()
            assert [h["name"] for h in hooks] == ["freeze", "thaw"]
            assert hooks[0]["args"] == ["now"]
            assert hooks[0]["onError"] == "continue"
            assert hooks[0]["timeoutSeconds"] == 5
            assert hooks[0]["script"] == "sync; echo \"$1\""
            run = a.run_hooks("pre-snapshot")
            assert run["stage"] == "pre-snapshot" and run["hooks"] == 0
            assert run["results"][0]["result"] == "skipped"
            assert run["results"][0]["pod"] == "waiting"
            with pytest.raises(astra.InvalidError):
                a.run_hooks("during-snapshot")
            a.delete_hook("thaw")
            with pytest.raises(astra.NotFoundError):
                a.delete_hook("thaw")
            assert [h["name"] for h in a.hooks()] == ["freeze"]
            a.remove()
    finally:
        kubectl("delete", "namespace", ns, "--wait=false",
                "--ignore-not-found", check=False)
