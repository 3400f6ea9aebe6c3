package ppsp

import (
	goparser "go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the codec free of I/O: non-test files may import
// only these packages (and never cgo or anything under /work/shared).
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{
		"encoding/binary": true, "encoding/hex": true, "errors": true, "fmt": true,
		"math": true, "math/bits": true, "net/netip": true, "strconv": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := goparser.ParseFile(fset, f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %q: the codec must stay pure (no I/O, no cgo)", f, p)
			}
		}
	}
}

// TestWasmBuild checks that the package builds for js/wasm.
func TestWasmBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the go tool")
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	cmd := exec.Command(gotool, "build", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}
