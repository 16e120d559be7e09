package astra

import (
	"encoding/json"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// Hook stages (docs/hooks.md).
const (
	StagePreSnapshot  = "pre-snapshot"
	StagePostSnapshot = "post-snapshot"
	StagePreBackup    = "pre-backup"
	StagePostBackup   = "post-backup"
	StagePreRestore   = "pre-restore"
	StagePostRestore  = "post-restore"
)

const hookFUpdate = 0x1

// HookOptions describes a hook: Script (at most 64 KiB) run by /bin/sh
// with Args in every running container of the app that matches all the
// given regexes (POSIX extended, searched) and the label Selector.
type HookOptions struct {
	Stage          string // one of the Stage* constants
	Script         string
	Args           []string
	NamespaceRegex string
	PodRegex       string
	ContainerRegex string
	ImageRegex     string
	Selector       string
	Timeout        uint // seconds per execution; 0 = 60
	Continue       bool // on failure record it and go on (default: fail)
	Update         bool // replace a hook of the same name
}

// Hook is a stored hook, as App.Hooks lists it.
type Hook struct {
	Name           string   `json:"name"`
	App            string   `json:"app"`
	Stage          string   `json:"stage"`
	Args           []string `json:"args"`
	NamespaceRegex string   `json:"namespaceRegex,omitempty"`
	PodRegex       string   `json:"podRegex,omitempty"`
	ContainerRegex string   `json:"containerRegex,omitempty"`
	ImageRegex     string   `json:"imageRegex,omitempty"`
	Selector       string   `json:"selector,omitempty"`
	TimeoutSeconds int      `json:"timeoutSeconds"`
	OnError        string   `json:"onError"` // "fail" or "continue"
	ScriptBytes    int      `json:"scriptBytes"`
	Script         string   `json:"script"`
}

// HookResult is one execution of a hook in one container.
type HookResult struct {
	Hook            string `json:"hook"`
	Namespace       string `json:"namespace"`
	Pod             string `json:"pod"`
	Container       string `json:"container"`
	Result          string `json:"result"` // ok, failed, timeout, error, skipped
	ExitCode        int    `json:"exitCode"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdoutTruncated"`
	StderrTruncated bool   `json:"stderrTruncated"`
	DurationMs      int64  `json:"durationMs"`
	Error           string `json:"error,omitempty"`
}

// CreateHook stores hook name for the app, beside its definition.
func (a *App) CreateHook(name string, opts HookOptions) error {
	return a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		o := capi.NewAstra_hook_options()
		if o.Swigcptr() == 0 {
			return ctorError("hook options")
		}
		defer capi.DeleteAstra_hook_options(o)
		o.SetStage(opts.Stage)
		o.SetScript(opts.Script)
		if err := addAll(o.Add_arg, opts.Args); err != nil {
			return err
		}
		for _, s := range []struct {
			v   string
			set func(string)
		}{
			{opts.NamespaceRegex, o.SetNamespace_regex},
			{opts.PodRegex, o.SetPod_regex},
			{opts.ContainerRegex, o.SetContainer_regex},
			{opts.ImageRegex, o.SetImage_regex},
			{opts.Selector, o.SetSelector},
		} {
			if s.v != "" {
				s.set(s.v)
			}
		}
		o.SetTimeout_s(opts.Timeout)
		if opts.Continue {
			o.SetOn_error(int(capi.ASTRA_HOOK_ON_ERROR_CONTINUE))
		}
		var flags uint
		if opts.Update {
			flags = hookFUpdate
		}
		return check(capi.Astra_hook_create(h, name, o, flags))
	})
}

// Hooks lists the app's hooks in execution order (by stage, then name).
func (a *App) Hooks() ([]Hook, error) {
	var out []Hook
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		return jsonCall(&out, func(b capi.Astra_buf) int { return capi.Astra_hook_list(h, b) })
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteHook deletes hook name (ErrNotFound if there is none).
func (a *App) DeleteHook(name string) error {
	return a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		return check(capi.Astra_hook_delete(h, name))
	})
}

// RunHooks runs the hooks of one stage now, as an operation would. A
// failed hook with the "fail" policy returns its error together with the
// stage's results.
func (a *App) RunHooks(stage string) (*HookStage, error) {
	var st HookStage
	err := a.use(func(_ capi.Astra_cluster, h capi.Astra_app) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_hook_run(h, stage, b) })
		if s != "" {
			if jerr := json.Unmarshal([]byte(s), &st); jerr != nil && err == nil {
				return jerr
			}
		}
		return err
	})
	if st.Stage == "" {
		return nil, err
	}
	return &st, err
}
