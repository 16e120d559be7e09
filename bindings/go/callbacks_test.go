package astra_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"example.invalid/libastra/bindings/go/astra"
)

func TestProgressReports(t *testing.T) {
	v, _ := newVault(t)
	var seen []astra.Progress
	res, err := v.Backup(bigDir, &astra.BackupOptions{Progress: func(p astra.Progress) error {
		seen = append(seen, p)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no progress")
	}
	stages := map[astra.Stage]bool{}
	for i, p := range seen {
		stages[p.Stage] = true
		if i > 0 && p.BytesDone < seen[i-1].BytesDone {
			t.Fatal("bytes_done went back")
		}
	}
	last := seen[len(seen)-1]
	if last.BytesDone != res.BytesTotal || last.BytesTotal != res.BytesTotal || !stages[astra.StageBackingUp] {
		t.Fatalf("last %+v stages %v", last, stages)
	}
}

func TestProgressOnRestoreAndCheck(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	count := func(astra.Progress) error { n++; return nil }
	if _, err := v.Restore(res.ID, filepath.Join(t.TempDir(), "o"), &astra.RestoreOptions{Progress: count}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Check(&astra.CheckOptions{ReadData: true, Progress: count}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GC(&astra.GCOptions{Progress: count}); err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("progress calls: %d", n)
	}
}

var errStop = errors.New("stop here")

func TestCallbackErrorCancelsAndIsReturned(t *testing.T) {
	v, _ := newVault(t)
	var last astra.Progress
	_, err := v.Backup(bigDir, &astra.BackupOptions{Progress: func(p astra.Progress) error {
		last = p
		if p.BytesDone > 0 {
			return errStop
		}
		return nil
	}})
	if err != errStop {
		t.Fatalf("want the callback's own error, got %v", err)
	}
	if errors.Is(err, astra.ErrCancelled) {
		t.Fatal("callback error reported as ErrCancelled")
	}
	if last.BytesDone == 0 || last.BytesDone >= last.BytesTotal {
		t.Fatalf("not midway: %+v", last)
	}
	if snapshotCount(t, v) != 0 {
		t.Fatal("a cancelled backup recorded a snapshot")
	}
	if _, err := v.Backup(bigDir, nil); err != nil { // still usable
		t.Fatal(err)
	}
}

func TestCallbackReturningErrCancelled(t *testing.T) {
	v, _ := newVault(t)
	_, err := v.Backup(dataDir, &astra.BackupOptions{Progress: func(astra.Progress) error {
		return astra.ErrCancelled
	}})
	if !errors.Is(err, astra.ErrCancelled) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
}

func TestCallbackErrorInRestore(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Restore(res.ID, t.TempDir(), &astra.RestoreOptions{Progress: func(astra.Progress) error { return errStop }})
	if err != errStop {
		t.Fatalf("got %v", err)
	}
}

func TestCallbackPanicIsRepanickedInCaller(t *testing.T) {
	v, _ := newVault(t)
	func() {
		defer func() {
			r := recover()
			if r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		v.Backup(bigDir, &astra.BackupOptions{Progress: func(astra.Progress) error { panic("boom") }})
		t.Fatal("no panic")
	}()
	if snapshotCount(t, v) != 0 {
		t.Fatal("snapshot recorded")
	}
	if _, err := v.Backup(dataDir, nil); err != nil { // the vault's mutex was released
		t.Fatal(err)
	}
}

func TestCancelTokenFromAnotherGoroutine(t *testing.T) {
	v, _ := newVault(t)
	token, err := astra.NewCancel()
	if err != nil {
		t.Fatal(err)
	}
	defer token.Close()
	started := make(chan struct{})
	var once sync.Once
	go func() {
		<-started
		token.Request()
	}()
	_, err = v.Backup(bigDir, &astra.BackupOptions{Cancel: token, Progress: func(astra.Progress) error {
		once.Do(func() { close(started) })
		return nil
	}})
	if !errors.Is(err, astra.ErrCancelled) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
	if !token.Requested() || snapshotCount(t, v) != 0 {
		t.Fatal("state after cancel")
	}
	token.Reset()
	if token.Requested() {
		t.Fatal("reset")
	}
	if _, err := v.Backup(dataDir, &astra.BackupOptions{Cancel: token}); err != nil {
		t.Fatal(err)
	}
}

func TestCancelBeforeStart(t *testing.T) {
	v, _ := newVault(t)
	token, _ := astra.NewCancel()
	defer token.Close()
	token.Request()
	if _, err := v.Backup(dataDir, &astra.BackupOptions{Cancel: token}); !errors.Is(err, astra.ErrCancelled) {
		t.Fatalf("got %v", err)
	}
}

func TestLogHandler(t *testing.T) {
	v, _ := newVault(t)
	res, err := v.Backup(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var msgs []string
	astra.SetLogHandler(func(level astra.LogLevel, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if level == astra.LogWarn {
			msgs = append(msgs, msg)
		}
	}, astra.LogDebug)
	defer astra.SetLogHandler(nil, 0)
	if _, err := v.Restore(res.ID, partialTarget(t), overwrite); !errors.Is(err, astra.ErrPartial) {
		t.Fatalf("got %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, m := range msgs {
		found = found || strings.Contains(m, "empty")
	}
	if !found {
		t.Fatalf("no warning: %v", msgs)
	}
}

func TestConcurrentBackupsOverlap(t *testing.T) {
	// Two goroutines back up into two vaults at the same time: their
	// progress reports interleave, so neither call blocked the other.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int][]time.Time{}
	errs := make(chan error, 2)
	vaults := []*astra.Vault{}
	for i := 0; i < 2; i++ {
		v, _ := newVault(t)
		vaults = append(vaults, v)
	}
	for i, v := range vaults {
		wg.Add(1)
		go func(i int, v *astra.Vault) {
			defer wg.Done()
			_, err := v.Backup(bigDir, &astra.BackupOptions{NoScan: true, Progress: func(astra.Progress) error {
				mu.Lock()
				seen[i] = append(seen[i], time.Now())
				mu.Unlock()
				return nil
			}})
			errs <- err
		}(i, v)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := seen[0], seen[1]
	if len(a) == 0 || len(b) == 0 {
		t.Fatal("no progress")
	}
	start, end := a[0], a[len(a)-1]
	if b[0].After(start) {
		start = b[0]
	}
	if b[len(b)-1].Before(end) {
		end = b[len(b)-1]
	}
	if !end.After(start) {
		t.Fatalf("backups did not overlap: %v..%v / %v..%v", a[0], a[len(a)-1], b[0], b[len(b)-1])
	}
}

func TestOneVaultFromManyGoroutines(t *testing.T) {
	v, _ := newVault(t)
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				if _, err := v.Backup(dataDir, nil); err != nil {
					errs <- err
				}
				if _, err := v.Snapshots(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if snapshotCount(t, v) != 9 {
		t.Fatal("snapshots")
	}
}
