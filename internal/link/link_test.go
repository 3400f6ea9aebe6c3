package link

import (
	"errors"
	"testing"
)

const root = "c89800bfc82ed01ed6e3bfd5408c51274491f7d4"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Link
	}{
		{root, Link{ChunkSize: 1024, Length: -1}},
		{"https://gw.example/" + root + "?cs=2048&cl=26121", Link{ChunkSize: 2048, Length: 26121, Gateway: "gw.example"}},
		{"https://gw.example:8443/" + root, Link{ChunkSize: 1024, Length: -1, Gateway: "gw.example:8443"}},
		{"ppsp://" + root, Link{ChunkSize: 1024, Length: -1}},
		{"ppsp://127.0.0.1:20000/" + root, Link{ChunkSize: 1024, Length: -1, Peer: "127.0.0.1:20000"}},
		{"tswift://127.0.0.1:20000/" + root + "$2048", Link{ChunkSize: 2048, Length: -1, Peer: "127.0.0.1:20000"}},
		{"tswift://127.0.0.1:20000/" + root + "$1024@120", Link{ChunkSize: 1024, Length: -1, Peer: "127.0.0.1:20000"}},
		{"tswift://127.0.0.1:20000/" + root + "/m74.jpg?cs=1024&cl=26121&mt=image/jpeg", Link{ChunkSize: 1024, Length: 26121, Peer: "127.0.0.1:20000", Name: "m74.jpg", MIME: "image/jpeg"}},
		{"tswift://[::1]:20000/" + root, Link{ChunkSize: 1024, Length: -1, Peer: "[::1]:20000"}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if hexRoot(got) != root || got.ChunkSize != tc.want.ChunkSize || got.Length != tc.want.Length || got.Peer != tc.want.Peer ||
			got.Gateway != tc.want.Gateway || got.Name != tc.want.Name || got.MIME != tc.want.MIME || got.HashFunc != 0 {
			t.Errorf("%s: got %+v", tc.in, got)
		}
	}
}

func hexRoot(l Link) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 40)
	for _, c := range l.Root {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", "xyz", root[:39], root + "00", "ftp://h/" + root, "https:///" + root,
		"https://gw/" + root + "?cs=1000", "https://gw/" + root + "?cs=0", "https://gw/" + root + "?cl=-5",
		"https://gw/" + root + "?hf=2", "tswift://127.0.0.1/" + root, "tswift://h:99999/" + root,
		"ppsp://h:1/zz", "https://gw/" + root + "?n=a/b",
	} {
		if _, err := Parse(in); !errors.Is(err, ErrBadLink) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	l, _ := Parse(root)
	l.ChunkSize, l.Length, l.Name = 8192, 12345, "video.mp4"
	for _, s := range []string{l.HTTPS("gw.example"), l.TSwift("127.0.0.1:1"), l.PPSP()} {
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got.ChunkSize != 8192 || got.Length != 12345 || got.Name != "video.mp4" || hexRoot(got) != root {
			t.Errorf("%s: %+v", s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(root)
	f.Add("https://gw.example/" + root + "?cs=2048&cl=26121")
	f.Add("tswift://127.0.0.1:20000/" + root + "$1024@120")
	f.Add("ppsp://127.0.0.1:20000/" + root)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		// A parsed link formats to one that parses to the same content.
		for _, out := range []string{l.HTTPS("gw"), l.PPSP()} {
			m, err := Parse(out)
			if err != nil {
				t.Fatalf("%q -> %q: %v", s, out, err)
			}
			if string(m.Root) != string(l.Root) || m.ChunkSize != l.ChunkSize || m.Length != l.Length || m.HashFunc != l.HashFunc {
				t.Fatalf("%q -> %q: %+v vs %+v", s, out, m, l)
			}
		}
	})
}
