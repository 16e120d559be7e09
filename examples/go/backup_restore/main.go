// Command backup_restore backs up a directory into a vault, restores it
// elsewhere and checks the vault: the Go counterpart of
// examples/c/backup_restore.c.
//
//	ASTRA_VAULT_PASSWORD=... go run ./backup_restore VAULT_URL SOURCE TARGET
//
// Build needs libastra's pkg-config file (see docs/bindings.md).
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
	if len(args) != 4 {
		fmt.Fprintf(os.Stderr, "usage: %s VAULT_URL SOURCE TARGET\n", args[0])
		return 2
	}
	url, source, target := args[1], args[2], args[3]
	opts := &astra.VaultOptions{Password: os.Getenv("ASTRA_VAULT_PASSWORD")}

	vault, err := astra.OpenVault(url, opts)
	if errors.Is(err, astra.ErrNotFound) { // no vault there yet: create one
		vault, err = astra.InitVault(url, opts)
	}
	if err != nil {
		return fail("open vault", err)
	}
	defer vault.Close()

	res, err := vault.Backup(source, &astra.BackupOptions{
		Progress: func(p astra.Progress) error {
			fmt.Fprintf(os.Stderr, "\r%d / %d bytes", p.BytesDone, p.BytesTotal)
			return nil // an error would cancel the backup and be returned
		},
	})
	if err != nil {
		return fail("backup", err)
	}
	fmt.Printf("\nsnapshot %s: %d files, %d new bytes, %d stored\n",
		res.ID, res.Files, res.BytesNew, res.BytesStored)

	rr, err := vault.Restore(res.ID, target, nil)
	if errors.Is(err, astra.ErrPartial) {
		fmt.Fprintf(os.Stderr, "some items failed: %v\n", rr.Failures)
	} else if err != nil {
		return fail("restore", err)
	}
	if _, err := vault.Check(&astra.CheckOptions{ReadData: true}); err != nil {
		return fail("check", err)
	}
	fmt.Printf("restored into %s; vault verified\n", target)
	return 0
}

func fail(what string, err error) int {
	var ae *astra.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(os.Stderr, "\n%s: %s (%s)\n", what, ae.Message, ae.Code)
	} else {
		fmt.Fprintf(os.Stderr, "\n%s: %v\n", what, err)
	}
	return 1
}
