package feed

import (
	"bytes"
	"testing"
)

// Every decoder of hostile input has a fuzz target (seed corpora in
// testdata/fuzz): no panic, bounded work, and what decodes re-encodes to
// the same bytes.

func FuzzParsePost(f *testing.F) {
	_, raw := goldenPost(f)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePost(b, Limits{MaxText: 2048})
		if err != nil {
			return
		}
		re, err := p.Marshal()
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("accepted a non-canonical encoding: %v", err)
		}
	})
}

func FuzzParseFollowRequest(f *testing.F) {
	r := FollowRequest{Publisher: testIdentity(f, 2).UID(), URL: "http://127.0.0.1:8080"}
	r.Time = goldenTime
	raw, _ := r.Sign(testIdentity(f, 1))
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseFollowRequest(b)
		if err != nil {
			return
		}
		re, err := r.Marshal()
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	_, raw := goldenPost(f)
	f.Add(AppendBatch(AppendBatch(nil, raw), raw[:10]))
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := ParseBatch(b, 100)
		if err != nil {
			return
		}
		var re []byte
		for _, r := range raws {
			re = AppendBatch(re, r)
		}
		if !bytes.Equal(re, b) {
			t.Fatal("re-framing differs")
		}
	})
}

func FuzzParsePullRequest(f *testing.F) {
	f.Add([]byte(`{"want":[{"uid":"` + testIdentity(f, 1).UID().String() + `","after":3,"seqs":[1,2]}],"from":1,"to":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParsePullRequest(b)
		if err != nil {
			return
		}
		if len(r.Want) > MaxPullUIDs || r.From < 0 {
			t.Fatal("limits not applied")
		}
	})
}

func FuzzHeadValue(f *testing.F) {
	v, _ := encodeHeadValue([]string{"http://127.0.0.1:1", "https://gw.example"})
	f.Add(v)
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := decodeHeadValue(b)
		if err != nil {
			return
		}
		re, err := encodeHeadValue(nodes)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzParseUID(f *testing.F) {
	f.Add(testIdentity(f, 1).UID().String())
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUID(s)
		if err != nil {
			return
		}
		if v, err := ParseUID(u.String()); err != nil || v != u {
			t.Fatal("round trip")
		}
	})
}
