package astra_test

// Apps, snapshots, backups, restores and clones on a real test-bed cluster
// (tests/testbed), given through the environment (what `. DIR/env`
// exports: KUBECONFIG, ASTRA_TB_BIN, ASTRA_TB_CSI_VOLUMES,
// ASTRA_TB_STORAGECLASS). run_tests.sh starts one; without it these tests
// are skipped.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"example.invalid/libastra/bindings/go/astra"
)

var rid = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

func needTestbed(t *testing.T) {
	t.Helper()
	for _, k := range []string{"KUBECONFIG", "ASTRA_TB_BIN", "ASTRA_TB_CSI_VOLUMES", "ASTRA_TB_STORAGECLASS"} {
		if os.Getenv(k) == "" {
			t.Skip("no test-bed cluster (bindings/go/run_tests.sh starts one)")
		}
	}
}

func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectlErr(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func kubectlErr(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(os.Getenv("ASTRA_TB_BIN"), "kubectl"), args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func volumeDir(t *testing.T, ns, pvc string) string {
	t.Helper()
	pv := kubectl(t, "", "-n", ns, "get", "pvc", pvc, "-o", "jsonpath={.spec.volumeName}")
	h := kubectl(t, "", "get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeHandle}")
	if h == "" {
		t.Fatalf("PV %s has no volume handle", pv)
	}
	return filepath.Join(os.Getenv("ASTRA_TB_CSI_VOLUMES"), h)
}

func openTestbed(t *testing.T) *astra.Cluster {
	t.Helper()
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: os.Getenv("KUBECONFIG")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAppBadDefinitions(t *testing.T) {
	needTestbed(t)
	c := openTestbed(t)
	ns := "go-bad-" + rid
	kubectl(t, "", "create", "namespace", ns)
	defer kubectlErr("", "delete", "namespace", ns, "--wait=false")
	name := "go-bad-" + rid

	_, err := c.DefineApp(&astra.AppDefinition{Name: name,
		Namespaces: []astra.AppNamespace{{Name: ns, Selector: "tier in (web"}}}, false)
	var ae *astra.Error
	if !errors.Is(err, astra.ErrInvalid) || !errors.As(err, &ae) || !strings.Contains(ae.Message, "selector") {
		t.Fatalf("bad selector: %v", err)
	}
	if _, err := c.DefineApp(&astra.AppDefinition{Name: name}, false); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("no namespaces: %v", err)
	}
	if _, err := c.DefineApp(&astra.AppDefinition{Name: "Bad_Name",
		Namespaces: []astra.AppNamespace{{Name: ns}}}, false); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := c.DefineAppJSON([]byte(`{"name":"`+name+`","namespaces":[{"name":"`+ns+`"}],"colour":1}`), false); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := c.DefineAppJSON([]byte("not json"), false); !errors.Is(err, astra.ErrParse) {
		t.Fatalf("not json: %v", err)
	}
	if _, err := c.DefineApp(&astra.AppDefinition{Name: name,
		Namespaces: []astra.AppNamespace{{Name: "missing-" + rid}}}, false); !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("missing namespace: %v", err)
	}
	if _, err := c.DefineApp(nil, false); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("nil: %v", err)
	}
	if _, err := c.App(name); !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
}

// TestAppLifecycle: define an app over a namespace with a ConfigMap and a
// PVC, snapshot it, back it up, clone it, delete the namespace and restore
// it into another one.
func TestAppLifecycle(t *testing.T) {
	needTestbed(t)
	c := openTestbed(t)
	ns := "go-shop-" + rid
	template := os.Getenv("ASTRA_TB_CSI_VOLUMES") + "/{volumeHandle}"
	kubectl(t, "", "create", "namespace", ns)
	defer kubectlErr("", "delete", "namespace", ns, "--wait=false", "--ignore-not-found")
	kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %s}
data: {mode: primary}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
  storageClassName: %s
