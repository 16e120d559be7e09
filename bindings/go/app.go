package astra

import (
	"encoding/json"
	"runtime"
	"sort"
	"time"
	"unsafe"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// Flags of app.h, snapshot.h and backup.h.
const (
	appFUpdate       = 0x1 // ASTRA_APP_F_UPDATE
	snapshotFNoGroup = 0x1 // ASTRA_SNAPSHOT_F_NO_GROUP
	restoreFReplace  = 0x1 // ASTRA_RESTORE_F_REPLACE
)

// AppDefinition defines an application (docs/apps.md): Namespaces or Helm
// is required. Home is set by the library in listings (the namespace
// holding the definition) and never sent.
type AppDefinition struct {
	Name             string           `json:"name"`
	Namespaces       []AppNamespace   `json:"namespaces,omitempty"`
	Helm             *AppHelm         `json:"helm,omitempty"`
	ClusterResources []ResourceFilter `json:"clusterResources,omitempty"`
	Include          []ResourceFilter `json:"include,omitempty"`
	Exclude          []ResourceFilter `json:"exclude,omitempty"`
	SnapshotClass    string           `json:"snapshotClass,omitempty"`
	Home             string           `json:"home,omitempty"`
}

// AppNamespace is a namespace of an app, with an optional label selector
// (full Kubernetes syntax).
type AppNamespace struct {
	Name     string `json:"name"`
	Selector string `json:"selector,omitempty"`
}

// AppHelm names a Helm 3 release.
type AppHelm struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
}

// ResourceFilter selects objects; empty fields match anything. Group nil
// means any group; Group(""), the core group.
type ResourceFilter struct {
	Group      *string  `json:"group,omitempty"`
	Version    string   `json:"version,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	Names      []string `json:"names,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	Selector   string   `json:"selector,omitempty"`
}

// Group returns a pointer to g, for ResourceFilter.Group.
func Group(g string) *string { return &g }

// AppResources is a dry run of collection: what a snapshot would capture.
type AppResources struct {
	App       string         `json:"app"`
	Resources []AppResource  `json:"resources"`
	Warnings  []string       `json:"warnings"`
	Counts    map[string]int `json:"counts"`
}

// AppResource is one captured object. Restore is "yes", or "owner" for
// objects their controller recreates.
type AppResource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Reason     string `json:"reason"`
	Restore    string `json:"restore"`
}

// Unmanaged is something no app covers: Kind "namespace" (Name) or "helm"
// (Name, Namespace).
type Unmanaged struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// HookStage is one hook stage of a snapshot, backup or restore: the
// executions that ran (Hooks), how many failed, and each one's result.
type HookStage struct {
	Stage   string       `json:"stage"`
	Hooks   int          `json:"hooks"`
	Failed  int          `json:"failed"`
	Results []HookResult `json:"results"`
}

// AppSnapshot is an application snapshot's record. Raw holds the whole
// JSON record (with fields not listed here).
type AppSnapshot struct {
	App         string           `json:"app"`
	Name        string           `json:"name"`
	Namespace   string           `json:"namespace"`
	Created     time.Time        `json:"created"`
	State       string           `json:"state"`
	Consistency string           `json:"consistency"` // "group", "individual" or "none"
	Volumes     []SnapshotVolume `json:"volumes"`
	Resources   int              `json:"resources"`
	Hooks       []HookStage      `json:"hooks"`
	Warnings    []string         `json:"warnings"`
	DurationMs  int64            `json:"durationMs"`
	Manifests   []map[string]any `json:"manifests,omitempty"` // GetSnapshot with manifests
	Raw         json.RawMessage  `json:"-"`
}

// SnapshotVolume is one PVC's volume snapshot.
type SnapshotVolume struct {
	Namespace      string `json:"namespace"`
	PVC            string `json:"pvc"`
	Driver         string `json:"driver"`
	VolumeSnapshot string `json:"volumeSnapshot"`
	Group          string `json:"group,omitempty"`
	RestoreSize    string `json:"restoreSize"`
	ReadyToUse     bool   `json:"readyToUse"`
}

