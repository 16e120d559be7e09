package astra

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// Stage is what a long operation is doing (astra_stage).
type Stage uint32

// Stages.
const (
	StageNone              Stage = 0
	StageScanning          Stage = 1
	StageBackingUp         Stage = 2
	StageRestoring         Stage = 3
	StageChecking          Stage = 4
	StageCollectingGarbage Stage = 5
	StageFinishing         Stage = 6
	StageSnapshotting      Stage = 7
	StageWaiting           Stage = 8
)

// Progress is a progress report.
type Progress struct {
	Stage       Stage
	BytesDone   uint64
	BytesTotal  uint64 // 0 when unknown
	ItemsDone   uint64
	ItemsTotal  uint64 // 0 when unknown
	BytesStored uint64 // new bytes written to the target
	Item        string // current item, if any
}

// ProgressFunc receives progress reports. It runs on the OS thread that
// started the operation (the calling goroutine's, locked), at most every
// 100 ms or so. Returning a non-nil error stops the operation, which then
// returns that same error (not ErrCancelled); a panic stops it too and is
// re-raised in the calling goroutine once the C call has returned.
type ProgressFunc func(Progress) error

// progress is the per-call state behind a cgo.Handle.
type progress struct {
	fn       ProgressFunc
	err      error
	panicked bool
	panicVal any
}

func (p *progress) call(info capi.ProgressInfo) (rc int) {
	if p.err != nil || p.panicked {
		return int(CodeUser)
	}
	defer func() {
		if r := recover(); r != nil {
			p.panicked, p.panicVal = true, r
			rc = int(CodeUser)
		}
	}()
	err := p.fn(Progress{
		Stage: Stage(info.Stage), BytesDone: info.BytesDone,
		BytesTotal: info.BytesTotal, ItemsDone: info.ItemsDone,
		ItemsTotal: info.ItemsTotal, BytesStored: info.BytesStored,
		Item: info.Item,
	})
	if err != nil {
		p.err = err
		return int(CodeUser)
	}
	return 0
}

// withProgress installs fn through set (an options struct's
// Set_progress_handle) and returns the function to call after the C call:
// it frees the handle, re-panics a callback's panic and returns the
// callback's error, if any.
func withProgress(fn ProgressFunc, set func(uint)) func() error {
	if fn == nil {
		return func() error { return nil }
	}
	p := &progress{fn: fn}
	h := cgo.NewHandle(capi.ProgressFunc(p.call))
	set(uint(h))
	return func() error {
		set(0)
		h.Delete()
		if p.panicked {
			panic(p.panicVal)
		}
		return p.err
	}
}

// finish combines the status of a call with its callback's outcome: the
// callback's own error wins over the resulting ECANCELLED/EUSER.
func finish(status int, after func() error) error {
	err := check(status)
	if cbErr := after(); cbErr != nil {
		return cbErr
	}
	return err
}

// Cancel is a cancellation token (astra_cancel). Pass it in an operation's
// options and call Request from any goroutine: the operation stops at its
// next safe point and returns ErrCancelled. Close it when no operation
// uses it any more (a finalizer does it otherwise).
type Cancel struct {
	mu sync.RWMutex
	h  capi.Astra_cancel
}

// NewCancel creates a token.
func NewCancel() (*Cancel, error) {
	c := &Cancel{}
	err := locked(func() error {
		var p uintptr
		if err := check(capi.Astra_cancel_new(&p)); err != nil {
			return err
		}
		c.h = capi.SwigcptrAstra_cancel(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(c, (*Cancel).Close)
	return c, nil
}

// Request asks the operations using the token to stop. Safe from any
// goroutine.
func (c *Cancel) Request() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h != nil {
		capi.Astra_cancel_request(c.h)
	}
}

// Requested reports whether cancellation was requested (until Reset).
func (c *Cancel) Requested() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.h != nil && capi.Astra_cancel_requested(c.h) != 0
}

// Reset clears a request so the token can be reused.
func (c *Cancel) Reset() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h != nil {
		capi.Astra_cancel_reset(c.h)
	}
}

