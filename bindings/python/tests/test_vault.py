"""Vaults end to end: create, open, back up, restore, list, check, gc."""
import os
import shutil
from pathlib import Path

import pytest

import astra
from conftest import FAST_KDF, PASSWORD, tree_digest


def test_create_open_info(vault_url):
    with astra.Vault.create(vault_url, PASSWORD, kdf_log2n=FAST_KDF) as v:
        info = v.info()
        assert info["url"] == vault_url
        assert info["format"] == astra.format_version()
        assert info["snapshots"] == 0
        vid = info["vault_id"]
        assert not v.closed
    assert v.closed
    with astra.open_vault(vault_url, PASSWORD) as v:
        assert v.info()["vault_id"] == vid


def test_create_twice_raises_exists(vault, vault_url):
    with pytest.raises(astra.ExistsError):
        astra.Vault.create(vault_url, PASSWORD, kdf_log2n=FAST_KDF)


def test_wrong_password_raises_auth_error(vault, vault_url):
    with pytest.raises(astra.AuthError) as ei:
        astra.Vault.open(vault_url, "not the password")
    assert ei.value.code == astra.Status.EAUTH
    assert "password" in ei.value.message


def test_missing_vault_raises_not_found(tmp_path):
    with pytest.raises(astra.NotFoundError):
        astra.Vault.open(f"file://{tmp_path}/nothing-here", PASSWORD)


def test_no_secret_is_invalid(vault_url):
    with pytest.raises(astra.Error) as ei:
        astra.Vault.create(vault_url, kdf_log2n=FAST_KDF)
    assert ei.value.code in (astra.Status.EINVALID, astra.Status.EAUTH)


def test_password_file_and_change_password(tmp_path, vault_url):
    pw = tmp_path / "pw"
    pw.write_text("from a file\n")
    with astra.Vault.create(vault_url, password_file=pw, kdf_log2n=FAST_KDF) as v:
        pass
    with astra.Vault.open(vault_url, "from a file") as v:
        v.change_password("new secret", kdf_log2n=FAST_KDF, kdf_p=3)
        with pytest.raises(astra.Error) as ei:
            v.change_password("newer", kdf_log2n=FAST_KDF, kdf_p=65)
        assert ei.value.code == astra.Status.EINVALID
        assert "kdf_p 65" in ei.value.message
    with pytest.raises(astra.AuthError):
        astra.Vault.open(vault_url, "from a file")
    astra.Vault.open(vault_url, "new secret").close()


def test_change_password_rekey(tmp_path, vault_url):
    with astra.Vault.create(vault_url, "one", kdf_log2n=FAST_KDF) as v:
        v.change_password("two", kdf_log2n=FAST_KDF, rekey=True)
        assert v.info()["key_epoch"] == 1
    with pytest.raises(astra.AuthError):
        astra.Vault.open(vault_url, "one")
    with astra.Vault.open(vault_url, "two") as v:
        assert v.info()["key_epoch"] == 1


def test_closed_vault_raises(vault_url):
    v = astra.Vault.create(vault_url, PASSWORD, kdf_log2n=FAST_KDF)
    v.close()
    v.close()  # idempotent
    with pytest.raises(ValueError):
        v.info()


def test_backup_restore_round_trip(vault, data_dir, tmp_path):
    res = vault.backup(data_dir, tags={"app": "demo", "env": "test"})
    assert isinstance(res, astra.BackupResult)
    assert len(res.id) == 32
    assert res.files == 4 and res.errors == 0  # regular files
    assert res.bytes_total == res.bytes_read > 2_000_000
    snaps = vault.snapshots()
    assert [s.id for s in snaps] == [res.id]
    assert snaps[0].tags == {"app": "demo", "env": "test"}
    assert snaps[0].source == str(data_dir)
    assert [s.id for s in vault] == [res.id]  # iterator

    out = tmp_path / "restored"
    rr = vault.restore(res.id[:8], out)  # a unique prefix is enough
    assert isinstance(rr, astra.RestoreResult)
    assert rr.errors == 0 and rr.bytes == res.bytes_total
    assert tree_digest(out) == tree_digest(data_dir)


