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
	// A leak grows RSS in every round. Without one, RSS still jumps
	// now and then while the Go runtime adds threads (each gets its own
	// malloc arena when it calls into C) and grows its heap, then stays
	// flat. So one round with little growth clears the handles.
	cycle(50)
	fds := fdCount()
	const rounds, limit = 5, 4 * 1024
	grew := make([]int, 0, rounds)
	for r := 0; r < rounds; r++ {
		before := rssKiB()
		cycle(300)
		d := rssKiB() - before
		grew = append(grew, d)
		if d < limit {
			break
		}
	}
	if fdCount() != fds {
		t.Fatalf("fds %d -> %d", fds, fdCount())
	}
	if last := grew[len(grew)-1]; last >= limit {
		t.Fatalf("RSS grew in each of %d rounds of 300 open/close cycles (KiB: %v)", rounds, grew)
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
