package astra_test

// Hooks on a real test-bed cluster: stored, listed, run (a pod that
// cannot be scheduled is skipped) and deleted.

import (
	"errors"
	"strings"
	"testing"

	"example.invalid/libastra/bindings/go/astra"
)

func TestHooks(t *testing.T) {
	needTestbed(t)
	c := openTestbed(t)
	ns := "go-hooks-" + rid
	kubectl(t, "", "create", "namespace", ns)
	defer kubectlErr("", "delete", "namespace", ns, "--wait=false")
	kubectl(t, `
apiVersion: v1
kind: Pod
metadata: {name: waiting, labels: {role: db}}
spec:
  nodeSelector: {none: none}
  containers: [{name: c, image: busybox}]
`, "-n", ns, "apply", "-f", "-")
	a, err := c.DefineApp(&astra.AppDefinition{Name: ns,
		Namespaces: []astra.AppNamespace{{Name: ns}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateHook("thaw", astra.HookOptions{Stage: astra.StagePostSnapshot,
		Script: "echo thawed", ContainerRegex: "^c$"}); err != nil {
		t.Fatal(err)
	}
	freeze := astra.HookOptions{Stage: astra.StagePreSnapshot, Script: `sync; echo "$1"`,
		Args: []string{"now"}, Selector: "role=db", Timeout: 5, Continue: true}
	if err := a.CreateHook("freeze", freeze); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateHook("freeze", freeze); !errors.Is(err, astra.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	freeze.Update = true
	if err := a.CreateHook("freeze", freeze); err != nil {
		t.Fatalf("update: %v", err)
	}
	var ae *astra.Error
	err = a.CreateHook("bad", astra.HookOptions{Stage: astra.StagePreSnapshot, Script: "true", PodRegex: "("})
	if !errors.Is(err, astra.ErrInvalid) || !errors.As(err, &ae) || !strings.Contains(ae.Message, "pod regex") {
		t.Fatalf("bad regex: %v", err)
	}
	hooks, err := a.Hooks()
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 2 || hooks[0].Name != "freeze" || hooks[1].Name != "thaw" ||
		hooks[0].OnError != "continue" || hooks[0].TimeoutSeconds != 5 ||
		len(hooks[0].Args) != 1 || hooks[0].Args[0] != "now" || hooks[0].Script != `sync; echo "$1"` {
		t.Fatalf("hooks: %+v", hooks)
	}
	st, err := a.RunHooks(astra.StagePreSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != astra.StagePreSnapshot || st.Hooks != 0 || len(st.Results) != 1 ||
		st.Results[0].Result != "skipped" || st.Results[0].Pod != "waiting" {
		t.Fatalf("run: %+v", st)
	}
	if _, err := a.RunHooks("during-snapshot"); !errors.Is(err, astra.ErrInvalid) {
		t.Fatalf("bad stage: %v", err)
	}
	if err := a.DeleteHook("thaw"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteHook("thaw"); !errors.Is(err, astra.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
}
