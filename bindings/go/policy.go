package astra

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// Granularity is how often a Policy runs.
type Granularity int

// The granularities of astra_policy_options.
const (
	Hourly  Granularity = 1 // every hour at Minute
	Daily   Granularity = 2 // every day at Hour:Minute
	Weekly  Granularity = 3 // on DayOfWeek at Hour:Minute
	Monthly Granularity = 4 // on DayOfMonth at Hour:Minute
	Custom  Granularity = 5 // an RRULE or a cron expression
)

// Policy is a protection policy of an app (docs/policies.md): when it
// is snapshotted and backed up, and how many of each are kept.
type Policy struct {
	Name        string // a DNS label of at most 40 characters
	Granularity Granularity
	Minute      int // 0-59 (hourly, daily, weekly, monthly)
	Hour        int // 0-23 (daily, weekly, monthly)
	DayOfWeek   int // 0-7, 0 and 7 both Sunday (weekly)
	DayOfMonth  int // 1-31 (monthly; in a shorter month its last day); 0 = 1
	RRule       string
	Cron        string // Custom: exactly one of RRule and Cron
	TimeZone    string // IANA; "" = UTC
	// SnapshotRetention and BackupRetention are the snapshots and
	// backups kept (0: the policy takes none); Vault is the URL of the
	// vault the backups go to, or VaultRef the name of a vault defined in
	// the control namespace (docs/policies.md).
	SnapshotRetention uint
	BackupRetention   uint
	Vault             string
	VaultRef          string
}

// PolicyStatus is what the runner recorded of a policy.
type PolicyStatus struct {
	LastRun        string   `json:"lastRun"`
	LastResult     string   `json:"lastResult"`
	LastError      string   `json:"lastError"`
	NextRun        string   `json:"nextRun"`
	Snapshots      []string `json:"snapshots"`
	Backups        []string `json:"backups"`
	PendingDeletes []string `json:"pendingDeletes"`
}

// PolicyRecord is a stored policy as Cluster.Policies lists it.
type PolicyRecord struct {
	App               string       `json:"app"`
	Name              string       `json:"name"`
	Granularity       string       `json:"granularity"`
	Minute            int          `json:"minute"`
	Hour              int          `json:"hour"`
	DayOfWeek         int          `json:"dayOfWeek"`
	DayOfMonth        int          `json:"dayOfMonth"`
	RRule             string       `json:"rrule"`
	Cron              string       `json:"cron"`
	TimeZone          string       `json:"timeZone"`
	SnapshotRetention uint         `json:"snapshotRetention"`
	BackupRetention   uint         `json:"backupRetention"`
	Vault             string       `json:"vault"`
	VaultRef          string       `json:"vaultRef"`
	Created           string       `json:"created"`
	Status            PolicyStatus `json:"status"`
}

// PolicyRunReport is what Cluster.RunDuePolicies did.
type PolicyRunReport struct {
	Ran []struct {
		App      string   `json:"app"`
		Policies []string `json:"policies"`
		Snapshot string   `json:"snapshot"`
		Backups  []struct {
			Vault  string `json:"vault"`
			Name   string `json:"name"`
			Result string `json:"result"`
			Error  string `json:"error"`
		} `json:"backups"`
		Result string `json:"result"`
		Error  string `json:"error"`
	} `json:"ran"`
	Deleted []json.RawMessage `json:"deleted"`
	Failed  int               `json:"failed"`
	Raw     json.RawMessage   `json:"-"`
}

// withOptions calls fn with the C options of p.
func (p *Policy) withOptions(fn func(o capi.Astra_policy_options) error) error {
	if p == nil {
		return &Error{Code: CodeInvalid, Class: ClassInvalid, Message: "no policy"}
	}
	o := capi.NewAstra_policy_options()
	if o.Swigcptr() == 0 {
		return ctorError("policy options")
	}
	defer capi.DeleteAstra_policy_options(o)
	o.SetName(p.Name)
	o.SetGranularity(uint(p.Granularity))
	o.SetMinute(p.Minute)
	o.SetHour(p.Hour)
	o.SetDay_of_week(p.DayOfWeek)
	if p.DayOfMonth != 0 {
		o.SetDay_of_month(p.DayOfMonth)
	}
	if p.RRule != "" {
		o.SetRrule(p.RRule)
	}
	if p.Cron != "" {
		o.SetCron(p.Cron)
	}
	if p.TimeZone != "" {
		o.SetTime_zone(p.TimeZone)
	}
	o.SetSnapshot_retention(p.SnapshotRetention)
	o.SetBackup_retention(p.BackupRetention)
	if p.Vault != "" {
		o.SetVault(p.Vault)
	}
	if p.VaultRef != "" {
		o.SetVault_ref(p.VaultRef)
	}
	return fn(o)
}