def test_incremental_backup_reads_only_changes(vault, data_dir, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(data_dir, src, symlinks=True)
    first = vault.backup(src)
    (src / "docs" / "readme.txt").write_text("changed\n")
    second = vault.backup(src)
    assert second.files_unchanged == first.files - 1
    assert second.bytes_read < first.bytes_read
    snaps = vault.snapshots()
    assert snaps[-1].parent == first.id
    out = tmp_path / "out"
    vault.restore(second.id, out)
    assert tree_digest(out) == tree_digest(src)


def test_restore_subpath(vault, data_dir, tmp_path):
    res = vault.backup(data_dir)
    out = tmp_path / "out"
    vault.restore(res.id, out, subpath="docs/deep")
    files = [p.name for p in out.rglob("*") if p.is_file()]
    assert files == ["blob.bin"]


def test_restore_unknown_snapshot(vault, tmp_path):
    with pytest.raises(astra.NotFoundError):
        vault.restore("0" * 32, tmp_path / "out")


def test_partial_restore_carries_report(vault, data_dir, tmp_path):
    res = vault.backup(data_dir)
    out = tmp_path / "out"
    out.mkdir()
    (out / "empty").mkdir()  # a directory where the snapshot has a file
    with pytest.raises(astra.ExistsError):
        vault.restore(res.id, out)  # not empty: nothing is written
    assert [p.name for p in out.iterdir()] == ["empty"]
    with pytest.raises(astra.PartialError) as ei:
        vault.restore(res.id, out, overwrite=True)
    e = ei.value
    assert e.code == astra.Status.EPARTIAL
    assert e.report and all("path" in r for r in e.report)
    assert e.restore.errors >= 1


def test_forget_and_gc(vault, data_dir):
    a = vault.backup(data_dir)
    vault.forget(a.id)
    assert vault.snapshots() == []
    report = vault.gc(grace_seconds=0)
    assert isinstance(report, dict)
    assert vault.gc(dry_run=True)["dry_run"] is True
    with pytest.raises(astra.NotFoundError):
        vault.forget(a.id)


def test_check_ok(vault, data_dir):
    vault.backup(data_dir)
    report = vault.check(read_data=True)
    assert report["ok"] is True and report["damaged"] == []


def test_check_detects_corruption(vault, vault_url, data_dir):
    vault.backup(data_dir)
    root = Path(vault_url[len("file://"):])
    packs = sorted((p for p in root.rglob("*") if p.is_file()),
                   key=lambda p: p.stat().st_size)
    victim = packs[-1]  # the largest object is a data pack
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(astra.CorruptError) as ei:
        vault.check(read_data=True)
    assert ei.value.report["ok"] is False
    assert ei.value.report["damaged"]


def test_invalid_gc_options(vault):
    with pytest.raises(astra.InvalidError):
        vault.gc(repack_threshold=101)


def test_many_vaults_in_parallel_objects(tmp_path, data_dir):
    """Different vaults are independent handles."""
    vs = [astra.Vault.create(f"file://{tmp_path}/v{i}", PASSWORD,
                             kdf_log2n=FAST_KDF) for i in range(3)]
    ids = {v.backup(data_dir).id for v in vs}
    assert len(ids) == 3
    for v in vs:
        v.close()


def test_repair_reindexes_from_pack_headers(vault, vault_url, data_dir):
    a = vault.backup(data_dir)
    root = Path(vault_url[len("file://"):])
    for f in (root / "index").iterdir():
        f.unlink()  # every index file gone: only the packs know the blobs
    report = vault.repair()
    assert report["ok"] is True and report["blobs_indexed"] > 0
    assert vault.check(read_data=True)["ok"] is True
    assert [s.id for s in vault.snapshots()] == [a.id]


def test_replicate_makes_a_replica_that_opens_and_restores(vault, data_dir,
                                                           tmp_path):
    a = vault.backup(data_dir)
    replica = f"file://{tmp_path}/replica"
    dry = vault.replicate(replica, dry_run=True)
    assert dry["would_copy"]["snapshots"] == 1
    report = vault.replicate(replica, parallel=2)
    assert report["copied"]["snapshots"] == 1 and report["bytes"] > 0
    assert vault.replicate(replica)["copied"]["packs"] == 0
    with astra.Vault.open(replica, PASSWORD) as r:
        assert [s.id for s in r.snapshots()] == [a.id]
        r.restore(a.id, tmp_path / "out")
        assert tree_digest(tmp_path / "out") == tree_digest(data_dir)
