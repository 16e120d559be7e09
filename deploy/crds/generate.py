#!/usr/bin/env python3
"""Writes the CustomResourceDefinitions of the astra.dev API group
(deploy/crds/astra.dev_<plural>.yaml) from the tables below, so that every
kind shares one status shape (conditions, observedGeneration, phase, progress,
timings). `generate.py --check` exits 1 when a file differs from what it
would write (the crds test runs it). Needs only the Python standard library:
the YAML is written as JSON, which is YAML."""
import json
import os
import sys

GROUP = "astra.dev"
VERSION = "v1alpha1"
NAME_RE = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def s(desc, **kw):
    d = {"type": "string", "description": desc}
    d.update(kw)
    return d


def i(desc, **kw):
    d = {"type": "integer", "format": "int64", "description": desc}
    d.update(kw)
    return d


def b(desc, default=None):
    d = {"type": "boolean", "description": desc}
    if default is not None:
        d["default"] = default
    return d


def obj(desc, props, required=None, **kw):
    d = {"type": "object", "description": desc, "properties": props}
    if required:
        d["required"] = required
    d.update(kw)
    return d


def arr(desc, items, **kw):
    d = {"type": "array", "description": desc, "items": items}
    d.update(kw)
    return d


def ref(desc, key_default=None):
    props = {"name": s("name of the object", pattern=NAME_RE, maxLength=253)}
    if key_default is not None:
        props["key"] = s("key in the Secret's data", default=key_default,
                         maxLength=253)
    return obj(desc, props, ["name"])


SELECTOR = s("Kubernetes label selector (=, ==, !=, in, notin, key, !key)",
             maxLength=4096)

CONDITION = obj("a condition in the shape of metav1.Condition", {
    "type": s("CamelCase type: Ready, Completed, Failed, Progressing, "
              "Locked, Waiting", maxLength=316),
    "status": s("True, False or Unknown", enum=["True", "False", "Unknown"]),
    "observedGeneration": i("generation the condition was set for",
                            minimum=0),
    "lastTransitionTime": s("when the status last changed",
                            format="date-time"),
    "reason": s("CamelCase machine reason", maxLength=1024),
    "message": s("what happened, for humans (names the field or object "
                 "at fault)", maxLength=32768),
}, ["type", "status", "lastTransitionTime", "reason", "message"])

PROGRESS = obj("bytes and items done and in total, across all volumes", {
    "bytesDone": i("bytes done", minimum=0),
    "bytesTotal": i("bytes in total (0 while unknown)", minimum=0),
    "itemsDone": i("objects and volumes done", minimum=0),
    "itemsTotal": i("objects and volumes in total", minimum=0),
})


def status(extra=None, phases=None):
    props = {
        "observedGeneration": i("generation of the spec this status is for",
                                minimum=0),
        "conditions": arr("the latest observations", CONDITION,
                          **{"x-kubernetes-list-type": "map",
                             "x-kubernetes-list-map-keys": ["type"]}),
    }
    if phases:
        props["phase"] = s("where the operation stands", enum=phases)
        props["progress"] = PROGRESS
        props["startTime"] = s("when the operation started",
                               format="date-time")
        props["completionTime"] = s("when it ended", format="date-time")
    props.update(extra or {})
    return obj("observed state, written by the controller only", props)


OP_PHASES = ["Pending", "Running", "Completed", "Failed", "Deleting"]

GROUPKIND = {
    "group": s("API group (\"\" for the core group)", maxLength=253),
    "version": s("API version", maxLength=63),
    "kind": s("kind", maxLength=63),
    "names": arr("object names", s("name", maxLength=253), maxItems=1024),
    "namespaces": arr("namespaces", s("namespace", pattern=NAME_RE,
                                      maxLength=63), maxItems=1024),
    "selector": SELECTOR,
}

