package astra

import (
	"runtime"
	"sync"
	"time"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// ClusterOptions selects a kubeconfig context. Zero values take the
// defaults.
type ClusterOptions struct {
	// Kubeconfig is a path, or several separated by ':' (merged like
	// $KUBECONFIG); "" = $KUBECONFIG, ~/.kube/config, in-cluster.
	Kubeconfig  string
	Context     string        // "" = the current context
	Timeout     time.Duration // one API request; 0 = 60 s
	RetryBudget time.Duration // total retry time; 0 = 30 s
	QPS         float64       // client-side rate limit; 0 = 100, < 0 unlimited
	Burst       uint          // 0 = 200
	Cancel      *Cancel       // cancels calls in progress; must outlive the Cluster
	// ControlNamespace is the namespace whose app definitions may span
	// namespaces and whose policies may name a vault URL
	// (docs/security.md); "" = "astra-system".
	ControlNamespace string
}

// Cluster is a connection to one Kubernetes cluster. Its methods may be
// called from several goroutines; they are serialised.
type Cluster struct {
	mu     sync.Mutex
	h      capi.Astra_cluster
	cancel *Cancel
}

// OpenCluster loads the kubeconfig and prepares a connection without
// contacting the server: ErrParse for a malformed kubeconfig, ErrNotFound
// when none exists or the context is unknown.
func OpenCluster(opts *ClusterOptions) (*Cluster, error) {
	if opts == nil {
		opts = &ClusterOptions{}
	}
	c := &Cluster{cancel: opts.Cancel}
	err := locked(func() error {
		o := capi.NewAstra_cluster_options()
		if o.Swigcptr() == 0 {
			return ctorError("cluster options")
		}
		defer capi.DeleteAstra_cluster_options(o)
		if opts.Kubeconfig != "" {
			o.SetKubeconfig(opts.Kubeconfig)
		}
		if opts.Context != "" {
			o.SetContext(opts.Context)
		}
		if opts.Timeout > 0 {
			o.SetTimeout_ms(uint(opts.Timeout / time.Millisecond))
		}
		if opts.RetryBudget > 0 {
			o.SetRetry_budget_ms(uint(opts.RetryBudget / time.Millisecond))
		}
		o.SetQps(opts.QPS)
		o.SetBurst(opts.Burst)
		if h := opts.Cancel.handle(); h != nil {
			o.SetCancel(h)
		}
		if opts.ControlNamespace != "" {
			o.SetControl_namespace(opts.ControlNamespace)
		}
		var p uintptr
		if err := check(capi.Astra_cluster_open(&p, o)); err != nil {
			return err
		}
		c.h = capi.SwigcptrAstra_cluster(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(c, (*Cluster).Close)
	return c, nil
}

// Close closes the connection. Idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		capi.Astra_cluster_free(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

func (c *Cluster) str(fn func(capi.Astra_cluster) string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return ""
	}
	return fn(c.h)
}

// Context returns the kubeconfig context in use ("" once closed).
func (c *Cluster) Context() string { return c.str(capi.Astra_cluster_context_name) }

// Server returns the API server URL.
func (c *Cluster) Server() string { return c.str(capi.Astra_cluster_server) }

// ControlNamespace returns the control namespace (docs/security.md).
func (c *Cluster) ControlNamespace() string {
	return c.str(capi.Astra_cluster_control_namespace)
}

// Namespace returns the context's default namespace ("default" if unset).
func (c *Cluster) Namespace() string { return c.str(capi.Astra_cluster_namespace) }

func (c *Cluster) use(fn func(capi.Astra_cluster) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return ErrClosed
	}
	err := locked(func() error { return fn(c.h) })
	runtime.KeepAlive(c.cancel)
	return err
}

// ServerVersion asks the server for its version, e.g. "v1.36.3".
func (c *Cluster) ServerVersion() (string, error) {
	var v string
	err := c.use(func(h capi.Astra_cluster) error {
		s, err := bufCall(func(b capi.Astra_buf) int { return capi.Astra_cluster_server_version(h, b) })
		v = s
		return err
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// Namespaces lists the names of all namespaces, sorted.
func (c *Cluster) Namespaces() ([]string, error) {
	var out []string
	err := c.use(func(h capi.Astra_cluster) error {
		a := capi.NewAstra_strarray()
		if a.Swigcptr() == 0 {
			return ctorError("string array")
		}
		defer capi.DeleteAstra_strarray(a)
		if err := check(capi.Astra_cluster_namespaces(h, a)); err != nil {
			return err
		}
		n := a.GetCount()
		out = make([]string, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, a.Get(i))
		}
		return nil
	})
	return out, err
}
