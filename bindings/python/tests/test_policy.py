"""Protection policies through the raw SWIG layer: schedules need no
cluster (the next-run rules are tested in depth by the C unit tests)."""
import calendar
import json
import os

import pytest

import astra
from astra import capi


def utc(y, mo, d, h=0, mi=0):
    return calendar.timegm((y, mo, d, h, mi, 0))


def daily(hour, minute, tz):
    p = capi.astra_policy_options()
    p.name = "nightly"
    p.granularity = capi.ASTRA_POLICY_DAILY
    p.hour, p.minute = hour, minute
    p.time_zone = tz
    p.snapshot_retention = 7
    return p


def test_options_are_initialised():
    for cls, version in [
            (capi.astra_policy_options, capi.ASTRA_POLICY_OPTIONS_VERSION),
            (capi.astra_policy_run_options,
             capi.ASTRA_POLICY_RUN_OPTIONS_VERSION),
            (capi.astra_policy_scheduler_options,
             capi.ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION)]:
        assert cls().version == version > 0
    assert capi.astra_policy_options().day_of_month == 1


def test_next_run_over_a_skipped_time():
    p = daily(2, 30, "America/New_York")
    # 02:30 does not exist on 2024-03-10: 03:30 EDT
    assert capi.astra_policy_next_run(p, utc(2024, 3, 9, 12)) == \
        utc(2024, 3, 10, 7, 30)


def test_due_collapses_missed_runs():
    p = daily(2, 0, "Europe/Berlin")
    r = capi.astra_policy_due(p, utc(2024, 3, 28, 12), utc(2024, 3, 31, 12))
    assert r == [1, utc(2024, 3, 31, 1)]


def test_bad_input_names_field_and_value():
    p = daily(24, 0, "UTC")
    with pytest.raises(astra.InvalidError, match="hour 24"):
        capi.astra_policy_validate(p)
    p = daily(1, 0, "Mars/Base")
    with pytest.raises(astra.InvalidError, match="Mars/Base"):
        capi.astra_policy_validate(p)
    p.time_zone = None
    p.granularity = capi.ASTRA_POLICY_CUSTOM
    p.cron = "61 * * * *"
    with pytest.raises(astra.InvalidError, match='field "61"'):
        capi.astra_policy_validate(p)


def test_vault_reference_excludes_a_url():
    p = astra.Policy(name="n", granularity="daily", backup_retention=1,
                     vault_ref="main")
    p.validate()
    p.vault = "file:///v"
    with pytest.raises(astra.InvalidError, match="exclude each other"):
        p.validate()


# -- the idiomatic layer: astra.Policy and the Cluster's policy calls ----

from datetime import datetime, timedelta, timezone  # noqa: E402

from conftest import FAST_KDF, PASSWORD  # noqa: E402
from test_app import (RID, TEMPLATE, kubectl, needs_testbed,  # noqa: E402
                      volume_dir)


def test_policy_schedules_without_a_cluster():
    p = astra.Policy("nightly", "daily", hour=2, minute=30,
                     time_zone="America/New_York", snapshot_retention=7)
    p.validate()
    # 02:30 does not exist on 2024-03-10: 03:30 EDT
    assert p.next_run(utc(2024, 3, 9, 12)) == \
        datetime(2024, 3, 10, 7, 30, tzinfo=timezone.utc)
    # a naive datetime is UTC
    assert p.next_run(datetime(2024, 3, 9, 12)) == p.next_run(utc(2024, 3, 9, 12))
    b = astra.Policy("b", "daily", hour=2, time_zone="Europe/Berlin",
                     snapshot_retention=1)
    # 02:00 does not exist on 2024-03-31 in Berlin: 03:00 CEST, 01:00 UTC
    assert b.due(utc(2024, 3, 28, 12), utc(2024, 3, 31, 12)) == \
        datetime(2024, 3, 31, 1, 0, tzinfo=timezone.utc)
    assert b.due(utc(2024, 3, 31, 12), utc(2024, 3, 31, 13)) is None


def test_policy_bad_input():
    with pytest.raises(astra.InvalidError, match="hour 24"):
        astra.Policy("p", "daily", hour=24, snapshot_retention=1).validate()
    with pytest.raises(astra.InvalidError, match='field "61"'):
        astra.Policy("p", "custom", cron="61 * * * *",
                     snapshot_retention=1).validate()
    with pytest.raises(ValueError, match="sometimes"):
        astra.Policy("p", "sometimes").validate()
    with pytest.raises(TypeError):
        astra.Policy("p", snapshot_retention=1).next_run("tomorrow")


@pytest.fixture(scope="module")
def pol_cluster():
    with astra.Cluster.open() as c:
        yield c


