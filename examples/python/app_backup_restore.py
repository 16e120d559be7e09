#!/usr/bin/env python3
"""Protect a Kubernetes namespace as an app: define it, back it up into a
vault, and restore the backup into another namespace.

    ASTRA_VAULT_PASSWORD=... app_backup_restore.py VAULT_URL NAMESPACE \\
        TARGET_NAMESPACE [VOLUME_PATH_TEMPLATE]

The cluster is the current context of $KUBECONFIG (or ~/.kube/config).
VOLUME_PATH_TEMPLATE gives this process access to volume data, e.g. the
CSI hostpath driver's "/var/lib/csi-hostpath-data/{volumeHandle}"; it is
needed when the namespace has PVCs. Install the SDK first (see
docs/bindings.md): pip install bindings/python.
SPDX-License-Identifier: Apache-2.0
"""
import os
import sys

import astra


def main(argv):
    if len(argv) not in (4, 5):
        print(f"usage: {argv[0]} VAULT_URL NAMESPACE TARGET_NAMESPACE "
              "[VOLUME_PATH_TEMPLATE]", file=sys.stderr)
        return 2
    url, ns, target = argv[1:4]
    volume_path = argv[4] if len(argv) == 5 else None
    password = os.environ.get("ASTRA_VAULT_PASSWORD")
    try:
        try:
            vault = astra.Vault.open(url, password)
        except astra.NotFoundError:  # no vault there yet: create one
            vault = astra.Vault.create(url, password)
        with vault, astra.Cluster.open() as cluster:
            # the app's definition is kept in the cluster, beside the app
            definition = {"name": ns, "namespaces": [{"name": ns}]}
            try:
                app = cluster.define_app(definition)
            except astra.ExistsError:  # defined before: redefine it
                app = cluster.define_app(definition, update=True)
            with app:
                res = app.resources()
                print(f"app {app.name}: {len(res['resources'])} objects "
                      f"{res['counts']}")
                rec = app.backup(vault, volume_path=volume_path)
                print(f"backup {rec['name']} ({rec['consistency']}): "
                      f"{rec['resources']} objects, "
                      f"{len(rec['volumes'])} volumes")
            try:
                report = cluster.restore(vault, rec["name"],
                                         namespace_map={ns: target},
                                         volume_path=volume_path)
            except astra.PartialError as e:
                report = e.report
                print(f"some objects failed: {e}", file=sys.stderr)
            for item in report["items"]:
                where = f"{item['namespace']}/" if "namespace" in item else ""
                print(f"  {item['result']:8} {item['kind']} {where}{item['name']}")
            print(f"restored into {target}: {report['created']} created, "
                  f"{report['skipped']} skipped, {report['failed']} failed")
            return 1 if report["failed"] else 0
    except astra.Error as e:
        print(f"{type(e).__name__} ({e.name}): {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
