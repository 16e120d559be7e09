package astra_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"example.invalid/libastra/bindings/go/astra"
)

func TestVersion(t *testing.T) {
	maj, min, patch := astra.VersionNumbers()
	if got := astra.Version(); got != fmt.Sprintf("%d.%d.%d", maj, min, patch) {
		t.Fatalf("Version %q vs %d.%d.%d", got, maj, min, patch)
	}
	if astra.FormatVersion() < 1 {
		t.Fatal("format version")
	}
}

func TestErrorValues(t *testing.T) {
	e := &astra.Error{Code: astra.CodeAuth, Message: "nope"}
	if !errors.Is(e, astra.ErrAuth) || errors.Is(e, astra.ErrNotFound) {
		t.Fatal("errors.Is by code")
	}
	if astra.CodeAuth.String() != "EAUTH" || astra.Code(-25).String() != "E-25" {
		t.Fatal("code names")
	}
	if astra.StrError(astra.CodeAuth) == "" {
		t.Fatal("strerror")
	}
}

func TestInitOpenInfo(t *testing.T) {
	v, url := newVault(t)
	info, err := v.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info["url"] != url || info["snapshots"].(float64) != 0 {
		t.Fatalf("info %v", info)
	}
	v.Close()
	v2, err := astra.OpenVault(url, &astra.VaultOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	info2, err := v2.Info()
	if err != nil || info2["vault_id"] != info["vault_id"] {
		t.Fatalf("reopen: %v %v", info2, err)
	}
}

func TestInitTwiceIsExists(t *testing.T) {
	_, url := newVault(t)
	_, err := astra.InitVault(url, &astra.VaultOptions{Password: password, KDFLog2N: fastKDF})
	if !errors.Is(err, astra.ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
}

func TestWrongPasswordIsAuthError(t *testing.T) {
	_, url := newVault(t)
	v, err := astra.OpenVault(url, &astra.VaultOptions{Password: "not the password"})
	if v != nil {
		t.Fatal("a vault was returned")
	}
	if !errors.Is(err, astra.ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	var ae *astra.Error
	if !errors.As(err, &ae) || ae.Code != astra.CodeAuth || !strings.Contains(ae.Message, "password") {
		t.Fatalf("error detail: %#v", err)
	}
}

func TestMissingVaultIsNotFound(t *testing.T) {
	_, err := astra.OpenVault("file://"+filepath.Join(t.TempDir(), "none"), &astra.VaultOptions{Password: password})
	if !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestPasswordFileAndChangePassword(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("from a file\n"), 0o600)
	url := "file://" + filepath.Join(dir, "vault")
	v, err := astra.InitVault(url, &astra.VaultOptions{PasswordFile: pw, KDFLog2N: fastKDF})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v, err = astra.OpenVault(url, &astra.VaultOptions{Password: "from a file"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ChangePassword(&astra.VaultOptions{Password: "new secret", KDFLog2N: fastKDF, KDFP: 3}); err != nil {
		t.Fatal(err)
	}
	if err := v.ChangePassword(&astra.VaultOptions{Password: "newer", KDFLog2N: fastKDF, KDFP: 65}); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("kdf p 65: want ErrInvalid, got %v", err)
	}
	v.Close()
	if _, err := astra.OpenVault(url, &astra.VaultOptions{Password: "from a file"}); !errors.Is(err, astra.ErrAuth) {
		t.Fatalf("old password: %v", err)
	}
	v, err = astra.OpenVault(url, &astra.VaultOptions{Password: "new secret"})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
}

func TestChangePasswordRekey(t *testing.T) {
	url := "file://" + filepath.Join(t.TempDir(), "vault")
	v, err := astra.InitVault(url, &astra.VaultOptions{Password: "one", KDFLog2N: fastKDF})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ChangePassword(&astra.VaultOptions{Password: "two", KDFLog2N: fastKDF, Rekey: true}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := astra.OpenVault(url, &astra.VaultOptions{Password: "one"}); !errors.Is(err, astra.ErrAuth) {
		t.Fatalf("old password after rekey: %v", err)
	}
	v, err = astra.OpenVault(url, &astra.VaultOptions{Password: "two"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	info, err := v.Info()
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := info["key_epoch"].(float64); e != 1 {
		t.Fatalf("key_epoch %v, want 1", info["key_epoch"])
	}
}

func TestClosedVault(t *testing.T) {
	v, _ := newVault(t)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := v.Info(); !errors.Is(err, astra.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, &astra.BackupOptions{Tags: map[string]string{"app": "demo", "env": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ID) != 32 || res.Files != 4 || res.Errors != 0 || res.BytesRead != res.BytesTotal {
		t.Fatalf("result %+v", res)
	}
	snaps, err := v.Snapshots()
	if err != nil || len(snaps) != 1 || snaps[0].ID != res.ID {
		t.Fatalf("snapshots %v %v", snaps, err)
	}
	if snaps[0].Tags["app"] != "demo" || snaps[0].Source != dataDir || snaps[0].Time.IsZero() {
		t.Fatalf("snapshot %+v", snaps[0])
	}
	n := 0
	for s, err := range v.All() {
		if err != nil || s.ID != res.ID {
			t.Fatal(s, err)
		}
		n++
	}
	if n != 1 {
		t.Fatal("iterator")
	}
	out := filepath.Join(t.TempDir(), "restored")
	rr, err := v.Restore(res.ID[:8], out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Errors != 0 || rr.Bytes != res.BytesTotal {
		t.Fatalf("restore %+v", rr)
	}
	sameTree(t, dataDir, out)
}

func TestIncrementalBackup(t *testing.T) {
	v, _ := newVault(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "one"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(src, "two"), make([]byte, 100_000), 0o644)
	first, err := v.Backup(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "a", "one"), []byte("changed"), 0o644)
	second, err := v.Backup(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.FilesUnchanged != first.Files-1 || second.BytesRead >= first.BytesRead {
		t.Fatalf("first %+v second %+v", first, second)
	}
	snaps, _ := v.Snapshots()
	if snaps[len(snaps)-1].Parent != first.ID {
		t.Fatalf("parent %q", snaps[len(snaps)-1].Parent)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := v.Restore(second.ID, out, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
}

func TestRestoreSubpath(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := v.Restore(res.ID, out, &astra.RestoreOptions{Subpath: "docs/deep"}); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, d.Name())
		}
		return nil
	})
	sort.Strings(files)
	if len(files) != 1 || files[0] != "blob.bin" {
		t.Fatalf("files %v", files)
	}
}

func TestRestoreUnknownSnapshot(t *testing.T) {
	v, _ := newVault(t)
	_, err := v.Restore(strings.Repeat("0", 32), t.TempDir(), nil)
	if !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// A target where a directory stands where the snapshot has the file
// "empty": with Overwrite the directory stays and the file is reported.
func partialTarget(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(filepath.Join(out, "empty"), 0o755)
	return out
}

var overwrite = &astra.RestoreOptions{Overwrite: true}

func TestRestoreRefusesANonEmptyTarget(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := partialTarget(t)
	if _, err := v.Restore(res.ID, out, nil); !errors.Is(err, astra.ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Fatalf("the refused restore wrote into the target: %v", ents)
	}
}

func TestPartialRestoreReturnsResultAndFailures(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := v.Restore(res.ID, partialTarget(t), overwrite)
	if !errors.Is(err, astra.ErrPartial) {
		t.Fatalf("want ErrPartial, got %v", err)
	}
	if rr == nil || rr.Errors == 0 || len(rr.Failures) == 0 || rr.Failures[0].Path == "" {
		t.Fatalf("result %+v", rr)
	}
}

func TestForgetAndGC(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Forget(res.ID); err != nil {
		t.Fatal(err)
	}
	if snapshotCount(t, v) != 0 {
		t.Fatal("not forgotten")
	}
	if _, err := v.GC(&astra.GCOptions{NoGrace: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := v.GC(&astra.GCOptions{DryRun: true})
	if err != nil || rep["dry_run"] != true {
		t.Fatalf("dry run %v %v", rep, err)
	}
	if err := v.Forget(res.ID); !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("forget twice: %v", err)
	}
	if _, err := v.GC(&astra.GCOptions{RepackThreshold: 101}); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("invalid gc options: %v", err)
	}
}

func TestCheck(t *testing.T) {
	v, url := newVault(t)
	if _, err := v.Backup(dataDir, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := v.Check(&astra.CheckOptions{ReadData: true})
	if err != nil || !rep.OK || len(rep.Damaged) != 0 {
		t.Fatalf("check %+v %v", rep, err)
	}
	// corrupt the largest object (a data pack)
	root := strings.TrimPrefix(url, "file://")
	var biggest string
	var size int64
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, _ := d.Info(); fi.Size() > size {
				biggest, size = p, fi.Size()
			}
		}
		return nil
	})
	b, _ := os.ReadFile(biggest)
	b[len(b)/2] ^= 0xff
	os.WriteFile(biggest, b, 0o644)
	rep, err = v.Check(&astra.CheckOptions{ReadData: true})
	if !errors.Is(err, astra.ErrCorrupt) {
		t.Fatalf("want ErrCorrupt, got %v", err)
	}
	if rep == nil || rep.OK || len(rep.Damaged) == 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestSeveralVaults(t *testing.T) {
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		v, _ := newVault(t)
		res, err := v.Backup(dataDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[res.ID] = true
	}
	if len(ids) != 3 {
		t.Fatal("ids")
	}
}

func TestRepair(t *testing.T) {
	v, url := newVault(t)
	if _, err := v.Backup(dataDir, nil); err != nil {
		t.Fatal(err)
	}
	// every index file gone: only the packs' headers know the blobs
	dir := filepath.Join(strings.TrimPrefix(url, "file://"), "index")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("index files: %v %v", ents, err)
	}
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	rep, err := v.Repair(nil)
	if err != nil || rep["ok"] != true || rep["blobs_indexed"].(float64) <= 0 {
		t.Fatalf("repair %v %v", rep, err)
	}
	if c, err := v.Check(&astra.CheckOptions{ReadData: true}); err != nil || !c.OK {
		t.Fatalf("check after repair %+v %v", c, err)
	}
}

func TestReplicate(t *testing.T) {
	v, url := newVault(t)
	snap, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	replica := "file://" + filepath.Join(t.TempDir(), "replica")
	dry, err := v.Replicate(replica, &astra.ReplicateOptions{DryRun: true})
	if err != nil || dry["would_copy"].(map[string]any)["snapshots"].(float64) != 1 {
		t.Fatalf("dry run %v %v", dry, err)
	}
	rep, err := v.Replicate(replica, nil)
	if err != nil || rep["copied"].(map[string]any)["snapshots"].(float64) != 1 {
		t.Fatalf("replicate %v %v", rep, err)
	}
	r, err := astra.OpenVault(replica, &astra.VaultOptions{Password: password, KDFLog2N: fastKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps, err := r.Snapshots()
	if err != nil || len(snaps) != 1 || snaps[0].ID != snap.ID {
		t.Fatalf("replica snapshots %v %v (want %s)", snaps, err, snap.ID)
	}
	if _, err := v.Replicate(url, nil); err == nil {
		t.Fatal("replicating a vault onto itself succeeded")
	}
}
