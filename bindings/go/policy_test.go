package astra_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.invalid/libastra/bindings/go/astra"
)

func utc(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

func TestPolicySchedulesWithoutACluster(t *testing.T) {
	p := &astra.Policy{Name: "nightly", Granularity: astra.Daily, Hour: 2, Minute: 30,
		TimeZone: "America/New_York", SnapshotRetention: 7}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	// 02:30 does not exist on 2024-03-10: 03:30 EDT
	next, err := p.NextRun(utc(2024, 3, 9, 12, 0))
	if err != nil || !next.Equal(utc(2024, 3, 10, 7, 30)) {
		t.Fatalf("next run %v %v", next, err)
	}
	b := &astra.Policy{Name: "b", Granularity: astra.Daily, Hour: 2, TimeZone: "Europe/Berlin", SnapshotRetention: 1}
	due, slot, err := b.Due(utc(2024, 3, 28, 12, 0), utc(2024, 3, 31, 12, 0))
	if err != nil || !due || !slot.Equal(utc(2024, 3, 31, 1, 0)) {
		t.Fatalf("due %v %v %v", due, slot, err)
	}
	if due, _, err := b.Due(utc(2024, 3, 31, 12, 0), utc(2024, 3, 31, 13, 0)); err != nil || due {
		t.Fatalf("not due: %v %v", due, err)
	}
}

func TestPolicyBadInput(t *testing.T) {
	var ae *astra.Error
	err := (&astra.Policy{Name: "p", Granularity: astra.Daily, Hour: 24, SnapshotRetention: 1}).Validate()
	if !errors.Is(err, astra.ErrInvalid) || !errors.As(err, &ae) || !strings.Contains(ae.Message, "hour 24") {
		t.Fatalf("hour 24: %v", err)
	}
	err = (&astra.Policy{Name: "p", Granularity: astra.Custom, Cron: "61 * * * *", SnapshotRetention: 1}).Validate()
	if !errors.Is(err, astra.ErrInvalid) || !strings.Contains(err.Error(), `"61"`) {
		t.Fatalf("cron: %v", err)
	}
	if err := (&astra.Policy{Name: "p", Granularity: 9, SnapshotRetention: 1}).Validate(); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("granularity 9: %v", err)
	}
	var nilPolicy *astra.Policy
	if err := nilPolicy.Validate(); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("nil: %v", err)
	}
}

