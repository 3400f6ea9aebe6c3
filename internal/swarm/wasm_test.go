package swarm

import (
	"os"
	"os/exec"
	"testing"
)

// TestWasmBuild: the engine, the tree, the codec and the link parser build
// for the browser (js/wasm), without cgo.
func TestWasmBuild(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH")
	}
	cmd := exec.Command(gotool, "build", ".", "../merkle", "../ppsp", "../link", "../store")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}
