"""Fixtures: real file:// vaults in temporary directories."""
import hashlib
import os
from pathlib import Path

import pytest

import astra

PASSWORD = "correct horse battery staple"
FAST_KDF = 10  # scrypt log2(N): keeps create/open fast in tests


def tree_digest(root):
    """{relative path: sha256 or 'dir' or 'link:<target>'} of a tree."""
    out = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath) / d
            out[str(p.relative_to(root))] = ("link:" + os.readlink(p)
                                             if p.is_symlink() else "dir")
        for f in filenames:
            p = Path(dirpath) / f
            if p.is_symlink():
                out[str(p.relative_to(root))] = "link:" + os.readlink(p)
            else:
                out[str(p.relative_to(root))] = hashlib.sha256(
                    p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A small tree: nested directories, text, binary, empty, symlink."""
    root = tmp_path_factory.mktemp("data")
    (root / "docs" / "deep" / "er").mkdir(parents=True)
    (root / "docs" / "readme.txt").write_text("hello astra\n" * 100)
    (root / "docs" / "deep" / "er" / "blob.bin").write_bytes(os.urandom(300_000))
    (root / "empty").write_bytes(b"")
    (root / "zeros").write_bytes(b"\0" * 2_000_000)
    os.symlink("docs/readme.txt", root / "link")
    return root


@pytest.fixture(scope="session")
def big_dir(tmp_path_factory):
    """192 MiB of incompressible data: a backup that takes a while (long
    enough for rate-limited progress reports to come midway, however fast
    the data path gets)."""
    root = tmp_path_factory.mktemp("big")
    for i in range(48):
        (root / f"f{i:02d}").write_bytes(os.urandom(4 << 20))
    return root


@pytest.fixture
def vault_url(tmp_path):
    return f"file://{tmp_path}/vault"


@pytest.fixture
def vault(vault_url):
    with astra.Vault.create(vault_url, PASSWORD, kdf_log2n=FAST_KDF) as v:
        yield v