// AppBackup is an application backup's record in a vault. Raw holds the
// whole JSON record.
type AppBackup struct {
	Format      int             `json:"format"`
	Name        string          `json:"name"`
	App         string          `json:"app"`
	Definition  *AppDefinition  `json:"definition,omitempty"`
	Source      BackupSource    `json:"source"`
	Created     time.Time       `json:"created"`
	State       string          `json:"state"`
	Snapshot    string          `json:"snapshot"`
	Consistency string          `json:"consistency"`
	Resources   int             `json:"resources"`
	Volumes     []BackupVolume  `json:"volumes"`
	Hooks       []HookStage     `json:"hooks"`
	DurationMs  int64           `json:"durationMs"`
	Raw         json.RawMessage `json:"-"`
}

// BackupSource is the cluster a backup was taken from.
type BackupSource struct {
	Server  string `json:"server"`
	Context string `json:"context"`
}

// BackupVolume is one PVC's data in a backup (Data: the data snapshot).
type BackupVolume struct {
	Namespace    string   `json:"namespace"`
	PVC          string   `json:"pvc"`
	StorageClass string   `json:"storageClass"`
	Size         string   `json:"size"`
	AccessModes  []string `json:"accessModes"`
	Data         string   `json:"data"`
	Bytes        uint64   `json:"bytes"`
	Files        uint64   `json:"files"`
}

// RestoreReport is what a restore (or clone) did.
type RestoreReport struct {
	Created  int           `json:"created"`
	Replaced int           `json:"replaced"`
	Skipped  int           `json:"skipped"`
	Failed   int           `json:"failed"`
	Items    []RestoreItem `json:"items"`
	// In-place restores: PVCs rolled back, and the workloads scaled
	// down and back.
	RolledBack int               `json:"rolledBack,omitempty"`
	Workloads  []RestoreWorkload `json:"workloads,omitempty"`
	// App is the app a restore with a namespace map defined (nil: none).
	App *RestoredApp `json:"app,omitempty"`
}

// RestoredApp names the app a restore defined and the hooks it got.
type RestoredApp struct {
	Name     string   `json:"name"`
	Hooks    []string `json:"hooks"`
	Policies []string `json:"policies"`
	// Error says why no app was defined (a restore that also failed
	// objects keeps that error).
	Error string `json:"error,omitempty"`
}

// RestoreItem is one object of a restore; Result is "created",
// "replaced", "skipped", "rolled-back" (with Source) or "failed" (with
// Reason).
type RestoreItem struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Result    string `json:"result"`
	Reason    string `json:"reason,omitempty"`
	Source    string `json:"source,omitempty"`
}

// RestoreWorkload is a workload an in-place restore scaled to zero and
// back: Replicas is the count put back (absent for a DaemonSet); Result is
// "restored" or "failed" (with Reason).
type RestoreWorkload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Replicas  *int   `json:"replicas,omitempty"`
	Result    string `json:"result"`
	Reason    string `json:"reason,omitempty"`
}

// jsonCall runs a call that fills an astra_buf with JSON and decodes it
// into out.
func jsonCall(out any, fn func(b capi.Astra_buf) int) error {
	s, err := bufCall(fn)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// record decodes a JSON record into v and keeps the text in *raw.
func record(s string, v any, raw *json.RawMessage) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return err
	}
	*raw = json.RawMessage(s)
	return nil
}

