package astra_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"example.invalid/libastra/bindings/go/astra"
)

const (
	password = "correct horse battery staple"
	fastKDF  = 10 // scrypt log2(N): keeps init/open fast in tests
)

var (
	dataDir string // a small tree
	bigDir  string // 192 MiB of incompressible data (long enough for rate-limited progress reports to come midway)
)

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "astra-go-test")
	if err != nil {
		panic(err)
	}
	dataDir = filepath.Join(root, "data")
	bigDir = filepath.Join(root, "big")
	mustWrite := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			panic(err)
		}
	}
	blob := make([]byte, 300_000)
	_, _ = rand.Read(blob)
	readme := []byte{}
	for i := 0; i < 100; i++ {
		readme = append(readme, "hello astra\n"...)
	}
	mustWrite(filepath.Join(dataDir, "docs", "readme.txt"), readme)
	mustWrite(filepath.Join(dataDir, "docs", "deep", "er", "blob.bin"), blob)
	mustWrite(filepath.Join(dataDir, "empty"), nil)
	mustWrite(filepath.Join(dataDir, "zeros"), make([]byte, 2_000_000))
	if err := os.Symlink("docs/readme.txt", filepath.Join(dataDir, "link")); err != nil {
		panic(err)
	}
	for i := 0; i < 48; i++ {
		b := make([]byte, 4<<20)
		_, _ = rand.Read(b)
		mustWrite(filepath.Join(bigDir, fmt.Sprintf("f%02d", i)), b)
	}
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// newVault creates a vault in a temporary directory, closed at cleanup.
func newVault(t *testing.T) (*astra.Vault, string) {
	t.Helper()
	url := "file://" + filepath.Join(t.TempDir(), "vault")
	v, err := astra.InitVault(url, &astra.VaultOptions{Password: password, KDFLog2N: fastKDF})
	if err != nil {
		t.Fatalf("InitVault: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v, url
}

// treeDigest maps each relative path to its content hash, "dir" or the
// symlink target.
func treeDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link:" + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = hex.EncodeToString(sum[:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, a, b string) {
	t.Helper()
	da, db := treeDigest(t, a), treeDigest(t, b)
	if len(da) != len(db) {
		t.Fatalf("trees differ: %v vs %v", da, db)
	}
	for k, v := range da {
		if db[k] != v {
			t.Fatalf("trees differ at %s: %q vs %q", k, v, db[k])
		}
	}
}

func snapshotCount(t *testing.T, v *astra.Vault) int {
	t.Helper()
	s, err := v.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	return len(s)
}
