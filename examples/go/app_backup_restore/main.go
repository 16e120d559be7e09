// Command app_backup_restore protects a Kubernetes namespace as an app:
// it defines the app, backs it up into a vault and restores the backup
// into another namespace.
//
//	ASTRA_VAULT_PASSWORD=... go run ./app_backup_restore VAULT_URL NAMESPACE TARGET_NAMESPACE [VOLUME_PATH_TEMPLATE]
//
// The cluster is the current context of $KUBECONFIG (or ~/.kube/config).
// VOLUME_PATH_TEMPLATE gives this process access to volume data, e.g. the
// CSI hostpath driver's "/var/lib/csi-hostpath-data/{volumeHandle}"; it
// is needed when the namespace has PVCs. Build needs libastra's pkg-config
// file (see docs/bindings.md).
package main

import (
	"errors"
	"fmt"
	"os"

	"example.invalid/libastra/bindings/go/astra"
)

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	if len(args) != 4 && len(args) != 5 {
		fmt.Fprintf(os.Stderr, "usage: %s VAULT_URL NAMESPACE TARGET_NAMESPACE [VOLUME_PATH_TEMPLATE]\n", args[0])
		return 2
	}
	url, ns, target := args[1], args[2], args[3]
	volumePath := ""
	if len(args) == 5 {
		volumePath = args[4]
	}
	opts := &astra.VaultOptions{Password: os.Getenv("ASTRA_VAULT_PASSWORD")}
	vault, err := astra.OpenVault(url, opts)
	if errors.Is(err, astra.ErrNotFound) { // no vault there yet: create one
		vault, err = astra.InitVault(url, opts)
	}
	if err != nil {
		return fail("open vault", err)
	}
	defer vault.Close()
	cluster, err := astra.OpenCluster(nil)
	if err != nil {
		return fail("open cluster", err)
	}
	defer cluster.Close()

	// the app's definition is kept in the cluster, beside the app
	def := &astra.AppDefinition{Name: ns, Namespaces: []astra.AppNamespace{{Name: ns}}}
	app, err := cluster.DefineApp(def, false)
	if errors.Is(err, astra.ErrExists) { // defined before: redefine it
		app, err = cluster.DefineApp(def, true)
	}
	if err != nil {
		return fail("define app", err)
	}
	defer app.Close()
	res, err := app.Resources()
	if err != nil {
		return fail("resources", err)
	}
	fmt.Printf("app %s: %d objects %v\n", app.Name(), len(res.Resources), res.Counts)
	rec, err := app.Backup(vault, &astra.AppBackupOptions{VolumePath: volumePath})
	if err != nil {
		return fail("backup", err)
	}
	fmt.Printf("backup %s (%s): %d objects, %d volumes\n", rec.Name, rec.Consistency, rec.Resources, len(rec.Volumes))

	rep, err := cluster.Restore(vault, &astra.AppRestoreOptions{
		Backup:       rec.Name,
		NamespaceMap: map[string]string{ns: target},
		VolumePath:   volumePath,
	})
	if errors.Is(err, astra.ErrPartial) {
		fmt.Fprintf(os.Stderr, "some objects failed: %v\n", err)
	} else if err != nil {
		return fail("restore", err)
	}
	for _, it := range rep.Items {
		where := ""
		if it.Namespace != "" {
			where = it.Namespace + "/"
		}
		fmt.Printf("  %-8s %s %s%s\n", it.Result, it.Kind, where, it.Name)
	}
	fmt.Printf("restored into %s: %d created, %d skipped, %d failed\n", target, rep.Created, rep.Skipped, rep.Failed)
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

func fail(what string, err error) int {
	var ae *astra.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(os.Stderr, "%s: %s (%s)\n", what, ae.Message, ae.Code)
	} else {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	}
	return 1
}
