package astra

import (
	"encoding/json"
	"iter"
	"runtime"
	"sort"
	"sync"
	"time"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// LockMode is the S3 Object Lock mode of an immutable vault.
type LockMode uint

// Lock modes (ASTRA_VAULT_LOCK_*); 0 means compliance.
const (
	LockCompliance LockMode = 1 // nobody can delete early
	LockGovernance LockMode = 2 // privileged users can
)

// VaultOptions opens or creates a vault. Password or PasswordFile is
// required. The fields marked "init only" apply to InitVault; zero values
// take libastra's defaults.
type VaultOptions struct {
	Password     string
	PasswordFile string // a file holding the secret (trailing newline ignored)
	KeyFile      bool   // the secret is a key file

	KDFLog2N         uint  // init and ChangePassword: scrypt N = 2^KDFLog2N per lane; 0 = 16
	KDFP             uint  // init and ChangePassword: scrypt lanes p, derived in parallel; 0 = 2
	CompressionLevel int   // init only: zstd level; 0 = 1
	ChunkMin         int64 // init only: chunk sizes in bytes; 0 = defaults
	ChunkAvg         int64
	ChunkMax         int64
	PackSize         int64    // init only: target pack size; 0 = 16 MiB
	ImmutableDays    uint     // init only: S3 Object Lock retention; 0 = mutable
	LockMode         LockMode // init only

	Threads uint // worker threads for backup and restore; 0 = one per CPU

	// ChangePassword only: a new key epoch (a new master key, the vault's
	// records rewritten under it, every other key slot removed;
	// docs/format.md, "Key epochs").
	Rekey bool
}

func (o *VaultOptions) raw() (capi.Astra_vault_options, error) {
	r := capi.NewAstra_vault_options()
	if r.Swigcptr() == 0 {
		return nil, ctorError("vault options")
	}
	if o == nil {
		return r, nil
	}
	if o.Password != "" {
		r.SetPassword(o.Password)
	}
	if o.PasswordFile != "" {
		r.SetPassword_file(o.PasswordFile)
	}
	if o.KeyFile {
		r.SetFlags(r.GetFlags() | 0x1) // ASTRA_VAULT_F_KEY_FILE
	}
	if o.Rekey {
		r.SetFlags(r.GetFlags() | 0x2) // ASTRA_VAULT_F_REKEY
	}
	if o.KDFLog2N != 0 {
		r.SetKdf_log2n(o.KDFLog2N)
	}
	if o.KDFP != 0 {
		r.SetKdf_p(o.KDFP)
	}
	if o.CompressionLevel != 0 {
		r.SetCompression_level(o.CompressionLevel)
	}
	if o.ChunkMin != 0 {
		r.SetChunk_min(o.ChunkMin)
	}
	if o.ChunkAvg != 0 {
		r.SetChunk_avg(o.ChunkAvg)
	}
	if o.ChunkMax != 0 {
		r.SetChunk_max(o.ChunkMax)
	}
	if o.PackSize != 0 {
		r.SetPack_size(o.PackSize)
	}
	if o.ImmutableDays != 0 {
		r.SetImmutable_days(o.ImmutableDays)
	}
	if o.LockMode != 0 {
		r.SetLock_mode(uint(o.LockMode))
	}
	r.SetThreads(o.Threads)
	return r, nil
}

// Vault is an open vault. Its methods may be called from several
// goroutines; they are serialised (so a ProgressFunc must not call its own
// Vault: that would deadlock). Close it when done.
type Vault struct {
	mu  sync.Mutex
	h   capi.Astra_vault
	url string
}

type vaultOpenFunc func(*uintptr, string, capi.Astra_vault_options) int

func openVault(fn vaultOpenFunc, url string, opts *VaultOptions) (*Vault, error) {
	v := &Vault{url: url}
	err := locked(func() error {
		o, err := opts.raw()
		if err != nil {
			return err
		}
		defer capi.DeleteAstra_vault_options(o)
		var p uintptr
		if err := check(fn(&p, url, o)); err != nil {
			return err
		}
		v.h = capi.SwigcptrAstra_vault(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(v, (*Vault).Close) // safety net only
	return v, nil
}

// InitVault creates a vault at url (file:///dir, s3://bucket/prefix or
// azure://container/prefix)
// and opens it. ErrExists when a vault is already there.
func InitVault(url string, opts *VaultOptions) (*Vault, error) {
	return openVault(capi.Astra_vault_init, url, opts)
}

// OpenVault opens the vault at url: ErrNotFound when there is none,
// ErrAuth for a wrong password or key, ErrVersion for a newer format.
func OpenVault(url string, opts *VaultOptions) (*Vault, error) {
	return openVault(capi.Astra_vault_open, url, opts)
}

// Close closes the vault and wipes its keys. Idempotent; it waits for a
// running call to finish.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.h != nil {
		capi.Astra_vault_free(v.h)
		v.h = nil
		runtime.SetFinalizer(v, nil)
	}
	return nil
}

// URL returns the vault's URL.
func (v *Vault) URL() string { return v.url }

// use runs fn with the vault locked and its goroutine on a locked thread.
func (v *Vault) use(fn func(h capi.Astra_vault) error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.h == nil {
		return ErrClosed
	}
	err := locked(func() error { return fn(v.h) })
	runtime.KeepAlive(v)
	return err
}

// bufCall runs a call that fills an astra_buf and returns its text (also
// when the call failed: reports come with ECORRUPT and EPARTIAL).
func bufCall(fn func(b capi.Astra_buf) int) (string, error) {
	b := capi.NewAstra_buf()
	if b.Swigcptr() == 0 {
		return "", ctorError("buffer")
	}
	defer capi.DeleteAstra_buf(b)
	st := fn(b)
	return b.Text(), check(st)
}

// Info describes the vault (url, vault_id, format, chunker, ...).
func (v *Vault) Info() (map[string]any, error) {
	var out map[string]any
	err := v.use(func(h capi.Astra_vault) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_vault_info(h, b) })
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(s), &out)
	})
	return out, err
}