// Validate checks the policy: ErrInvalid naming the field and the value
// (minute 60, an unknown time zone, a malformed RRULE or cron, a policy
// that takes nothing). Needs no cluster.
func (p *Policy) Validate() error {
	return p.withOptions(func(o capi.Astra_policy_options) error {
		return locked(func() error { return check(capi.Astra_policy_validate(o)) })
	})
}

// NextRun returns the policy's first run strictly after after.
func (p *Policy) NextRun(after time.Time) (time.Time, error) {
	out := []int64{0}
	err := p.withOptions(func(o capi.Astra_policy_options) error {
		return locked(func() error { return check(capi.Astra_policy_next_run(o, after.Unix(), out)) })
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(out[0], 0).UTC(), nil
}

// Due reports whether a run is due at now for a policy that last ran (or
// was created) at lastRun, and the latest scheduled time in (lastRun,
// now]: several missed times make one run.
func (p *Policy) Due(lastRun, now time.Time) (bool, time.Time, error) {
	slot := []int64{0}
	var st int
	err := p.withOptions(func(o capi.Astra_policy_options) error {
		return locked(func() error {
			st = capi.Astra_policy_due(o, lastRun.Unix(), now.Unix(), slot)
			return check(st)
		})
	})
	if err != nil || st != 1 {
		return false, time.Time{}, err
	}
	return true, time.Unix(slot[0], 0).UTC(), nil
}

// SetPolicy creates or replaces p as a policy of app (stored beside the
// app definition): ErrNotFound when the app is not defined, ErrInvalid as
// Validate.
func (c *Cluster) SetPolicy(app string, p *Policy) error {
	return p.withOptions(func(o capi.Astra_policy_options) error {
		return c.use(func(h capi.Astra_cluster) error {
			return check(capi.Astra_policy_set(h, app, o))
		})
	})
}

// Policies lists the policies of app (of every app when ""), with the
// runner's status.
func (c *Cluster) Policies(app string) ([]PolicyRecord, error) {
	var out []PolicyRecord
	err := c.use(func(h capi.Astra_cluster) error {
		return jsonCall(&out, func(b capi.Astra_buf) int { return capi.Astra_policy_list(h, app, b) })
	})
	return out, err
}

// RemovePolicy removes a policy (its snapshots and backups stay).
func (c *Cluster) RemovePolicy(app, name string) error {
	return c.use(func(h capi.Astra_cluster) error {
		return check(capi.Astra_policy_remove(h, app, name))
	})
}

// PolicyRunOptions tunes RunDuePolicies and the passes of RunScheduler.
type PolicyRunOptions struct {
	Now               time.Time // the time to evaluate; zero = now (ignored by the scheduler)
	App               string    // only this app's policies; "" = every app's
	VaultPassword     string    // opens the policies' vaults...
	VaultPasswordFile string    // ...or this file's first line does
	// VolumePath (a template) or VolumePathFunc give the backups access
	// to volume data, as for App.Backup.
	VolumePath     string
	VolumePathFunc VolumePathFunc
	Cancel         *Cancel
	// Vault is a vault URL trusted for every policy that names it; other
	// URLs are followed only for policies in the control namespace
	// (docs/policies.md).
	Vault string
}

// runOptions fills C run options from opts; the returned function ends
// the callback's life and reports its error.
func (opts *PolicyRunOptions) fill(o capi.Astra_policy_run_options) func() error {
	if !opts.Now.IsZero() {
		o.SetNow(opts.Now.Unix())
	}
	if opts.App != "" {
		o.SetApp(opts.App)
	}
	if opts.VaultPassword != "" {
		o.SetVault_password(opts.VaultPassword)
	}
	if opts.VaultPasswordFile != "" {
		o.SetVault_password_file(opts.VaultPasswordFile)
	}
	if opts.VolumePath != "" {
		o.SetVolume_path(opts.VolumePath)
	}
	if ct := opts.Cancel.handle(); ct != nil {
		o.SetCancel(ct)
	}
	if opts.Vault != "" {
		o.SetVault(opts.Vault)
	}
	return withVolumePath(opts.VolumePathFunc, o.Set_volume_path_handle)
}

// RunDuePolicies runs every due policy once and applies retention (see
// astra_policy_run_due). When some runs failed it returns the report
// with an error that matches ErrPartial.
func (c *Cluster) RunDuePolicies(opts *PolicyRunOptions) (*PolicyRunReport, error) {
	if opts == nil {
		opts = &PolicyRunOptions{}
	}
	var rep *PolicyRunReport
	err := c.use(func(h capi.Astra_cluster) error {
		o := capi.NewAstra_policy_run_options()
		if o.Swigcptr() == 0 {
			return ctorError("policy run options")
		}
		defer capi.DeleteAstra_policy_run_options(o)
		after := opts.fill(o)
		var st int
		s, _ := bufCall(func(b capi.Astra_buf) int {
			st = capi.Astra_policy_run_due(h, o, b)
			return st
		})
		err := finishAll(st, after)
		runtime.KeepAlive(opts.Cancel)
		if s != "" {
			rep = &PolicyRunReport{Raw: json.RawMessage(s)}
			if jerr := json.Unmarshal([]byte(s), rep); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	})
	return rep, err
}

// SchedulerOptions tunes RunScheduler.
type SchedulerOptions struct {
	Run            PolicyRunOptions // what each pass runs (Run.Now is ignored)
	LeaseNamespace string           // "" = the context's namespace
	LeaseName      string           // "" = "astra-scheduler"
	Identity       string           // this replica; "" = "<hostname>-<pid>"
	LeaseDuration  time.Duration    // held without renewal; 0 = 15 s
	Interval       time.Duration    // between passes; 0 = 5 s
	Once           bool             // one pass, then return its error
	Cancel         *Cancel          // stops the loop (checked during passes too)
}

// RunScheduler runs the scheduler: every Interval it takes or renews the
// Lease, and while this replica leads it runs what is due (renewing the
// Lease during long passes). It blocks until Cancel is requested (then
// returns nil), or for one pass with Once. It holds the Cluster while it
// runs: give it a Cluster of its own.
func (c *Cluster) RunScheduler(opts *SchedulerOptions) error {
	if opts == nil {
		opts = &SchedulerOptions{}
	}
	secs := func(what string, d time.Duration) (uint, error) {
		if d < 0 || d%time.Second != 0 {
			return 0, &Error{Code: CodeInvalid, Class: ClassInvalid,
				Message: fmt.Sprintf("scheduler %s %v: whole seconds, not negative", what, d)}
		}
		return uint(d / time.Second), nil
	}
	lease, err := secs("lease duration", opts.LeaseDuration)
	if err != nil {
		return err
	}
	interval, err := secs("interval", opts.Interval)
	if err != nil {
		return err
	}
	return c.use(func(h capi.Astra_cluster) error {
		ro := capi.NewAstra_policy_run_options()
		if ro.Swigcptr() == 0 {
			return ctorError("policy run options")
		}
		defer capi.DeleteAstra_policy_run_options(ro)
		so := capi.NewAstra_policy_scheduler_options()
		if so.Swigcptr() == 0 {
			return ctorError("scheduler options")
		}
		defer capi.DeleteAstra_policy_scheduler_options(so)
		after := opts.Run.fill(ro)
		so.SetRun(ro)
		if opts.LeaseNamespace != "" {
			so.SetLease_namespace(opts.LeaseNamespace)
		}
		if opts.LeaseName != "" {
			so.SetLease_name(opts.LeaseName)
		}
		if opts.Identity != "" {
			so.SetIdentity(opts.Identity)
		}
		so.SetLease_duration_s(lease)
		so.SetInterval_s(interval)
		if opts.Once {
			so.SetFlags(uint(capi.ASTRA_POLICY_SCHEDULER_F_ONCE))
		}
		if ct := opts.Cancel.handle(); ct != nil {
			so.SetCancel(ct)
		}
		err := finishAll(capi.Astra_policy_scheduler_run(h, so), after)
		runtime.KeepAlive(opts.Cancel)
		runtime.KeepAlive(opts.Run.Cancel)
		return err
	})
}
