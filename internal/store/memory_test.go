package store_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/swarmgate/swarmgate/internal/store"
	"github.com/swarmgate/swarmgate/internal/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, storetest.Config{
		Open: func(t *testing.T, dir string) store.Store { return store.NewMemory() },
	})
}

// TestWasmBuild checks that the interface and the memory store build for
// js/wasm, i.e. stay cgo-free.
func TestWasmBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	cmd := exec.Command(goBin, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}