APP_SPEC = obj("what the app is: namespaces (each with an optional label "
               "selector) or a Helm release; the same fields as the "
               "library's app definition (docs/apps.md)", {
    "namespaces": arr("namespaces of the app", obj("a namespace", {
        "name": s("namespace", pattern=NAME_RE, maxLength=63),
        "selector": SELECTOR}, ["name"]), minItems=1, maxItems=64),
    "helm": obj("a Helm 3 release", {
        "release": s("release name", pattern=NAME_RE, maxLength=53),
        "namespace": s("release namespace", pattern=NAME_RE,
                       maxLength=63)}, ["release", "namespace"]),
    "clusterResources": arr("cluster-scoped objects of the app",
                            obj("objects of a kind", {
                                k: v for k, v in GROUPKIND.items()
                                if k != "namespaces"}, ["kind"]),
                            maxItems=256),
    "include": arr("namespaced objects must match one entry",
                   obj("a filter", GROUPKIND), maxItems=256),
    "exclude": arr("objects matching an entry are left out",
                   obj("a filter", GROUPKIND), maxItems=256),
    "snapshotClass": s("VolumeSnapshotClass instead of the driver's default",
                       maxLength=253),
}, **{"x-kubernetes-validations": [{
    "rule": "has(self.namespaces) != has(self.helm)",
    "message": "exactly one of spec.namespaces and spec.helm"}]})

SCHEDULE = obj("when the policy runs (docs/policies.md)", {
    "granularity": s("schedule kind", enum=["hourly", "daily", "weekly",
                                            "monthly", "custom"]),
    "minute": i("minute 0-59", minimum=0, maximum=59),
    "hour": i("hour 0-23", minimum=0, maximum=23),
    "dayOfWeek": i("day of week 0-7 (0 and 7 are Sunday)", minimum=0,
                   maximum=7),
    "dayOfMonth": i("day of month 1-31", minimum=1, maximum=31),
    "rrule": s("RFC 5545 RRULE (custom)", maxLength=1024),
    "cron": s("5-field cron expression (custom)", maxLength=256),
    "timeZone": s("IANA time zone", default="UTC", maxLength=64),
}, ["granularity"], **{"x-kubernetes-validations": [
    {"rule": "self.granularity != 'custom' || has(self.rrule) != has(self.cron)",
     "message": "a custom schedule needs exactly one of rrule and cron"},
    {"rule": "self.granularity == 'custom' || (!has(self.rrule) && !has(self.cron))",
     "message": "rrule and cron are for the custom granularity only"},
    {"rule": "self.granularity != 'weekly' || has(self.dayOfWeek)",
     "message": "a weekly schedule needs dayOfWeek"},
    {"rule": "self.granularity != 'monthly' || has(self.dayOfMonth)",
     "message": "a monthly schedule needs dayOfMonth"}]})

