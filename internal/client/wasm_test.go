package client

import (
	"os"
	"os/exec"
	"testing"
)

// TestWasmBuild: the client core and what it reads through build for the
// browser (GOOS=js GOARCH=wasm, pion's js build), as the wasm/ package
// needs them.
func TestWasmBuild(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH")
	}
	cmd := exec.Command(gotool, "build", ".", "../stream", "../rtc", "../../signaling")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}