// ChangePassword replaces the secret; the master key is re-wrapped, or
// with secret.Rekey a new key epoch starts.
func (v *Vault) ChangePassword(secret *VaultOptions) error {
	return v.use(func(h capi.Astra_vault) error {
		o, err := secret.raw()
		if err != nil {
			return err
		}
		defer capi.DeleteAstra_vault_options(o)
		return check(capi.Astra_vault_change_password(h, o))
	})
}

// BackupOptions tunes Backup. A nil *BackupOptions takes the defaults.
type BackupOptions struct {
	Tags     map[string]string // recorded as "key=value"
	Parent   string            // parent snapshot; "" = latest of the same source and host
	Source   string            // source name recorded; "" = the absolute path
	NoParent bool              // re-read every file
	NoScan   bool              // no totals before starting
	Progress ProgressFunc
	Cancel   *Cancel
}

// BackupResult is what a backup did.
type BackupResult struct {
	ID             string // the new snapshot's id
	Files          uint64
	Dirs           uint64
	FilesUnchanged uint64 // not read again (parent)
	BytesTotal     uint64 // logical bytes of all files
	BytesRead      uint64
	BytesNew       uint64 // plaintext bytes of new chunks
	BytesStored    uint64 // bytes written to the store
	Errors         uint64 // items that could not be read
	Duration       time.Duration
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Backup backs up the directory tree, file or block device at path.
// Unchanged files of the parent snapshot are not read again. When some
// items could not be read the snapshot is still recorded: the result is
// returned together with an error matching ErrPartial. A cancelled backup
// (ErrCancelled, or the ProgressFunc's own error) records nothing.
func (v *Vault) Backup(path string, opts *BackupOptions) (*BackupResult, error) {
	if opts == nil {
		opts = &BackupOptions{}
	}
	var res *BackupResult
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_data_backup_options()
		if o.Swigcptr() == 0 {
			return ctorError("backup options")
		}
		defer capi.DeleteAstra_data_backup_options(o)
		keys := make([]string, 0, len(opts.Tags))
		for k := range opts.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if o.Add_tag(k+"="+opts.Tags[k]) < 0 {
				return &Error{Code: CodeNoMemory, Class: ClassNoMemory, Message: "tags"}
			}
		}
		if opts.Parent != "" {
			o.SetParent(opts.Parent)
		}
		if opts.Source != "" {
			o.SetSource(opts.Source)
		}
		var flags uint
		if opts.NoParent {
			flags |= 0x1
		}
		if opts.NoScan {
			flags |= 0x2
		}
		o.SetFlags(flags)
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		r := capi.NewAstra_data_backup_result()
		if r.Swigcptr() == 0 {
			return ctorError("backup result")
		}
		defer capi.DeleteAstra_data_backup_result(r)
		after := withProgress(opts.Progress, o.Set_progress_handle)
		st := capi.Astra_vault_backup_path(h, path, o, r)
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if st == 0 || Code(st) == CodePartial {
			res = &BackupResult{
				ID: r.GetId(), Files: r.GetFiles(), Dirs: r.GetDirs(),
				FilesUnchanged: r.GetFiles_unchanged(),
				BytesTotal:     r.GetBytes_total(), BytesRead: r.GetBytes_read(),
				BytesNew: r.GetBytes_new(), BytesStored: r.GetBytes_stored(),
				Errors: r.GetErrors(), Duration: seconds(r.GetDuration_s()),
			}
		}
		return err
	})
	return res, err
}

