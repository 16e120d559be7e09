package astra_test

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"example.invalid/libastra/bindings/go/astra"
)

func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}

func fdCount() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}

func TestNoLeaksOverOpenCloseCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	v, url := newVault(t)
	v.Close()
	cycle := func(n int) {
		for i := 0; i < n; i++ {
			v, err := astra.OpenVault(url, &astra.VaultOptions{Password: password})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Info(); err != nil {
				t.Fatal(err)
			}
			v.Close()
			if i%10 == 0 {
				if _, err := astra.OpenVault(url, &astra.VaultOptions{Password: "wrong"}); !errors.Is(err, astra.ErrAuth) {
					t.Fatal(err)
				}
				c, _ := astra.NewCancel()
				c.Close()
			}
		}
		runtime.GC()
	}
	cycle(50)
	fds, before := fdCount(), rssKiB()
	cycle(300)
	after := rssKiB()
	if fdCount() != fds {
		t.Fatalf("fds %d -> %d", fds, fdCount())
	}
	if after-before > 8*1024 {
		t.Fatalf("RSS grew %d KiB", after-before)
	}
}

func TestFinalizerClosesForgottenVaults(t *testing.T) {
	_, url := newVault(t)
	for i := 0; i < 20; i++ {
		if _, err := astra.OpenVault(url, &astra.VaultOptions{Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
}