func pairs(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

func addAll(add func(string) int, items []string) error {
	for _, s := range items {
		if add(s) < 0 {
			return &Error{Code: CodeNoMemory, Class: ClassNoMemory, Message: "options"}
		}
	}
	return nil
}

// App is a defined application, bound to the Cluster it came from. Its
// calls are serialised with the cluster's; the cluster must stay open
// while the app is used. Close it when done.
type App struct {
	c    *Cluster
	h    capi.Astra_app // guarded by c.mu
	name string
}

func newApp(c *Cluster, p uintptr) *App {
	a := &App{c: c, h: capi.SwigcptrAstra_app(p)}
	a.name = capi.Astra_app_name(a.h)
	runtime.SetFinalizer(a, (*App).Close)
	return a
}

// Name returns the app's name.
func (a *App) Name() string { return a.name }

// Cluster returns the cluster the app was loaded from.
func (a *App) Cluster() *Cluster { return a.c }

// Close frees the handle (not the definition: see Remove). Idempotent.
func (a *App) Close() error {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	if a.h != nil {
		capi.Astra_app_free(a.h)
		a.h = nil
		runtime.SetFinalizer(a, nil)
	}
	return nil
}

func (a *App) use(fn func(ch capi.Astra_cluster, ah capi.Astra_app) error) error {
	err := a.c.use(func(ch capi.Astra_cluster) error {
		if a.h == nil {
			return ErrClosed
		}
		return fn(ch, a.h)
	})
	runtime.KeepAlive(a)
	return err
}

// DefineApp defines an app (with update, replaces an existing definition:
// ErrNotFound when there is none) and returns it. ErrInvalid for an invalid definition (selector, name,
// neither namespaces nor Helm), ErrNotFound for a missing namespace or
// Helm release, ErrExists when the name is taken.
func (c *Cluster) DefineApp(def *AppDefinition, update bool) (*App, error) {
	if def == nil {
		return nil, &Error{Code: CodeInvalid, Class: ClassInvalid, Message: "no app definition"}
	}
	d := *def
	d.Home = ""
	b, err := json.Marshal(&d)
	if err != nil {
		return nil, err
	}
	return c.DefineAppJSON(b, update)
}

// DefineAppJSON is DefineApp with the definition as JSON (ErrParse when
// malformed).
func (c *Cluster) DefineAppJSON(def []byte, update bool) (*App, error) {
	var flags uint
	if update {
		flags = appFUpdate
	}
	var p uintptr
	err := c.use(func(h capi.Astra_cluster) error {
		return check(capi.Astra_app_define(&p, h, string(def), flags))
	})
	if err != nil {
		return nil, err
	}
	return newApp(c, p), nil
}

// App loads the app called name (ErrNotFound if there is none).
func (c *Cluster) App(name string) (*App, error) {
	var p uintptr
	err := c.use(func(h capi.Astra_cluster) error {
		return check(capi.Astra_app_get(&p, h, name))
	})
	if err != nil {
		return nil, err
	}
	return newApp(c, p), nil
}

// Apps lists the managed apps' definitions (with Home).
func (c *Cluster) Apps() ([]AppDefinition, error) {
	var out []AppDefinition
	err := c.use(func(h capi.Astra_cluster) error {
		return jsonCall(&out, func(b capi.Astra_buf) int { return capi.Astra_app_list(h, b) })
	})
	return out, err
}

// Unmanaged lists what no managed app covers (system namespaces left
// out).
func (c *Cluster) Unmanaged() ([]Unmanaged, error) {
	var out []Unmanaged
	err := c.use(func(h capi.Astra_cluster) error {
		return jsonCall(&out, func(b capi.Astra_buf) int { return capi.Astra_app_list_unmanaged(h, b) })
	})
	return out, err
}

// RemoveApp removes an app's definition; its resources are never touched.
func (c *Cluster) RemoveApp(name string) error {
	return c.use(func(h capi.Astra_cluster) error {
		return check(capi.Astra_app_remove(h, name))
	})
}

// Definition returns the app's definition (with Home).
func (a *App) Definition() (*AppDefinition, error) {
	var d AppDefinition
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		return jsonCall(&d, func(b capi.Astra_buf) int { return capi.Astra_app_definition(h, b) })
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Resources is a dry run of collection: exactly what a snapshot would
// capture.
func (a *App) Resources() (*AppResources, error) {
	var r AppResources
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		return jsonCall(&r, func(b capi.Astra_buf) int { return capi.Astra_app_resources(h, b) })
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Remove removes the app's definition from the cluster (never its
// resources). The App stays usable until Close.
func (a *App) Remove() error { return a.c.RemoveApp(a.name) }

// SnapshotOptions tunes App.Snapshot; a nil *SnapshotOptions takes the
// defaults.
type SnapshotOptions struct {
	Name     string // "" = "<app>-<UTC yyyymmddhhmmss>"
	Timeout  uint   // seconds for every volume snapshot to be ready; 0 = 300
	NoGroup  bool   // individual VolumeSnapshots even where a group class exists
	Progress ProgressFunc
	Cancel   *Cancel
}

// Snapshot takes a snapshot of the app (manifests and one consistency
// group of volume snapshots per namespace and driver) and returns its
// record. A failed snapshot removes what it created.
func (a *App) Snapshot(opts *SnapshotOptions) (*AppSnapshot, error) {
	if opts == nil {
		opts = &SnapshotOptions{}
	}
	var rec *AppSnapshot
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		o := capi.NewAstra_snapshot_options()
		if o.Swigcptr() == 0 {
			return ctorError("snapshot options")
		}
		defer capi.DeleteAstra_snapshot_options(o)
		if opts.Name != "" {
			o.SetName(opts.Name)
		}
		o.SetTimeout_s(opts.Timeout)
		if opts.NoGroup {
			o.SetFlags(snapshotFNoGroup)
		}
		if c := opts.Cancel.handle(); c != nil {
			o.SetCancel(c)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_snapshot_create(h, o, b)
			return st
		})
		err := finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if err != nil {
			return err
		}
		rec = &AppSnapshot{}
		return record(s, rec, &rec.Raw)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Snapshots lists the app's snapshots, oldest first.
func (a *App) Snapshots() ([]AppSnapshot, error) { return a.c.Snapshots(a.name) }

// Snapshots lists the snapshots of app (every app when ""), oldest first.
func (c *Cluster) Snapshots(app string) ([]AppSnapshot, error) {
	var out []AppSnapshot
	err := c.use(func(h capi.Astra_cluster) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_snapshot_list(h, app, b) })
		if err != nil {
			return err
		}
		var raws []json.RawMessage
		if err := json.Unmarshal([]byte(s), &raws); err != nil {
			return err
		}
		out = make([]AppSnapshot, len(raws))
		for i, r := range raws {
			if err := record(string(r), &out[i], &out[i].Raw); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// GetSnapshot returns one snapshot's record; withManifests fills
// Manifests with every captured object.
func (c *Cluster) GetSnapshot(app, name string, withManifests bool) (*AppSnapshot, error) {
	with := 0
	if withManifests {
		with = 1
	}
	var rec AppSnapshot
	err := c.use(func(h capi.Astra_cluster) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_snapshot_get(h, app, name, with, b) })
		if err != nil {
			return err
		}
		return record(s, &rec, &rec.Raw)
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// DeleteSnapshot deletes a snapshot: its volume snapshots and its record.
// ErrBusy while a backup reads it.
func (c *Cluster) DeleteSnapshot(app, name string) error {
	return c.use(func(h capi.Astra_cluster) error {
		return check(capi.Astra_snapshot_delete(h, app, name))
	})
}

// AppBackupOptions tunes App.Backup; a nil *AppBackupOptions takes the
// defaults (and fails for an app with PVCs: no volume access).
type AppBackupOptions struct {
	Name     string // "" = "<app>-<UTC yyyymmddhhmmss>"
	Snapshot string // back up this existing snapshot; "" = take one, deleted afterwards
	// VolumePath is a template of the directory holding a volume's data,
	// with {volumeHandle}, {pvName}, {pvcName} and {namespace}
	// substituted; VolumePathFunc, when set, is used instead.
	VolumePath     string
	VolumePathFunc VolumePathFunc
	Mover          *MoverOptions // how volume data moves; nil = the host path
	Progress       ProgressFunc
	Cancel         *Cancel
}

// Backup backs the app up into v: its manifests and the data of every
// PVC, read from the snapshot's volume snapshots. Returns the record.
func (a *App) Backup(v *Vault, opts *AppBackupOptions) (*AppBackup, error) {
	if opts == nil {
		opts = &AppBackupOptions{}
	}
	var rec *AppBackup
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		return v.use(func(vh capi.Astra_vault) error {
			o := capi.NewAstra_backup_options()
			if o.Swigcptr() == 0 {
				return ctorError("app backup options")
			}
			defer capi.DeleteAstra_backup_options(o)
			if opts.Name != "" {
				o.SetName(opts.Name)
			}
			if opts.Snapshot != "" {
				o.SetSnapshot(opts.Snapshot)
			}
			if opts.VolumePath != "" {
				o.SetVolume_path(opts.VolumePath)
			}
			if c := opts.Cancel.handle(); c != nil {
				o.SetCancel(c)
			}
			mo, freeMover, err := opts.Mover.c()
			if err != nil {
				return err
			}
			defer freeMover()
			if mo != nil {
				o.SetMover(mo)
			}
			afterVP := withVolumePath(opts.VolumePathFunc, o.Set_volume_path_handle)
			afterP := withProgress(opts.Progress, o.Set_progress_handle)
			var st int
			s, _ := bufCall(func(b capi.Astra_buf) int {
				st = capi.Astra_backup_create(h, vh, o, b)
				return st
			})
			err = finishAll(st, afterP, afterVP)
			runtime.KeepAlive(opts.Cancel)
			if s != "" {
				rec = &AppBackup{}
				if jerr := record(s, rec, &rec.Raw); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		})
	})
	return rec, err
}

// Backups lists the app's backups in v, oldest first.
func (a *App) Backups(v *Vault) ([]AppBackup, error) { return v.Backups(a.name) }

// Backups lists the application backups in the vault (of app, or of every
// app when ""), oldest first. Needs no cluster.
func (v *Vault) Backups(app string) ([]AppBackup, error) {
	var out []AppBackup
	err := v.use(func(h capi.Astra_vault) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_backup_list(h, app, b) })
		if err != nil {
			return err
		}
		var raws []json.RawMessage
		if err := json.Unmarshal([]byte(s), &raws); err != nil {
			return err
		}
		out = make([]AppBackup, len(raws))
		for i, r := range raws {
			if err := record(string(r), &out[i], &out[i].Raw); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// GetBackup returns an application backup's record (ErrNotFound if there
// is none). Vault.Backup backs up a directory tree.
func (v *Vault) GetBackup(name string) (*AppBackup, error) {
	var rec AppBackup
	err := v.use(func(h capi.Astra_vault) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_backup_get(h, name, b) })
		if err != nil {
			return err
		}
		return record(s, &rec, &rec.Raw)
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// DeleteBackup deletes an application backup's record and forgets its
// volume data (GC reclaims the space).
func (v *Vault) DeleteBackup(name string) error {
	return v.use(func(h capi.Astra_vault) error {
		return check(capi.Astra_backup_delete(h, name))
	})
}

// VerifyBackupOptions tunes Vault.VerifyBackup. With TestRestore set, the
// backup is also restored into scratch namespaces "<NamespacePrefix>-<random>"
// of that cluster, its workloads are waited for (Timeout; 0 = 300 s), its
// "verify" hooks run there, and the namespaces are deleted again.
type VerifyBackupOptions struct {
	TestRestore     *Cluster
	NamespacePrefix string // "" = "astra-verify"
	Timeout         time.Duration
	VolumePath      string        // volume access for the test restore
	Mover           *MoverOptions // how its data moves; nil = the host path
	Progress        ProgressFunc
	Cancel          *Cancel
}

// VerifyBackup reads and checks everything application backup name needs,
// and nothing else of the vault (docs/backups.md, "Verifying a backup"),
// and returns the report ({"backup", "app", "ok", "objects", "bytes",
// "snapshots", "trees", "blobs", "packs", "problems", "testRestore"}). A
// damaged or missing object comes with an error matching ErrCorrupt (and
// the report); an unknown backup with ErrNotFound.
func (v *Vault) VerifyBackup(name string, opts *VerifyBackupOptions) (map[string]any, error) {
	if opts == nil {
		opts = &VerifyBackupOptions{}
	}
	var rep map[string]any
	run := func(vh capi.Astra_vault, ch capi.Astra_cluster) error {
		o := capi.NewAstra_backup_verify_options()
		if o.Swigcptr() == 0 {
			return ctorError("backup verify options")
		}
		defer capi.DeleteAstra_backup_verify_options(o)
		if opts.TestRestore != nil {
			o.SetFlags(capi.ASTRA_BACKUP_VERIFY_F_TEST_RESTORE)
			o.SetCluster(ch)
		}
		if opts.NamespacePrefix != "" {
			o.SetNamespace_prefix(opts.NamespacePrefix)
		}
		o.SetTimeout_s(uint(opts.Timeout / time.Second))
		if opts.VolumePath != "" {
			o.SetVolume_path(opts.VolumePath)
		}
		if ct := opts.Cancel.handle(); ct != nil {
			o.SetCancel(ct)
		}
		mo, freeMover, err := opts.Mover.c()
		if err != nil {
			return err
		}
		defer freeMover()
		if mo != nil {
			o.SetMover(mo)
		}
		after := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_backup_verify(vh, name, o, b)
			return st
		})
		err = finish(st, after)
		runtime.KeepAlive(opts.Cancel)
		if s != "" {
			if jerr := json.Unmarshal([]byte(s), &rep); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	}
	err := v.use(func(vh capi.Astra_vault) error {
		if opts.TestRestore == nil {
			return run(vh, capi.SwigcptrAstra_cluster(0))
		}
		return opts.TestRestore.use(func(ch capi.Astra_cluster) error { return run(vh, ch) })
	})
	return rep, err
}

// AppRestoreOptions selects what Cluster.Restore restores: Backup (from
// the vault) or SnapshotApp and Snapshot (same cluster and namespaces).
type AppRestoreOptions struct {
	Backup      string
	SnapshotApp string
	Snapshot    string
	// NamespaceMap and StorageClassMap map SRC to DST ("*" as SRC: every
	// storage class).
	NamespaceMap    map[string]string
	StorageClassMap map[string]string
	// Include and Exclude are "GROUP/KIND[/NAMESPACE[/NAME]]" filters (""
	// or "core" for the core group); excludes win.
	Include []string
	Exclude []string
	// Replace replaces objects that exist (else kept and reported);
	// without NamespaceMap it is an in-place restore that rolls the
	// app's data back (docs/backups.md).
	Replace bool
	// Volume access, as for AppBackupOptions: needed to restore PVC data
	// from a backup.
	VolumePath     string
	VolumePathFunc VolumePathFunc
	Concurrency    uint          // objects created at once within an order group; 0 = 8
	Mover          *MoverOptions // how volume data moves; nil = the host path
	Progress       ProgressFunc
	Cancel         *Cancel
	// InplaceTimeout bounds each wait of an in-place restore (seconds;
	// 0 = 300).
	InplaceTimeout uint
	// IncludeSelector and ExcludeSelector are Kubernetes label selectors
	// over the objects' labels ("" = any / none).
	IncludeSelector string
	ExcludeSelector string
	// ClusterResources also creates the backup's cluster-scoped objects
	// (else they are reported skipped).
	ClusterResources bool
	// AppName names the app a restore with a NamespaceMap defines; "" =
	// "<app>-<first target namespace>".
	AppName string
	// WithPolicies also gives that app the source app's policies.
	WithPolicies bool
}

// Restore restores into the cluster, in dependency order, from a backup
// in v (nil when restoring from a snapshot) and returns the report. When
// some objects failed (the rest is restored) the report comes with an
// error matching ErrPartial.
func (c *Cluster) Restore(v *Vault, opts *AppRestoreOptions) (*RestoreReport, error) {
	if opts == nil {
		opts = &AppRestoreOptions{}
	}
	var rep *RestoreReport
	run := func(h capi.Astra_cluster, vh capi.Astra_vault) error {
		o := capi.NewAstra_restore_options()
		if o.Swigcptr() == 0 {
			return ctorError("app restore options")
		}
		defer capi.DeleteAstra_restore_options(o)
		if opts.Backup != "" {
			o.SetBackup(opts.Backup)
		}
		if opts.SnapshotApp != "" {
			o.SetSnapshot_app(opts.SnapshotApp)
		}
		if opts.Snapshot != "" {
			o.SetSnapshot(opts.Snapshot)
		}
		for _, l := range []struct {
			add   func(string) int
			items []string
		}{
			{o.Add_namespace_map, pairs(opts.NamespaceMap)},
			{o.Add_storage_class_map, pairs(opts.StorageClassMap)},
			{o.Add_include, opts.Include},
			{o.Add_exclude, opts.Exclude},
		} {
			if err := addAll(l.add, l.items); err != nil {
				return err
			}
		}
		if opts.Replace {
			o.SetFlags(restoreFReplace)
		}
		if opts.IncludeSelector != "" {
			o.SetInclude_selector(opts.IncludeSelector)
		}
		if opts.ExcludeSelector != "" {
			o.SetExclude_selector(opts.ExcludeSelector)
		}
		if opts.ClusterResources {
			o.SetCluster_resources(1)
		}
		if opts.AppName != "" {
			o.SetApp_name(opts.AppName)
		}
		if opts.WithPolicies {
			o.SetWith_policies(1)
		}
		if opts.VolumePath != "" {
			o.SetVolume_path(opts.VolumePath)
		}
		o.SetConcurrency(opts.Concurrency)
		o.SetInplace_timeout_s(opts.InplaceTimeout)
		if ct := opts.Cancel.handle(); ct != nil {
			o.SetCancel(ct)
		}
		mo, freeMover, err := opts.Mover.c()
		if err != nil {
			return err
		}
		defer freeMover()
		if mo != nil {
			o.SetMover(mo)
		}
		afterVP := withVolumePath(opts.VolumePathFunc, o.Set_volume_path_handle)
		afterP := withProgress(opts.Progress, o.Set_progress_handle)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_restore(h, vh, o, b)
			return st
		})
		err = finishAll(st, afterP, afterVP)
		runtime.KeepAlive(opts.Cancel)
		rep = parseReport(s, &err)
		return err
	}
	err := c.use(func(h capi.Astra_cluster) error {
		if v == nil {
			return run(h, capi.SwigcptrAstra_vault(0))
		}
		return v.use(func(vh capi.Astra_vault) error { return run(h, vh) })
	})
	return rep, err
}

// parseReport decodes a restore report (nil when s is empty); a decoding
// error replaces a nil *err.
func parseReport(s string, err *error) *RestoreReport {
	if s == "" {
		return nil
	}
	var r RestoreReport
	if jerr := json.Unmarshal([]byte(s), &r); jerr != nil {
		if *err == nil {
			*err = jerr
		}
		return nil
	}
	return &r
}

// CloneOptions tunes App.Clone. NamespaceMap must map every namespace of
// the app to a new one.
type CloneOptions struct {
	NamespaceMap    map[string]string
	StorageClassMap map[string]string
	FromBackup      string // clone from this backup in the vault...
	FromSnapshot    string // ...or this snapshot (backed up first); neither: a backup is taken
	Name            string // the new app's name; "" = "<app>-clone"
	VolumePath      string
	VolumePathFunc  VolumePathFunc
	Mover           *MoverOptions // how volume data moves; nil = the host path
	Progress        ProgressFunc
	Cancel          *Cancel
	// ClusterResources also creates the app's cluster-scoped objects.
	ClusterResources bool
	// WithPolicies also gives the clone the app's policies.
	WithPolicies bool
}

// Clone clones the app into new namespaces of target (nil: the app's own
// cluster) through v and defines the clone as a new app. Returns the
// restore report (with an error matching ErrPartial when some objects
// failed).
func (a *App) Clone(v *Vault, target *Cluster, opts *CloneOptions) (*RestoreReport, error) {
	if opts == nil {
		opts = &CloneOptions{}
	}
	if target == nil {
		target = a.c
	}
	var rep *RestoreReport
	run := func(ah capi.Astra_app, th capi.Astra_cluster) error {
		return v.use(func(vh capi.Astra_vault) error {
			o := capi.NewAstra_clone_options()
			if o.Swigcptr() == 0 {
				return ctorError("clone options")
			}
			defer capi.DeleteAstra_clone_options(o)
			if err := addAll(o.Add_namespace_map, pairs(opts.NamespaceMap)); err != nil {
				return err
			}
			if err := addAll(o.Add_storage_class_map, pairs(opts.StorageClassMap)); err != nil {
				return err
			}
			if opts.FromBackup != "" {
				o.SetFrom_backup(opts.FromBackup)
			}
			if opts.FromSnapshot != "" {
				o.SetFrom_snapshot(opts.FromSnapshot)
			}
			if opts.Name != "" {
				o.SetName(opts.Name)
			}
			if opts.ClusterResources {
				o.SetCluster_resources(1)
			}
			if opts.WithPolicies {
				o.SetWith_policies(1)
			}
			if opts.VolumePath != "" {
				o.SetVolume_path(opts.VolumePath)
			}
			if ct := opts.Cancel.handle(); ct != nil {
				o.SetCancel(ct)
			}
			mo, freeMover, err := opts.Mover.c()
			if err != nil {
				return err
			}
			defer freeMover()
			if mo != nil {
				o.SetMover(mo)
			}
			afterVP := withVolumePath(opts.VolumePathFunc, o.Set_volume_path_handle)
			afterP := withProgress(opts.Progress, o.Set_progress_handle)
			var st int
			s, _ := bufCall(func(b capi.Astra_buf) int {
				st = capi.Astra_app_clone(ah, vh, th, o, b)
				return st
			})
			err = finishAll(st, afterP, afterVP)
			runtime.KeepAlive(opts.Cancel)
			rep = parseReport(s, &err)
			return err
		})
	}
	var err error
	if target == a.c {
		err = a.use(func(ch capi.Astra_cluster, ah capi.Astra_app) error { return run(ah, ch) })
	} else {
		// two clusters: lock them in address order (no lock cycles)
		first, second := a.c, target
		if uintptr(unsafe.Pointer(second)) < uintptr(unsafe.Pointer(first)) {
			first, second = second, first
		}
		err = first.use(func(capi.Astra_cluster) error {
			return second.use(func(capi.Astra_cluster) error {
				if a.h == nil || target.h == nil {
					return ErrClosed
				}
				return run(a.h, target.h)
			})
		})
		runtime.KeepAlive(a)
	}
	return rep, err
}
