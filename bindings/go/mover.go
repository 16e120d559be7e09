package astra

import (
	"encoding/json"
	"time"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// MoverStrategy is how volume data moves between the cluster and a vault.
type MoverStrategy uint

const (
	// MoverHostPath: this process reads and writes volumes through
	// volume access (a template or a VolumePathFunc).
	MoverHostPath MoverStrategy = 0
	// MoverJob: a Kubernetes Job per volume runs astractl from Image next
	// to the data (docs/backups.md).
	MoverJob MoverStrategy = 1
)

// MoverOptions is astra_mover_options: how the volume data of a backup,
// restore or clone moves.
type MoverOptions struct {
	Strategy        MoverStrategy
	Image           string        // Jobs: an image whose entrypoint is astractl (required)
	ImagePullPolicy string        // "Always", "IfNotPresent" or "Never"; "" = IfNotPresent
	Parallelism     uint          // Jobs at once; 0 = 4
	Timeout         time.Duration // each Job's deadline (whole seconds); 0 = 1 h
	NodeSelector    map[string]string
	Tolerations     []map[string]any // Kubernetes syntax
	// The vault's secret for the Jobs' pods (one of the two is required
	// for Jobs); it reaches them only through a temporary Secret.
	VaultPassword     string
	VaultPasswordFile string
	VaultURL          string // the vault's URL as the pods open it; "" = this process's
	HostNetwork       bool   // the pods use the node's network
	// Where the Jobs, their Secrets and PVCs live (never the tenant's
	// namespace); "" = "astra-system".
	ControlNamespace string
	// 0: the pods run as root with one capability (docs/security.md);
	// else as this user (and fsGroup), non-root, with none.
	RunAsUser uint
}

// c returns the C form of m (nil for a nil m) and the function that frees
// it after the call.
func (m *MoverOptions) c() (capi.Astra_mover_options, func(), error) {
	if m == nil {
		return nil, func() {}, nil
	}
	o := capi.NewAstra_mover_options()
	if o.Swigcptr() == 0 {
		return nil, func() {}, ctorError("mover options")
	}
	free := func() { capi.DeleteAstra_mover_options(o) }
	o.SetStrategy(uint(m.Strategy))
	if m.Image != "" {
		o.SetImage(m.Image)
	}
	if m.ImagePullPolicy != "" {
		o.SetImage_pull_policy(m.ImagePullPolicy)
	}
	o.SetParallelism(m.Parallelism)
	if m.Timeout < 0 || m.Timeout%time.Second != 0 {
		free()
		return nil, func() {}, &Error{Code: CodeInvalid, Class: ClassInvalid,
			Message: "mover timeout " + m.Timeout.String() + ": whole seconds, not negative"}
	}
	o.SetTimeout_s(uint(m.Timeout / time.Second))
	if m.NodeSelector != nil {
		b, _ := json.Marshal(m.NodeSelector)
		o.SetNode_selector_json(string(b))
	}
	if m.Tolerations != nil {
		b, err := json.Marshal(m.Tolerations)
		if err != nil {
			free()
			return nil, func() {}, &Error{Code: CodeInvalid, Class: ClassInvalid,
				Message: "mover tolerations: " + err.Error()}
		}
		o.SetTolerations_json(string(b))
	}
	if m.VaultPassword != "" {
		o.SetVault_password(m.VaultPassword)
	}
	if m.VaultPasswordFile != "" {
		o.SetVault_password_file(m.VaultPasswordFile)
	}
	if m.VaultURL != "" {
		o.SetVault_url(m.VaultURL)
	}
	if m.HostNetwork {
		o.SetHost_network(1)
	}
	if m.ControlNamespace != "" {
		o.SetControl_namespace(m.ControlNamespace)
	}
	o.SetRun_as_user(m.RunAsUser)
	return o, free, nil
}