// Close frees the token. Idempotent. No operation may still use it.
func (c *Cancel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		capi.Astra_cancel_free(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// handle returns the C token (nil for a nil or closed Cancel).
func (c *Cancel) handle() capi.Astra_cancel {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.h
}

// PersistentVolume is what a VolumePathFunc gets: a few fields of the
// PersistentVolume whose data is needed, and the whole object (Raw).
type PersistentVolume struct {
	Name           string         // metadata.name
	Driver         string         // spec.csi.driver
	VolumeHandle   string         // spec.csi.volumeHandle
	ClaimNamespace string         // spec.claimRef.namespace
	ClaimName      string         // spec.claimRef.name
	Raw            map[string]any // the object as decoded JSON
}

// VolumePathFunc returns the directory holding a PersistentVolume's data,
// readable and writable by this process. It may be called from any of
// libastra's threads, concurrently (a restore fills PVCs in parallel). A
// non-nil error fails that volume, and the call returns that error (a
// restore's report with it); a panic fails it too and is re-raised in the
// calling goroutine once the C call has returned.
type VolumePathFunc func(pv PersistentVolume) (string, error)

// volumePath is the per-call state behind a volume path cgo.Handle.
type volumePath struct {
	mu       sync.Mutex
	fn       VolumePathFunc
	err      error
	panicked bool
	panicVal any
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}

func (v *volumePath) call(pvJSON string) (path string, rc int) {
	v.mu.Lock()
	failed := v.err != nil || v.panicked
	v.mu.Unlock()
	if failed {
		return "", int(CodeUser)
	}
	defer func() {
		if r := recover(); r != nil {
			v.mu.Lock()
			if !v.panicked {
				v.panicked, v.panicVal = true, r
			}
			v.mu.Unlock()
			path, rc = "", int(CodeUser)
		}
	}()
	var raw map[string]any
	if err := json.Unmarshal([]byte(pvJSON), &raw); err != nil {
		v.fail(err)
		return "", int(CodeUser)
	}
	p, err := v.fn(PersistentVolume{
		Name:           str(raw, "metadata", "name"),
		Driver:         str(raw, "spec", "csi", "driver"),
		VolumeHandle:   str(raw, "spec", "csi", "volumeHandle"),
		ClaimNamespace: str(raw, "spec", "claimRef", "namespace"),
		ClaimName:      str(raw, "spec", "claimRef", "name"),
		Raw:            raw,
	})
	if err == nil && p == "" {
		err = &Error{Code: CodeInvalid, Class: ClassCallback, Message: "the volume path function returned no path for PV " + str(raw, "metadata", "name")}
	}
	if err != nil {
		v.fail(err)
		return "", int(CodeUser)
	}
	return p, 0
}

func (v *volumePath) fail(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
}

// withVolumePath installs fn through set (an options struct's
// Set_volume_path_handle); the returned function frees the handle,
// re-panics a panic of fn and returns fn's first error.
func withVolumePath(fn VolumePathFunc, set func(uint)) func() error {
	if fn == nil {
		return func() error { return nil }
	}
	v := &volumePath{fn: fn}
	h := cgo.NewHandle(capi.VolumePathFunc(v.call))
	set(uint(h))
	return func() error {
		set(0)
		h.Delete()
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.panicked {
			panic(v.panicVal)
		}
		return v.err
	}
}

// finishAll is finish for several callbacks: every one is released (a
// panic is re-raised once all are), the first callback error wins over the
// status.
func finishAll(status int, afters ...func() error) error {
	err := check(status)
	var cbErr error
	var pv any
	panicked := false
	for _, after := range afters {
		func() {
			defer func() {
				if r := recover(); r != nil && !panicked {
					panicked, pv = true, r
				}
			}()
			if e := after(); e != nil && cbErr == nil {
				cbErr = e
			}
		}()
	}
	if panicked {
		panic(pv)
	}
	if cbErr != nil {
		return cbErr
	}
	return err
}