KINDS = [
    {
        "kind": "Vault", "plural": "vaults", "short": ["av"],
        "desc": "An object store that holds encrypted backups. Lives in the "
                "control namespace only; credentials and password by Secret "
                "reference, never inline.",
        "spec": obj("where the vault is and how to open it", {
            "url": s("vault URL without credentials: s3://BUCKET/PREFIX, "
                     "azure://CONTAINER/PREFIX?account=ACCOUNT, "
                     "gs://BUCKET/PREFIX, file:///PATH, with the store's "
                     "options except ca and insecure-tls (docs/s3.md, "
                     "azure.md, gcs.md)",
                     pattern="^(s3|azure|gs|file)://[^?#@]+(\\?[^#@]*)?$",
                     maxLength=2048),
            "passwordSecretRef": ref("Secret holding the vault password",
                                     "password"),
            "credentialsSecretRef": ref("Secret holding the store's "
                                        "credentials (keys as in "
                                        "docs/security.md)"),
            "caSecretRef": ref("Secret holding a CA bundle for the store",
                               "ca.crt"),
            "insecureSkipTLSVerify": b("turn TLS verification off (warned "
                                       "once; refused with a CA)", False),
            "immutable": obj("object lock for every backup written", {
                "retentionDays": i("days each object stays locked",
                                   minimum=1, maximum=36500)}),
        }, ["url", "passwordSecretRef"], **{"x-kubernetes-validations": [{
            "rule": "!(self.insecureSkipTLSVerify && has(self.caSecretRef))",
            "message": "insecureSkipTLSVerify and caSecretRef exclude each "
                       "other"}, {
            "rule": "!self.url.matches('[?&](ca|insecure-tls)=')",
            "message": "TLS settings go in spec.caSecretRef and "
                       "spec.insecureSkipTLSVerify, not in spec.url"}]}),
        "status": status({"vaultID": s("the vault's id", maxLength=64),
                          "formatVersion": i("vault format version",
                                             minimum=1)}),
        "columns": [("URL", "string", ".spec.url"),
                    ("Ready", "string",
                     ".status.conditions[?(@.type==\"Ready\")].status")],
    },
    {
        "kind": "Application", "plural": "applications", "short": ["aapp"],
        "desc": "An app to protect. In a tenant namespace it covers that "
                "namespace only; in the control namespace it may span "
                "namespaces (docs/security.md).",
        "spec": APP_SPEC,
        "status": status({
            "protectionState": s("how the app is protected",
                                 enum=["None", "Partial", "Protected"]),
            "lastSnapshot": s("name of the newest snapshot", maxLength=253),
            "lastBackup": s("name of the newest backup", maxLength=253),
            "resources": i("objects collection captures", minimum=0),
            "volumes": i("persistent volumes of the app", minimum=0)}),
        "columns": [("Protection", "string", ".status.protectionState"),
                    ("Last Backup", "string", ".status.lastBackup"),
                    ("Ready", "string",
                     ".status.conditions[?(@.type==\"Ready\")].status")],
    },
    {
        "kind": "ExecHook", "plural": "exechooks", "short": ["ahook"],
        "desc": "A script run in the app's containers at a stage of a "
                "snapshot, backup or restore (docs/hooks.md).",
        "spec": obj("the hook", {
            "applicationRef": ref("the Application, in this namespace"),
            "stage": s("when it runs", enum=[
                "pre-snapshot", "post-snapshot", "pre-backup", "post-backup",
                "pre-restore", "post-restore", "verify"]),
            "script": s("the /bin/sh script", maxLength=262144,
                        minLength=1),
            "args": arr("arguments ($1, $2...)", s("argument",
                                                   maxLength=4096),
                        maxItems=64),
            "podRegex": s("POSIX ERE on the pod name", maxLength=1024),
            "containerRegex": s("POSIX ERE on the container name",
                                maxLength=1024),
            "imageRegex": s("POSIX ERE on the image", maxLength=1024),
            "selector": SELECTOR,
            "timeoutSeconds": i("bound of one run", default=60, minimum=1,
                                maximum=86400),
            "onError": s("failure policy", enum=["fail", "continue"],
                         default="fail"),
        }, ["applicationRef", "stage", "script"]),
        "status": status(),
        "columns": [("App", "string", ".spec.applicationRef.name"),
                    ("Stage", "string", ".spec.stage")],
    },
    {
        "kind": "ProtectionPolicy", "plural": "protectionpolicies",
        "short": ["apol"],
        "desc": "Snapshots and backups of an app on a schedule, with "
                "retention (docs/policies.md).",
        "spec": obj("the policy", {
            "applicationRef": ref("the Application, in this namespace"),
            "vaultRef": ref("the Vault, resolved in the control namespace "
                            "only"),
            "schedule": SCHEDULE,
            "snapshotRetention": i("snapshots kept", minimum=0,
                                   maximum=10000, default=0),
            "backupRetention": i("backups kept", minimum=0, maximum=10000,
                                 default=0),
            "paused": b("no new runs while true", False),
        }, ["applicationRef", "schedule"], **{"x-kubernetes-validations": [{
            "rule": "self.backupRetention == 0 || has(self.vaultRef)",
            "message": "backups need spec.vaultRef"}]}),
        "status": status({
            "lastRunTime": s("slot of the last run", format="date-time"),
            "nextRunTime": s("next slot", format="date-time"),
            "lastRunResult": s("result of the last run",
                               enum=["Succeeded", "Failed", "Skipped"]),
            "pendingDeletes": arr("backups retention could not delete yet "
                                  "(locked), of this policy's app only",
                                  s("backup name", maxLength=253),
                                  maxItems=10000)}),
        "columns": [("App", "string", ".spec.applicationRef.name"),
                    ("Granularity", "string", ".spec.schedule.granularity"),
                    ("Next", "date", ".status.nextRunTime"),
                    ("Last", "string", ".status.lastRunResult")],
    },
    {
        "kind": "Snapshot", "plural": "snapshots", "short": ["asnap"],
        "desc": "A local snapshot of an app: its manifests (in a Secret the "
                "status references) and a VolumeSnapshot per volume.",
        "spec": obj("what to snapshot", {
            "applicationRef": ref("the Application, in this namespace"),
            "deletionPolicy": s("on deleting the resource: Delete removes "
                                "the VolumeSnapshots, Retain keeps them",
                                enum=["Delete", "Retain"],
                                default="Delete"),
        }, ["applicationRef"], **{"x-kubernetes-validations": [{
            "rule": "self == oldSelf", "message": "spec is immutable"}]}),
        "status": status({
            "recordSecretRef": ref("Secret holding the snapshot record"),
            "volumeSnapshots": arr("one per volume", obj("a volume", {
                "pvc": s("PVC name", maxLength=253),
                "namespace": s("PVC namespace", maxLength=63),
                "volumeSnapshot": s("VolumeSnapshot name", maxLength=253),
                "consistency": s("how the data was taken", enum=[
                    "snapshot", "crash-consistent-with-hooks",
                    "not-snapshotted"])}), maxItems=4096)},
            OP_PHASES),
        "columns": [("App", "string", ".spec.applicationRef.name"),
                    ("Phase", "string", ".status.phase"),
                    ("Completed", "date", ".status.completionTime")],
    },
    {
        "kind": "Backup", "plural": "backups", "short": ["abk"],
        "desc": "A backup of an app in a Vault. Deleting the resource deletes "
                "the backup from the vault unless it is locked (then a "
                "Locked condition says until when).",
        "spec": obj("what to back up and where", {
            "applicationRef": ref("the Application, in this namespace"),
            "vaultRef": ref("the Vault, resolved in the control namespace "
                            "only"),
            "snapshotRef": ref("back up this Snapshot instead of taking a "
                               "new one"),
            "deletionPolicy": s("on deleting the resource",
                                enum=["Delete", "Retain"],
                                default="Delete"),
        }, ["applicationRef", "vaultRef"], **{"x-kubernetes-validations": [{
            "rule": "self == oldSelf", "message": "spec is immutable"}]}),
        "status": status({
            "backupName": s("name of the backup in the vault",
                            maxLength=253),
            "bytesStored": i("new bytes written to the vault", minimum=0),
            "volumes": i("volumes backed up", minimum=0)}, OP_PHASES),
        "columns": [("App", "string", ".spec.applicationRef.name"),
                    ("Vault", "string", ".spec.vaultRef.name"),
                    ("Phase", "string", ".status.phase"),
                    ("Completed", "date", ".status.completionTime")],
    },
    {
        "kind": "Restore", "plural": "restores", "short": ["arst"],
        "desc": "A restore or clone of an app from a Backup or a Snapshot, "
                "into its own namespaces (in place) or new ones.",
        "spec": obj("what to restore and where", {
            "backupRef": ref("restore from this Backup"),
            "snapshotRef": ref("restore from this Snapshot"),
            "mode": s("Restore: into the namespace map's targets; InPlace: "
                      "roll the app back in its own namespaces; Clone: "
                      "into new namespaces, defined as a new app",
                      enum=["Restore", "InPlace", "Clone"],
                      default="Restore"),
            "namespaceMapping": arr("source to target namespaces", obj(
                "a mapping", {
                    "source": s("source namespace", pattern=NAME_RE,
                                maxLength=63),
                    "destination": s("target namespace", pattern=NAME_RE,
                                     maxLength=63)},
                ["source", "destination"]), maxItems=64),
            "storageClassMapping": arr("source to target storage classes",
                                       obj("a mapping", {
                                           "source": s("class or *",
                                                       maxLength=253),
                                           "destination": s(
                                               "class", maxLength=253)},
                                           ["source", "destination"]),
                                       maxItems=64),
            "include": arr("objects to restore", obj("a filter", GROUPKIND),
                           maxItems=256),
            "exclude": arr("objects to leave out", obj("a filter",
                                                       GROUPKIND),
                           maxItems=256),
            "conflict": s("existing objects: Skip keeps them, Replace "
                          "replaces them", enum=["Skip", "Replace"],
                          default="Skip"),
            "clusterResources": b("create cluster-scoped objects (opt-in)",
                                  False),
            "cloneName": s("name of the new app (Clone)", pattern=NAME_RE,
                           maxLength=53),
        }, ["mode"], **{"x-kubernetes-validations": [
            {"rule": "has(self.backupRef) != has(self.snapshotRef)",
             "message": "exactly one of spec.backupRef and spec.snapshotRef"},
            {"rule": "self.mode != 'Clone' || (has(self.namespaceMapping) && size(self.namespaceMapping) > 0)",
             "message": "a Clone needs spec.namespaceMapping"},
            {"rule": "self.mode != 'InPlace' || !has(self.namespaceMapping)",
             "message": "an InPlace restore has no spec.namespaceMapping"},
            {"rule": "self == oldSelf", "message": "spec is immutable"}]}),
        "status": status({
            "report": arr("per-object results (first 1000; the rest in "
                          "reportSecretRef)", obj("an object", {
                              "kind": s("kind", maxLength=63),
                              "namespace": s("namespace", maxLength=63),
                              "name": s("name", maxLength=253),
                              "result": s("what happened", enum=[
                                  "created", "replaced", "skipped",
                                  "failed", "rolled-back"]),
                              "reason": s("why", maxLength=4096)}),
                          maxItems=1000),
            "reportConfigMapRef": ref("ConfigMap with the whole report "
                                      "when it is larger")}, OP_PHASES),
        "columns": [("Mode", "string", ".spec.mode"),
                    ("Phase", "string", ".status.phase"),
                    ("Completed", "date", ".status.completionTime")],
    },
]


