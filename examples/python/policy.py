#!/usr/bin/env python3
"""Protect a Kubernetes namespace with a policy: a nightly snapshot and
backup, seven of each kept; then run what is due as the scheduler would.

    ASTRA_VAULT_PASSWORD=... policy.py VAULT_URL NAMESPACE \\
        [VOLUME_PATH_TEMPLATE]

The policy is stored in the cluster beside the app. To see it work now
rather than at 02:00, the example evaluates the schedule at the policy's
next run time (a real scheduler, `astractl scheduler run` or
Cluster.run_scheduler(), uses the clock). The cluster is the current
context of $KUBECONFIG; VOLUME_PATH_TEMPLATE gives this process access to
volume data (see app_backup_restore.py).
SPDX-License-Identifier: Apache-2.0
"""
import os
import sys
from datetime import datetime, timezone

import astra


def main(argv):
    if len(argv) not in (3, 4):
        print(f"usage: {argv[0]} VAULT_URL NAMESPACE [VOLUME_PATH_TEMPLATE]",
              file=sys.stderr)
        return 2
    url, ns = argv[1:3]
    volume_path = argv[3] if len(argv) == 4 else None
    password = os.environ.get("ASTRA_VAULT_PASSWORD")
    try:
        try:
            astra.Vault.open(url, password).close()
        except astra.NotFoundError:  # no vault there yet: create one
            astra.Vault.create(url, password).close()
        with astra.Cluster.open() as cluster:
            definition = {"name": ns, "namespaces": [{"name": ns}]}
            try:
                cluster.define_app(definition).close()
            except astra.ExistsError:
                pass
            nightly = astra.Policy("nightly", "daily", hour=2,
                                   time_zone="Europe/Berlin",
                                   snapshot_retention=7, backup_retention=7,
                                   vault=url)
            nightly.validate()
            cluster.set_policy(ns, nightly)
            created = cluster.policies(ns)[0]["created"]
            at = nightly.next_run(datetime.fromisoformat(
                created.replace("Z", "+00:00")))
            print(f"policy nightly of {ns}: next run {at.isoformat()}")
            # the vault this runner trusts: a policy outside the control
            # namespace is backed up only into it (docs/policies.md)
            report = cluster.run_due_policies(app=ns, now=at,
                                              vault_password=password,
                                              vault=url,
                                              volume_path=volume_path)
            for run in report["ran"]:
                print(f"ran {', '.join(run['policies'])}: snapshot "
                      f"{run.get('snapshot')}, backups "
                      f"{[b['name'] for b in run.get('backups', [])]}: "
                      f"{run['result']}")
            status = cluster.policies(ns)[0]["status"]
            print(f"status: {status['lastResult']}, keeps "
                  f"{len(status.get('snapshots', []))} snapshot(s) and "
                  f"{len(status.get('backups', []))} backup(s)")
            return 0 if report["failed"] == 0 and report["ran"] else 1
    except astra.Error as e:
        print(f"policy: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