`, ns, ns, os.Getenv("ASTRA_TB_STORAGECLASS")), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=120s")
	dir := volumeDir(t, ns, "data")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	hello := "hello from " + ns + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sub", "hello.txt"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	v, _ := newVault(t)
	name := "go-shop-" + rid
	def := &astra.AppDefinition{Name: name, Namespaces: []astra.AppNamespace{{Name: ns}}}
	app, err := c.DefineApp(def, false)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	t.Run("define", func(t *testing.T) {
		if app.Name() != name || app.Cluster() != c {
			t.Fatal(app.Name())
		}
		d, err := app.Definition()
		if err != nil || d.Home != ns || len(d.Namespaces) != 1 || d.Namespaces[0].Name != ns {
			t.Fatalf("%+v %v", d, err)
		}
		res, err := app.Resources()
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, r := range res.Resources {
			found[r.Kind+"/"+r.Namespace+"/"+r.Name] = true
		}
		if !found["ConfigMap/"+ns+"/settings"] || !found["PersistentVolumeClaim/"+ns+"/data"] {
			t.Fatalf("resources: %+v", res.Resources)
		}
		if res.Counts["PersistentVolumeClaim"] != 1 || res.App != name {
			t.Fatalf("%+v", res)
		}
		apps, err := c.Apps()
		if err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, a := range apps {
			listed = listed || (a.Name == name && a.Home == ns)
		}
		if !listed {
			t.Fatalf("apps: %+v", apps)
		}
		un, err := c.Unmanaged()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range un {
			if u.Name == ns {
				t.Fatalf("managed namespace listed as unmanaged: %+v", un)
			}
		}
		if _, err := c.DefineApp(def, false); !errors.Is(err, astra.ErrExists) {
			t.Fatalf("redefine: %v", err)
		}
		again, err := c.DefineApp(def, true)
		if err != nil {
			t.Fatal(err)
		}
		again.Close()
		again.Close()
		if _, err := again.Definition(); !errors.Is(err, astra.ErrClosed) {
			t.Fatal(err)
		}
		// a second app over the namespace; removing it leaves the objects
		extra, err := c.DefineApp(&astra.AppDefinition{Name: "go-extra-" + rid,
			Namespaces: []astra.AppNamespace{{Name: ns, Selector: "tier=web"}}}, false)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		if err := extra.Remove(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.App("go-extra-" + rid); !errors.Is(err, astra.ErrNotFound) {
			t.Fatal(err)
		}
		kubectl(t, "", "-n", ns, "get", "configmap", "settings")
	})

	t.Run("snapshot", func(t *testing.T) {
		rec, err := app.Snapshot(&astra.SnapshotOptions{Name: "s1", Timeout: 120,
			Progress: func(astra.Progress) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Name != "s1" || rec.App != name || rec.State != "completed" || rec.Consistency != "group" {
			t.Fatalf("%+v", rec)
		}
		if len(rec.Volumes) != 1 || rec.Volumes[0].PVC != "data" || !rec.Volumes[0].ReadyToUse || rec.Created.IsZero() {
			t.Fatalf("%+v", rec)
		}
		snaps, err := app.Snapshots()
		if err != nil || len(snaps) != 1 || snaps[0].Name != "s1" || len(snaps[0].Raw) == 0 {
			t.Fatalf("%+v %v", snaps, err)
		}
		if all, err := c.Snapshots(""); err != nil || len(all) < 1 {
			t.Fatalf("%+v %v", all, err)
		}
		if none, err := c.Snapshots("none-" + rid); err != nil || len(none) != 0 {
			t.Fatalf("%+v %v", none, err)
		}
		full, err := c.GetSnapshot(name, "s1", true)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, m := range full.Manifests {
			kinds[fmt.Sprint(m["kind"])] = true
		}
		if !kinds["ConfigMap"] || !kinds["PersistentVolumeClaim"] {
			t.Fatalf("manifests: %v", kinds)
		}
		if _, err := c.GetSnapshot(name, "nope", false); !errors.Is(err, astra.ErrNotFound) {
			t.Fatal(err)
		}
	})

	t.Run("backup", func(t *testing.T) {
		rec, err := app.Backup(v, &astra.AppBackupOptions{Name: "b1", Snapshot: "s1", VolumePath: template})
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != "completed" || rec.Snapshot != "s1" || len(rec.Volumes) != 1 || rec.Volumes[0].PVC != "data" || rec.Volumes[0].Data == "" {
			t.Fatalf("%+v", rec)
		}
		got, err := v.GetBackup("b1")
		if err != nil || got.App != name || got.Definition == nil || got.Definition.Name != name {
			t.Fatalf("%+v %v", got, err)
		}
		for _, filter := range []string{"", name} {
			bs, err := v.Backups(filter)
			if err != nil || len(bs) != 1 || bs[0].Name != "b1" {
				t.Fatalf("%q: %+v %v", filter, bs, err)
			}
		}
		if bs, err := app.Backups(v); err != nil || len(bs) != 1 {
			t.Fatalf("%+v %v", bs, err)
		}
		if bs, err := v.Backups("none-" + rid); err != nil || len(bs) != 0 {
			t.Fatalf("%+v %v", bs, err)
		}
		rep, err := v.VerifyBackup("b1", nil)
		if err != nil || rep["ok"] != true || rep["backup"] != "b1" || rep["bytes"].(float64) <= 0 {
			t.Fatalf("%+v %v", rep, err)
		}
		if _, err := v.VerifyBackup("nope", nil); !errors.Is(err, astra.ErrNotFound) {
			t.Fatal(err)
		}
	})

	t.Run("volume_path_func", func(t *testing.T) {
		var seen []astra.PersistentVolume
		rec, err := app.Backup(v, &astra.AppBackupOptions{Name: "b2", Snapshot: "s1",
			VolumePathFunc: func(pv astra.PersistentVolume) (string, error) {
				seen = append(seen, pv)
				return filepath.Join(os.Getenv("ASTRA_TB_CSI_VOLUMES"), pv.VolumeHandle), nil
			}})
		if err != nil || rec.State != "completed" {
			t.Fatalf("%+v %v", rec, err)
		}
		if len(seen) != 1 || seen[0].VolumeHandle == "" || seen[0].Driver != os.Getenv("ASTRA_TB_CSI_DRIVER") || seen[0].Raw["kind"] != "PersistentVolume" {
			t.Fatalf("%+v", seen)
		}
		boom := errors.New("no such volume")
		_, err = app.Backup(v, &astra.AppBackupOptions{Name: "b3", Snapshot: "s1",
			VolumePathFunc: func(astra.PersistentVolume) (string, error) { return "", boom }})
		if err != boom {
			t.Fatalf("want the callback's error, got %v", err)
		}
		// a panic in the callback comes back in this goroutine
		func() {
			defer func() {
				if r := recover(); r != "volume panic" {
					t.Fatalf("recovered %v", r)
				}
			}()
			app.Backup(v, &astra.AppBackupOptions{Name: "b4", Snapshot: "s1",
				VolumePathFunc: func(astra.PersistentVolume) (string, error) { panic("volume panic") }})
			t.Fatal("no panic")
		}()
		bs, err := v.Backups("")
		if err != nil || len(bs) != 2 {
			t.Fatalf("a failed backup recorded something: %+v %v", bs, err)
		}
		if err := v.DeleteBackup("b2"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.GetBackup("b2"); !errors.Is(err, astra.ErrNotFound) {
			t.Fatal(err)
		}
	})

	t.Run("no_volume_access", func(t *testing.T) {
		_, err := c.Restore(v, &astra.AppRestoreOptions{Backup: "b1", NamespaceMap: map[string]string{ns: "x-" + rid}})
		if !errors.Is(err, astra.ErrNotSupported) {
			t.Fatal(err)
		}
	})

	t.Run("restore_from_snapshot", func(t *testing.T) {
		kubectl(t, "", "-n", ns, "delete", "configmap", "settings")
		rep, err := c.Restore(nil, &astra.AppRestoreOptions{SnapshotApp: name, Snapshot: "s1", Include: []string{"core/ConfigMap"}})
		if err != nil || rep.Failed != 0 || rep.Created != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		if m := kubectl(t, "", "-n", ns, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"); m != "primary" {
			t.Fatal(m)
		}
	})

	t.Run("partial_restore", func(t *testing.T) {
		// a namespace stuck terminating refuses new objects
		term := "go-term-" + rid
		kubectl(t, "", "create", "namespace", term)
		kubectl(t, "", "-n", term, "create", "configmap", "hold")
		kubectl(t, "", "-n", term, "patch", "configmap", "hold", "--type=merge", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`)
		kubectl(t, "", "delete", "namespace", term, "--wait=false")
		defer kubectlErr("", "-n", term, "patch", "configmap", "hold", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		rep, err := c.Restore(v, &astra.AppRestoreOptions{Backup: "b1", NamespaceMap: map[string]string{ns: term},
			Include: []string{"core/ConfigMap"}, VolumePath: template})
		if !errors.Is(err, astra.ErrPartial) || rep == nil || rep.Failed != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		for _, it := range rep.Items {
			if it.Result == "failed" && (it.Kind != "ConfigMap" || it.Reason == "") {
				t.Fatalf("%+v", it)
			}
		}
	})

	t.Run("clone", func(t *testing.T) {
		dst := "go-clone-" + rid
		defer kubectlErr("", "delete", "namespace", dst, "--wait=false")
		rep, err := app.Clone(v, nil, &astra.CloneOptions{NamespaceMap: map[string]string{ns: dst},
			FromBackup: "b1", Name: "go-clone-" + rid, VolumePath: template})
		if err != nil || rep.Failed != 0 {
			t.Fatalf("%+v %v", rep, err)
		}
		cl, err := c.App("go-clone-" + rid)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if d, err := cl.Definition(); err != nil || d.Namespaces[0].Name != dst {
			t.Fatalf("%+v %v", d, err)
		}
		b, err := os.ReadFile(filepath.Join(volumeDir(t, dst, "data"), "sub", "hello.txt"))
		if err != nil || string(b) != hello {
			t.Fatalf("%q %v", b, err)
		}
		// the target namespace exists now: a second clone is refused
		if _, err := app.Clone(v, nil, &astra.CloneOptions{NamespaceMap: map[string]string{ns: dst},
			FromBackup: "b1", VolumePath: template}); !errors.Is(err, astra.ErrExists) {
			t.Fatal(err)
		}
	})

	t.Run("delete_the_namespace_and_restore_elsewhere", func(t *testing.T) {
		if err := c.DeleteSnapshot(name, "s1"); err != nil {
			t.Fatal(err)
		}
		if snaps, err := c.Snapshots(name); err != nil || len(snaps) != 0 {
			t.Fatalf("%+v %v", snaps, err)
		}
		kubectl(t, "", "delete", "namespace", ns, "--wait=true", "--timeout=120s")
		dst := "go-restored-" + rid
		defer kubectlErr("", "delete", "namespace", dst, "--wait=false")
		rep, err := c.Restore(v, &astra.AppRestoreOptions{Backup: "b1",
			NamespaceMap: map[string]string{ns: dst}, VolumePath: template})
		if err != nil || rep.Failed != 0 || rep.Created < 3 {
			t.Fatalf("%+v %v", rep, err)
		}
		if m := kubectl(t, "", "-n", dst, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"); m != "primary" {
			t.Fatal(m)
		}
		b, err := os.ReadFile(filepath.Join(volumeDir(t, dst, "data"), "sub", "hello.txt"))
		if err != nil || string(b) != hello {
			t.Fatalf("%q %v", b, err)
		}
		// the definition lived in the deleted namespace (its home)
		if _, err := c.App(name); !errors.Is(err, astra.ErrNotFound) {
			t.Fatal(err)
		}
	})
}

func TestAppVaultWithoutCluster(t *testing.T) {
	v, _ := newVault(t)
	if bs, err := v.Backups(""); err != nil || len(bs) != 0 {
		t.Fatalf("%+v %v", bs, err)
	}
	if _, err := v.GetBackup("nope"); !errors.Is(err, astra.ErrNotFound) {
		t.Fatal(err)
	}
	v.Close()
	if _, err := v.Backups(""); !errors.Is(err, astra.ErrClosed) {
		t.Fatal(err)
	}
}

func TestClosedClusterApps(t *testing.T) {
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: writeKubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Apps(); !errors.Is(err, astra.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := c.Restore(nil, &astra.AppRestoreOptions{Backup: "b1"}); !errors.Is(err, astra.ErrClosed) {
		t.Fatal(err)
	}
}