@pytest.fixture(scope="module")
def pol_app(pol_cluster):
    ns = f"py-pol-{RID}"
    kubectl("create", "namespace", ns)
    kubectl("apply", "-f", "-", stdin=f"""
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
    (volume_dir(ns, "data") / "orders.txt").write_text("orders\n")
    a = pol_cluster.define_app({"name": ns, "namespaces": [{"name": ns}]})
    with a:
        yield a
    kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found",
            check=False)


@needs_testbed
def test_policies_set_list_run_and_remove(pol_cluster, pol_app, tmp_path):
    url = f"file://{tmp_path}/vault"
    astra.Vault.create(url, PASSWORD, kdf_log2n=FAST_KDF).close()
    p = astra.Policy("often", "custom", cron="* * * * *",
                     snapshot_retention=1, backup_retention=1, vault=url)
    pol_cluster.set_policy(pol_app, p)
    ps = pol_cluster.policies(pol_app)
    assert [x["name"] for x in ps] == ["often"]
    assert ps[0]["cron"] == "* * * * *" and ps[0]["backupRetention"] == 1
    assert pol_app.name in [x["app"] for x in pol_cluster.policies()]
    created = datetime.fromisoformat(ps[0]["created"].replace("Z", "+00:00"))

    # nothing is due at the moment of creation
    rep = pol_cluster.run_due_policies(app=pol_app, now=created,
                                       vault_password=PASSWORD, vault=url,
                                       volume_path=TEMPLATE)
    assert rep["ran"] == []

    # two minutes later one run serves the missed times; volume access
    # through a callable
    seen = []

    def access(pv):
        seen.append(pv["spec"]["csi"]["volumeHandle"])
        return TEMPLATE.replace("{volumeHandle}", seen[-1])

    rep = pol_cluster.run_due_policies(app=pol_app.name,
                                       now=created + timedelta(minutes=2),
                                       vault_password=PASSWORD, vault=url,
                                       volume_path=access)
    assert rep["failed"] == 0, rep
    assert len(rep["ran"]) == 1 and rep["ran"][0]["result"] == "succeeded"
    assert seen, "the volume path callable was not called"
    with astra.Vault.open(url, PASSWORD) as v:
        bs = v.backups(app=pol_app.name)
    assert [b["name"] for b in bs] == [rep["ran"][0]["backups"][0]["name"]]
    st = pol_cluster.policies(pol_app)[0]["status"]
    assert st["lastResult"] == "succeeded" and st["backups"]

    # a volume path callable that raises fails the run, and the call
    # re-raises its exception (as every call with a callback does)
    def broken(pv):
        raise RuntimeError("no volume for you")

    with pytest.raises(RuntimeError, match="no volume for you"):
        pol_cluster.run_due_policies(app=pol_app,
                                     now=created + timedelta(minutes=4),
                                     vault_password=PASSWORD, vault=url,
                                     volume_path=broken)
    st = pol_cluster.policies(pol_app)[0]["status"]
    # the status records what C saw (the exception stays in Python)
    assert st["lastResult"] == "failed" and "volume path callback" in \
        st.get("lastError", ""), st

    # bad input names the field; an unknown app is not found
    with pytest.raises(astra.InvalidError, match="minute 60"):
        pol_cluster.set_policy(pol_app, astra.Policy(
            "bad", "hourly", minute=60, snapshot_retention=1))
    with pytest.raises(astra.NotFoundError):
        pol_cluster.set_policy("no-such-app-" + RID, p)

    pol_cluster.remove_policy(pol_app, "often")
    assert pol_cluster.policies(pol_app) == []


@needs_testbed
def test_scheduler_once_takes_and_releases_its_lease(pol_cluster, pol_app):
    ns = pol_app.name
    lease = f"py-sched-{RID}"
    pol_cluster.run_scheduler(app=pol_app, vault_password=PASSWORD,
                              volume_path=TEMPLATE, identity="py-replica",
                              lease_namespace=ns, lease_name=lease,
                              lease_duration=5, once=True)
    got = json.loads(kubectl("-n", ns, "get", "lease", lease, "-o", "json"))
    # it led (acquired the Lease) and released it when the pass ended
    assert got["spec"].get("acquireTime")
    assert got["spec"].get("holderIdentity", "") == ""
    # another holder: a replica in once mode runs nothing and returns
    kubectl("-n", ns, "patch", "lease", lease, "--type", "merge", "-p",
            json.dumps({"spec": {"holderIdentity": "other",
                                 "leaseDurationSeconds": 120,
                                 "renewTime": datetime.now(timezone.utc)
                                 .strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}))
    pol_cluster.run_scheduler(vault_password=PASSWORD, identity="py-replica",
                              lease_namespace=ns, lease_name=lease,
                              once=True)
    got = json.loads(kubectl("-n", ns, "get", "lease", lease, "-o", "json"))
    assert got["spec"]["holderIdentity"] == "other"
