#!/usr/bin/env python3
"""Back up a directory into a vault, restore it elsewhere, check the vault.

    ASTRA_VAULT_PASSWORD=... backup_restore.py VAULT_URL SOURCE_DIR TARGET_DIR

The Python counterpart of examples/c/backup_restore.c. Install the SDK
first (see docs/bindings.md): pip install bindings/python.
SPDX-License-Identifier: Apache-2.0
"""
import os
import sys

import astra


def progress(p: astra.Progress) -> None:
    print(f"\r{p.bytes_done} / {p.bytes_total} bytes", end="", file=sys.stderr)
    # returning True (or raising) would cancel the backup


def main(argv):
    if len(argv) != 4:
        print(f"usage: {argv[0]} VAULT_URL SOURCE TARGET", file=sys.stderr)
        return 2
    url, source, target = argv[1:]
    password = os.environ.get("ASTRA_VAULT_PASSWORD")
    try:
        try:
            vault = astra.Vault.open(url, password)
        except astra.NotFoundError:  # no vault there yet: create one
            vault = astra.Vault.create(url, password)
        with vault:
            res = vault.backup(source, progress=progress)
            print(f"\nsnapshot {res.id}: {res.files} files, "
                  f"{res.bytes_new} new bytes, {res.bytes_stored} stored")
            try:
                vault.restore(res.id, target)
            except astra.PartialError as e:
                print(f"some items failed: {e.report}", file=sys.stderr)
            vault.check(read_data=True)
            print(f"restored into {target}; vault verified")
    except astra.AuthError as e:
        print(f"wrong password: {e}", file=sys.stderr)
        return 1
    except astra.Error as e:
        print(f"\n{type(e).__name__} ({e.name}): {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