def crd(k):
    cols = [{"name": n, "type": t, "jsonPath": p} for n, t, p in k["columns"]]
    cols.append({"name": "Age", "type": "date",
                 "jsonPath": ".metadata.creationTimestamp"})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{k['plural']}.{GROUP}",
                     "labels": {"app.kubernetes.io/part-of": "libastra"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": k["kind"], "listKind": k["kind"] + "List",
                      "plural": k["plural"], "singular": k["kind"].lower(),
                      "shortNames": k["short"], "categories": ["astra"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": cols,
                "schema": {"openAPIV3Schema": {
                    "type": "object", "description": k["desc"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": k["spec"],
                        "status": k["status"]},
                    "required": ["spec"]}}}]}}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in sys.argv[1:]
    bad = 0
    for k in KINDS:
        path = os.path.join(here, f"{GROUP}_{k['plural']}.yaml")
        text = ("# Generated by deploy/crds/generate.py; edit that, not "
                "this.\n" + json.dumps(crd(k), indent=1, sort_keys=True)
                + "\n")
        if check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        print(f"{path}: differs from generate.py's output")
                        bad = 1
            except OSError as e:
                print(f"{path}: {e}")
                bad = 1
        else:
            with open(path, "w") as f:
                f.write(text)
    return bad


if __name__ == "__main__":
    sys.exit(main())
