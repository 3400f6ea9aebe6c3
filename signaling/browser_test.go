//go:build !js

package signaling

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBrowserClient builds this package's tests for js/wasm and runs the
// Client inside Node.js with the WebSocket API browsers have, against a
// real broker on loopback: the js/wasm adapter (dial_js.go) end to end.
func TestBrowserClient(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go tool not in PATH")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not in PATH (CI installs it for the browser tests)")
	}
	wasm := filepath.Join(t.TempDir(), "signaling.test.wasm")
	build := exec.Command(gotool, "test", "-c", "-o", wasm, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=") // no -race for js
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test -c: %v\n%s", err, out)
	}

	_, url := startServer(t, Limits{}, HandlerConfig{})
	booster := dialT(t, url, ClientConfig{Role: RoleBooster})
	booster.Join(swarmA)
	recvT(t, booster, TypePeers)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	execJS := filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec_node.js")
	args := []string{"--stack-size=8192", execJS, wasm, "-test.run", "^TestJSClient$", "-test.v"}
	if probe, _ := exec.Command(node, "-e", "process.stdout.write(typeof WebSocket)").Output(); string(probe) != "function" {
		args = append([]string{"--experimental-websocket"}, args...) // Node 20-21; global from Node 22
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), "SIGNAL_URL="+url, "SIGNAL_BOOSTER="+booster.ID())
	done := make(chan struct{})
	var out []byte
	var runErr error
	go func() {
		out, runErr = cmd.CombinedOutput()
		close(done)
	}()
	offer := recvT(t, booster, TypeOffer)
	if offer.SDP != "v=0 from wasm" {
		t.Fatalf("offer from wasm: %+v", offer)
	}
	booster.Answer(offer.From, "v=0 answer to wasm")
	if m := recvT(t, booster, TypeCandidate); m.From != offer.From || *m.Candidate.SDPMid != "0" {
		t.Fatalf("candidate from wasm: %+v", m)
	}
	<-done
	if runErr != nil || !strings.Contains(string(out), "--- PASS: TestJSClient") {
		t.Fatalf("wasm client: %v\n%s", runErr, out)
	}
}
