//go:build !js

package feed

import (
	"bytes"
	"testing"
)

func TestOPML(t *testing.T) {
	a, b := testIdentity(t, 1).UID(), testIdentity(t, 2).UID()
	fs := []Follow{{UID: a, Name: "Adam", Nodes: []string{"http://127.0.0.1:9"}}, {UID: b}}
	var buf bytes.Buffer
	if err := WriteOPML(&buf, "t", fs); err != nil {
		t.Fatal(err)
	}
	got, err := ParseOPML(buf.Bytes())
	if err != nil || len(got) != 2 || got[0].UID != a || got[0].Nodes[0] != "http://127.0.0.1:9" || got[0].Name != "Adam" {
		t.Fatalf("%+v %v\n%s", got, err, buf.String())
	}
	// A plain reader's OPML with a swarmgate Atom URL.
	doc := `<opml version="2.0"><head/><body><outline text="x"><outline text="y" xmlUrl="https://gw.example/u/` + b.String() + `.atom"/></outline><outline text="other" xmlUrl="https://blog.example/feed"/></body></opml>`
	got, err = ParseOPML([]byte(doc))
	if err != nil || len(got) != 1 || got[0].UID != b || got[0].Nodes[0] != "https://gw.example" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseOPML([]byte("<opml><body><outline")); err == nil {
		t.Fatal("truncated OPML accepted")
	}
}

func FuzzParseOPML(f *testing.F) {
	var buf bytes.Buffer
	WriteOPML(&buf, "t", []Follow{{UID: testIdentity(f, 1).UID(), Name: "a", Nodes: []string{"http://127.0.0.1:1"}}})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := ParseOPML(b)
		if err != nil {
			return
		}
		for _, x := range fs {
			if len(x.Nodes) > MaxHeadNodes {
				t.Fatal("too many nodes")
			}
			for _, n := range x.Nodes {
				if checkNodeURL(n) != nil {
					t.Fatalf("bad node %q kept", n)
				}
			}
		}
	})
}
