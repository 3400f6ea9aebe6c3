package rtc

import (
	"os"
	"os/exec"
	"testing"
)

// TestWasmBuild: the transport builds for the browser (GOOS=js
// GOARCH=wasm, over the browser's RTCPeerConnection) from the same code.
func TestWasmBuild(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH")
	}
	cmd := exec.Command(gotool, "vet", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go vet: %v\n%s", err, out)
	}
}