// RestoreOptions tunes Restore. A nil *RestoreOptions takes the defaults.
type RestoreOptions struct {
	Subpath  string // restore only this path inside the snapshot
	NoOwner  bool   // do not restore uid/gid
	NoXattrs bool
	// The target must be empty unless Overwrite: then what stands in the
	// way of the snapshot's items is replaced (docs/format.md, "Restore
	// semantics"). Nothing outside the target is ever touched.
	Overwrite bool
	Devices   bool // create device nodes (else reported as skipped)
	Progress  ProgressFunc
	Cancel    *Cancel
}

// RestoreFailure is an item a partial restore could not write.
type RestoreFailure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Files    uint64
	Dirs     uint64
	Bytes    uint64 // logical bytes written
	Errors   uint64 // items that could not be restored
	Duration time.Duration
	Failures []RestoreFailure // with ErrPartial
}

// Restore restores snapshot id (or a unique prefix) into target; files of
// the snapshot are written, nothing is deleted, every chunk is verified.
// When some items could not be restored the result (with Failures) comes
// together with an error matching ErrPartial.
func (v *Vault) Restore(id, target string, opts *RestoreOptions) (*RestoreResult, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	var res *RestoreResult
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_data_restore_options()
		if o.Swigcptr() == 0 {
			return ctorError("restore options")
		}
		defer capi.DeleteAstra_data_restore_options(o)
		if opts.Subpath != "" {
			o.SetSubpath(opts.Subpath)
		}
		var flags uint
		if opts.NoOwner {
			flags |= 0x1
		}
		if opts.NoXattrs {
			flags |= 0x2
		}
		if opts.Overwrite {
			flags |= 0x4
		}
		if opts.Devices {
			flags |= 0x8
		}
		o.SetFlags(flags)
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		r := capi.NewAstra_data_restore_result()
		if r.Swigcptr() == 0 {
			return ctorError("restore result")
		}
		defer capi.DeleteAstra_data_restore_result(r)
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		report, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_vault_restore_path(h, id, target, o, r, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if st == 0 || Code(st) == CodePartial {
			res = &RestoreResult{
				Files: r.GetFiles(), Dirs: r.GetDirs(), Bytes: r.GetBytes(),
				Errors: r.GetErrors(), Duration: seconds(r.GetDuration_s()),
			}
			if report != "" {
				_ = json.Unmarshal([]byte(report), &res.Failures)
			}
		}
		return err
	})
	return res, err
}

// Snapshot is a data snapshot record (docs/format.md).
type Snapshot struct {
	ID     string            `json:"id"`
	Time   time.Time         `json:"time"`
	Host   string            `json:"host"`
	Source string            `json:"source"`
	Kind   string            `json:"kind"`
	Tags   map[string]string `json:"tags"`
	Parent string            `json:"parent"`
	Tree   string            `json:"tree"`
	Stats  SnapshotStats     `json:"stats"`
}

// SnapshotStats are a snapshot's backup statistics.
type SnapshotStats struct {
	Files       uint64 `json:"files"`
	Dirs        uint64 `json:"dirs"`
	Bytes       uint64 `json:"bytes"`
	BytesRead   uint64 `json:"bytes_read"`
	BytesNew    uint64 `json:"bytes_new"`
	BytesStored uint64 `json:"bytes_stored"`
	Errors      uint64 `json:"errors"`
}

// Snapshots lists the data snapshots, oldest first.
func (v *Vault) Snapshots() ([]Snapshot, error) {
	var out []Snapshot
	err := v.use(func(h capi.Astra_vault) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_vault_snapshots(h, b) })
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(s), &out)
	})
	return out, err
}

// All iterates over the snapshots, oldest first; a listing error is
// yielded once with a zero Snapshot.
func (v *Vault) All() iter.Seq2[Snapshot, error] {
	return func(yield func(Snapshot, error) bool) {
		snaps, err := v.Snapshots()
		if err != nil {
			yield(Snapshot{}, err)
			return
		}
		for _, s := range snaps {
			if !yield(s, nil) {
				return
			}
		}
	}
}

// Forget forgets a snapshot (id or unique prefix); GC reclaims its data.
func (v *Vault) Forget(id string) error {
	return v.use(func(h capi.Astra_vault) error {
		return check(capi.Astra_vault_forget(h, id))
	})
}