func TestPoliciesOnACluster(t *testing.T) {
	needTestbed(t)
	c := openTestbed(t)
	ns := "go-pol-" + rid
	template := os.Getenv("ASTRA_TB_CSI_VOLUMES") + "/{volumeHandle}"
	kubectl(t, "", "create", "namespace", ns)
	defer kubectlErr("", "delete", "namespace", ns, "--wait=false", "--ignore-not-found")
	kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
  storageClassName: %s
`, ns, os.Getenv("ASTRA_TB_STORAGECLASS")), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=120s")
	if err := os.WriteFile(filepath.Join(volumeDir(t, ns, "data"), "orders.txt"), []byte("orders\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := c.DefineApp(&astra.AppDefinition{Name: ns, Namespaces: []astra.AppNamespace{{Name: ns}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	v, url := newVault(t)

	p := &astra.Policy{Name: "often", Granularity: astra.Custom, Cron: "* * * * *",
		SnapshotRetention: 1, BackupRetention: 1, Vault: url}
	if err := c.SetPolicy(ns, p); err != nil {
		t.Fatal(err)
	}
	ps, err := c.Policies(ns)
	if err != nil || len(ps) != 1 || ps[0].Name != "often" || ps[0].Cron != "* * * * *" || ps[0].BackupRetention != 1 {
		t.Fatalf("policies %+v %v", ps, err)
	}
	all, err := c.Policies("")
	if err != nil || len(all) < 1 {
		t.Fatalf("all policies %+v %v", all, err)
	}
	created, err := time.Parse(time.RFC3339, ps[0].Created)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("nothing due at creation", func(t *testing.T) {
		rep, err := c.RunDuePolicies(&astra.PolicyRunOptions{App: ns, Now: created,
			VaultPassword: password, Vault: url, VolumePath: template})
		if err != nil || len(rep.Ran) != 0 {
			t.Fatalf("%+v %v", rep, err)
		}
	})
	t.Run("due two minutes later, volume access by a func", func(t *testing.T) {
		var seen []string
		rep, err := c.RunDuePolicies(&astra.PolicyRunOptions{App: ns, Now: created.Add(2 * time.Minute),
			VaultPassword: password, Vault: url,
			VolumePathFunc: func(pv astra.PersistentVolume) (string, error) {
				seen = append(seen, pv.VolumeHandle)
				return strings.ReplaceAll(template, "{volumeHandle}", pv.VolumeHandle), nil
			}})
		if err != nil || rep.Failed != 0 || len(rep.Ran) != 1 || rep.Ran[0].Result != "succeeded" ||
			len(rep.Ran[0].Backups) != 1 {
			t.Fatalf("%s %v", rep.Raw, err)
		}
		if len(seen) == 0 {
			t.Fatal("the volume path func was not called")
		}
		bs, err := v.Backups(ns)
		if err != nil || len(bs) != 1 || bs[0].Name != rep.Ran[0].Backups[0].Name {
			t.Fatalf("backups %+v %v", bs, err)
		}
		ps, _ := c.Policies(ns)
		if ps[0].Status.LastResult != "succeeded" || len(ps[0].Status.Backups) != 1 {
			t.Fatalf("status %+v", ps[0].Status)
		}
	})
	t.Run("a failing volume path func fails the run", func(t *testing.T) {
		boom := errors.New("no volume for you")
		rep, err := c.RunDuePolicies(&astra.PolicyRunOptions{App: ns, Now: created.Add(4 * time.Minute),
			VaultPassword: password, Vault: url,
			VolumePathFunc: func(pv astra.PersistentVolume) (string, error) {
				return "", boom
			}})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
		if rep != nil && rep.Failed != 1 {
			t.Fatalf("report %s", rep.Raw)
		}
		ps, _ := c.Policies(ns)
		if ps[0].Status.LastResult != "failed" {
			t.Fatalf("status %+v", ps[0].Status)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		var ae *astra.Error
		err := c.SetPolicy(ns, &astra.Policy{Name: "bad", Granularity: astra.Hourly, Minute: 60, SnapshotRetention: 1})
		if !errors.Is(err, astra.ErrInvalid) || !errors.As(err, &ae) || !strings.Contains(ae.Message, "minute 60") {
			t.Fatalf("minute 60: %v", err)
		}
		if err := c.SetPolicy("no-such-app-"+rid, p); !errors.Is(err, astra.ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
		if err := c.RunScheduler(&astra.SchedulerOptions{Interval: 1500 * time.Millisecond}); !errors.Is(err, astra.ErrInvalid) {
			t.Fatalf("interval: %v", err)
		}
	})
	t.Run("scheduler once", func(t *testing.T) {
		lease := "go-sched-" + rid
		err := c.RunScheduler(&astra.SchedulerOptions{
			Run:      astra.PolicyRunOptions{App: ns, VaultPassword: password, Vault: url, VolumePath: template},
			Identity: "go-replica", LeaseNamespace: ns, LeaseName: lease,
			LeaseDuration: 5 * time.Second, Once: true})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Spec struct {
				HolderIdentity string `json:"holderIdentity"`
				AcquireTime    string `json:"acquireTime"`
			} `json:"spec"`
		}
		if err := json.Unmarshal([]byte(kubectl(t, "", "-n", ns, "get", "lease", lease, "-o", "json")), &got); err != nil {
			t.Fatal(err)
		}
		// it led, then released the Lease when the pass ended
		if got.Spec.AcquireTime == "" || got.Spec.HolderIdentity != "" {
			t.Fatalf("lease %+v", got.Spec)
		}
	})
	if err := c.RemovePolicy(ns, "often"); err != nil {
		t.Fatal(err)
	}
	if ps, err := c.Policies(ns); err != nil || len(ps) != 0 {
		t.Fatalf("after remove: %+v %v", ps, err)
	}
}

func TestMoverOptions(t *testing.T) {
	needTestbed(t)
	c := openTestbed(t)
	ns := "go-mv-" + rid
	template := os.Getenv("ASTRA_TB_CSI_VOLUMES") + "/{volumeHandle}"
	kubectl(t, "", "create", "namespace", ns)
	defer kubectlErr("", "delete", "namespace", ns, "--wait=false", "--ignore-not-found")
	kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
  storageClassName: %s
`, ns, os.Getenv("ASTRA_TB_STORAGECLASS")), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=120s")
	if err := os.WriteFile(filepath.Join(volumeDir(t, ns, "data"), "f.txt"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := c.DefineApp(&astra.AppDefinition{Name: ns, Namespaces: []astra.AppNamespace{{Name: ns}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	v, _ := newVault(t)
	// the host path given explicitly: as without a mover
	rec, err := app.Backup(v, &astra.AppBackupOptions{Name: "bm", VolumePath: template,
		Mover: &astra.MoverOptions{Strategy: astra.MoverHostPath}})
	if err != nil || rec.State != "completed" || len(rec.Volumes) != 1 {
		t.Fatalf("%+v %v", rec, err)
	}
	// Jobs with options the library refuses, naming the cause, before
	// anything is created
	for i, tc := range []struct {
		m    astra.MoverOptions
		want string
	}{
		{astra.MoverOptions{Strategy: astra.MoverJob, VaultPassword: "x"}, "need an image"},
		{astra.MoverOptions{Strategy: astra.MoverJob, Image: "img:1"}, "vault's secret"},
		{astra.MoverOptions{Strategy: astra.MoverJob, Image: "img:1", VaultPassword: "x",
			ImagePullPolicy: "Sometimes"}, "pull policy"},
		{astra.MoverOptions{Strategy: 7}, "strategy 7"},
		{astra.MoverOptions{Strategy: astra.MoverJob, Image: "img:1", VaultPassword: "x",
			ControlNamespace: "Not_A_Namespace"}, "is not a namespace name"},
	} {
		m := tc.m
		// one name each: a snapshot of the same name may still be going
		_, err := app.Backup(v, &astra.AppBackupOptions{Name: fmt.Sprintf("bj%d", i), Mover: &m})
		var ae *astra.Error
		if !errors.Is(err, astra.ErrInvalid) || !errors.As(err, &ae) || !strings.Contains(ae.Message, tc.want) {
			t.Fatalf("%+v: %v", tc.m, err)
		}
	}
	m := astra.MoverOptions{Strategy: astra.MoverJob, Image: "img:1", VaultPassword: "x", Parallelism: 300}
	if _, err := c.Restore(v, &astra.AppRestoreOptions{Backup: "bm", NamespaceMap: map[string]string{ns: ns + "-never"},
		VolumePath: template, Mover: &m}); !errors.Is(err, astra.ErrInvalid) || !strings.Contains(err.Error(), "parallelism 300") {
		t.Fatalf("restore: %v", err)
	}
	if _, err := app.Clone(v, nil, &astra.CloneOptions{FromBackup: "bm", NamespaceMap: map[string]string{ns: ns + "-never"},
		Mover: &astra.MoverOptions{Timeout: 1500 * time.Millisecond}}); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("clone: %v", err)
	}
	if bs, err := v.Backups(ns); err != nil || len(bs) != 1 {
		t.Fatalf("backups %+v %v", bs, err)
	}
}
