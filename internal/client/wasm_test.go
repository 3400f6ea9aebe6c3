package client

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWasmBuild: the client core and what it reads through build for the
// browser (GOOS=js GOARCH=wasm), as the wasm/ package
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

// TestWasmLean: the browser client links neither net/http nor the
// template and XML packages (the feed node's server side): each of them
// costs the phone that downloads the module hundreds of KiB (with them it
// was 2.67 MB brotli instead of 1.67).
func TestWasmLean(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH")
	}
	cmd := exec.Command(gotool, "list", "-deps", "../../wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "net/http", "html/template", "text/template", "encoding/xml":
			t.Errorf("the browser client links %s", pkg)
		}
	}
}
