package astra

import (
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