// CheckOptions tunes Check.
type CheckOptions struct {
	ReadData bool // decrypt and verify every blob
	Progress ProgressFunc
	Cancel   *Cancel
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	OK        bool             `json:"ok"`
	Snapshots int              `json:"snapshots"`
	Trees     int              `json:"trees"`
	Blobs     int              `json:"blobs"`
	Packs     int              `json:"packs"`
	Damaged   []map[string]any `json:"damaged"`
	Raw       json.RawMessage  `json:"-"`
}

// Check verifies the vault's structure and, with ReadData, every blob.
// When anything is damaged the report comes with an error matching
// ErrCorrupt.
func (v *Vault) Check(opts *CheckOptions) (*CheckReport, error) {
	if opts == nil {
		opts = &CheckOptions{}
	}
	var rep *CheckReport
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_check_options()
		if o.Swigcptr() == 0 {
			return ctorError("check options")
		}
		defer capi.DeleteAstra_check_options(o)
		if opts.ReadData {
			o.SetFlags(0x1)
		}
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_vault_check(h, o, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if s != "" {
			rep = &CheckReport{Raw: json.RawMessage(s)}
			if jerr := json.Unmarshal([]byte(s), rep); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	})
	return rep, err
}

// GCOptions tunes GC.
type GCOptions struct {
	DryRun bool
	// Data unreferenced for less than Grace is kept so that concurrent
	// backups stay safe; 0 means the default (1 hour), NoGrace none.
	Grace           time.Duration
	NoGrace         bool
	RepackThreshold uint // percent; 0 = 50
	Progress        ProgressFunc
	Cancel          *Cancel
}

// GC removes data no snapshot references (two phases separated by the
// grace period; see docs/format.md) and returns the report.
func (v *Vault) GC(opts *GCOptions) (map[string]any, error) {
	if opts == nil {
		opts = &GCOptions{}
	}
	var rep map[string]any
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_gc_options()
		if o.Swigcptr() == 0 {
			return ctorError("gc options")
		}
		defer capi.DeleteAstra_gc_options(o)
		if opts.DryRun {
			o.SetFlags(0x1)
		}
		if opts.NoGrace {
			o.SetGrace_seconds(0)
		} else if opts.Grace > 0 {
			o.SetGrace_seconds(int64(opts.Grace / time.Second))
		}
		if opts.RepackThreshold != 0 {
			o.SetRepack_threshold(opts.RepackThreshold)
		}
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_vault_gc(h, o, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(s), &rep)
	})
	return rep, err
}

// RepairOptions: progress and cancellation of Vault.Repair.
type RepairOptions struct {
	Progress ProgressFunc
	Cancel   *Cancel
}

// Repair re-indexes blobs from the packs' own headers and deletes nothing
// (docs/format.md, "Repair"). It returns the report; its "ok" is false
// when a snapshot still misses objects or a pack header is unreadable
// (the call itself fails only when the repair could not run).
func (v *Vault) Repair(opts *RepairOptions) (map[string]any, error) {
	if opts == nil {
		opts = &RepairOptions{}
	}
	var rep map[string]any
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_repair_options()
		if o.Swigcptr() == 0 {
			return ctorError("repair options")
		}
		defer capi.DeleteAstra_repair_options(o)
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_vault_repair(h, o, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if err != nil && s == "" {
			return err
		}
		if jerr := json.Unmarshal([]byte(s), &rep); jerr != nil {
			return jerr
		}
		return err
	})
	return rep, err
}

// ReplicateOptions: what Vault.Replicate copies and how.
type ReplicateOptions struct {
	DryRun   bool // report what would be copied, write nothing
	Parallel uint // copies at once; 0: the stores' request depth
	Progress ProgressFunc
	Cancel   *Cancel
}

// Replicate copies into the store at target what it lacks of this vault,
// in the order of the writing protocol, so that it becomes a replica that
// opens with the same password (docs/format.md, "Replication"). It returns
// the report ("copied", or "would_copy" for a dry run).
func (v *Vault) Replicate(target string, opts *ReplicateOptions) (map[string]any, error) {
	if opts == nil {
		opts = &ReplicateOptions{}
	}
	var rep map[string]any
	err := v.use(func(h capi.Astra_vault) error {
		o := capi.NewAstra_replicate_options()
		if o.Swigcptr() == 0 {
			return ctorError("replicate options")
		}
		defer capi.DeleteAstra_replicate_options(o)
		if opts.DryRun {
			o.SetFlags(capi.ASTRA_REPLICATE_F_DRY_RUN)
		}
		o.SetParallel(opts.Parallel)
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_vault_replicate(h, target, o, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if err != nil && s == "" {
			return err
		}
		if jerr := json.Unmarshal([]byte(s), &rep); jerr != nil {
			return jerr
		}
		return err
	})
	return rep, err
}
