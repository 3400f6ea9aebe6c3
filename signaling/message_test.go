package signaling

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// seeds are the example messages of docs/signaling.md plus hostile ones.
var seeds = []string{
	`{"v":1,"type":"hello","role":"peer"}`,
	`{"v":1,"type":"hello","role":"booster","id":"booster-0123456789"}`,
	`{"v":1,"type":"welcome","id":"q3F2mXb7TkWl0aP9rS1uVw","limits":{"max_message_bytes":16384,"messages_per_second":50,"max_swarms":256,"peers_per_reply":32,"idle_ms":60000}}`,
	`{"type":"join","swarm":"` + swarmA + `"}`,
	`{"type":"leave","swarm":"` + swarmA + `"}`,
	`{"type":"peers","swarm":"` + swarmA + `","peers":[{"id":"gw","role":"gateway"},{"id":"b1","role":"booster"}]}`,
	`{"type":"joined","swarm":"` + swarmA + `","peer":{"id":"b1","role":"booster"}}`,
	`{"type":"left","swarm":"` + swarmA + `","peer":{"id":"b1","role":"booster"}}`,
	`{"type":"offer","to":"b1","sdp":"v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"}`,
	`{"type":"answer","from":"b1","sdp":"v=0\r\n"}`,
	`{"type":"candidate","to":"b1","candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
	`{"type":"candidate","to":"b1","candidate":{"candidate":""}}`,
	`{"type":"ping"}`,
	`{"type":"pong"}`,
	`{"type":"error","code":"unknown-peer","message":"no such peer in your swarms","ref":"offer"}`,
	`{"type":"join","swarm":"` + strings.ToUpper(swarmA) + `"}`,
	`{"type":"join","swarm":"zz"}`,
	`{"type":"offer","to":"../../etc","sdp":"x"}`,
	`{"type":"candidate","to":"b1","candidate":{"candidate":"a\nb"}}`,
	`{"type":"hello","role":"peer","v":1}{"type":"ping"}`,
	`{"type":"ping","v":1e400}`,
	`[1,2,3]`, `null`, `"ping"`, `{}`, `{"type":null}`, "\xff\xfe", ``,
	`{"type":"peers","swarm":"` + swarmA + `","peers":[{"id":"","role":"peer"}]}`,
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// message that decodes to the same encoding (round trip).
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", enc, err)
		}
		enc2, _ := Encode(m2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed %q to %q", enc, enc2)
		}
	})
}

// FuzzSession feeds lines of the input as messages to a broker session
// (after a hello) beside a second session in the same swarm: nothing
// panics, and the session ends cleanly.
func FuzzSession(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(`{"type":"join","swarm":"` + swarmA + "\"}\n" + s))
	}
	f.Add([]byte(`{"type":"join","swarm":"` + swarmA + "\"}\n" + `{"type":"offer","to":"other-peer-000000001","sdp":"v=0"}` + "\n" + `{"type":"leave","swarm":"` + swarmA + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBroker(Config{Limits: Limits{WriteTimeout: time.Second, SendQueue: 8}})
		defer b.Close()
		oc, os := Pipe()
		go b.Serve(context.Background(), os, SessionOptions{})
		oc.WriteMessage([]byte(`{"v":1,"type":"hello","role":"peer","id":"other-peer-000000001"}`))
		oc.WriteMessage([]byte(`{"type":"join","swarm":"` + swarmA + `"}`))
		go func() { // drain the other session
			for {
				if _, err := oc.ReadMessage(); err != nil {
					return
				}
			}
		}()
		c, s := Pipe()
		done := make(chan struct{})
		go func() { b.Serve(context.Background(), s, SessionOptions{}); close(done) }()
		go func() {
			for {
				if _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.WriteMessage([]byte(`{"v":1,"type":"hello","role":"booster"}`))
		for _, line := range bytes.Split(data, []byte("\n")) {
			if c.WriteMessage(line) != nil {
				break
			}
		}
		c.Close()
		oc.Close()
		<-done
	})
}

func TestEncodeRefusesInvalid(t *testing.T) {
	for _, m := range []Message{
		{Type: TypeJoin, Swarm: "abc"},
		{Type: TypeOffer, To: "x"},
		{Type: "bogus"},
		{Type: TypeHello, Role: RolePeer},
	} {
		if _, err := Encode(m); err == nil {
			t.Errorf("Encode(%+v) succeeded", m)
		}
	}
}
