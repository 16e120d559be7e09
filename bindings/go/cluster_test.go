package astra_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.invalid/libastra/bindings/go/astra"
)

const kubeconfig = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context:
    cluster: local
    user: me
    namespace: apps
- name: other
  context:
    cluster: local
    user: me
users:
- name: me
  user:
    token: not-a-real-token
`

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there any more
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("KUBECONFIG", "")
	p := filepath.Join(dir, "config")
	os.WriteFile(p, []byte(fmt.Sprintf(kubeconfig, port)), 0o600)
	return p
}

func TestClusterCurrentContext(t *testing.T) {
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: writeKubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Context() != "dev" || c.Namespace() != "apps" || !strings.HasPrefix(c.Server(), "https://127.0.0.1:") {
		t.Fatalf("%q %q %q", c.Context(), c.Namespace(), c.Server())
	}
	c.Close()
	c.Close()
	if _, err := c.Namespaces(); !errors.Is(err, astra.ErrClosed) {
		t.Fatal(err)
	}
}

func TestClusterNamedContext(t *testing.T) {
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: writeKubeconfig(t), Context: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Context() != "other" || c.Namespace() != "default" {
		t.Fatal(c.Context(), c.Namespace())
	}
}

func TestClusterControlNamespace(t *testing.T) {
	kc := writeKubeconfig(t)
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlNamespace() != "astra-system" {
		t.Fatal(c.ControlNamespace())
	}
	c.Close()
	c, err = astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: kc, ControlNamespace: "platform"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ControlNamespace() != "platform" {
		t.Fatal(c.ControlNamespace())
	}
	if _, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: kc, ControlNamespace: "Bad_NS"}); !errors.Is(err, astra.ErrInvalid) {
		t.Fatal(err)
	}
}

func TestClusterErrors(t *testing.T) {
	kc := writeKubeconfig(t)
	_, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: kc, Context: "nope"})
	var ae *astra.Error
	if !errors.As(err, &ae) || ae.Code != astra.CodeNotFound || !strings.Contains(ae.Message, "dev") {
		t.Fatalf("unknown context: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("clusters: [\n  - : :\n"), 0o600)
	if _, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: bad}); !errors.Is(err, astra.ErrParse) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: filepath.Join(t.TempDir(), "none")}); !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestClusterUnreachableServer(t *testing.T) {
	c, err := astra.OpenCluster(&astra.ClusterOptions{Kubeconfig: writeKubeconfig(t),
		Timeout: 500 * time.Millisecond, RetryBudget: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ServerVersion(); !errors.Is(err, astra.ErrNetwork) {
		t.Fatalf("want ErrNetwork, got %v", err)
	}
	if _, err := c.Namespaces(); !errors.Is(err, astra.ErrNetwork) {
		t.Fatalf("want ErrNetwork, got %v", err)
	}
}
