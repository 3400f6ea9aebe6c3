package ppsp_test

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/swarmgate/swarmgate/internal/ppsp"
)

// A responder's handshake reply to libswift, carrying HAVEs, as in the
// captures.
func ExampleAppendHandshake() {
	b := ppsp.AppendHeader(nil, 0xb2eca27f) // the initiator's channel
	b, err := ppsp.AppendHandshake(b, 0xb2dd52c3, ppsp.LibswiftOptions(nil, ppsp.MHFSHA1))
	if err != nil {
		panic(err)
	}
	for _, s := range []ppsp.Spec{{Start: 0, End: 15}, {Start: 16, End: 23}, {Start: 24, End: 25}} {
		if b, err = ppsp.AppendHave(b, ppsp.Context{}, s); err != nil {
			panic(err)
		}
	}
	fmt.Println(hex.EncodeToString(b))
	// Output: b2eca27f00b2dd52c300010101030104000602ff03000000000000000f030000001000000017030000001800000019
}

// Decoding datagrams in a receive loop without allocating.
func ExampleParse() {
	datagrams := []string{
		"b2dd52c3030000000000000000020000000000000000000000000000002108000000040000000" + "7ff", // unknown type 0xff
		"b2dd52c3030000000000000000020000000000000000000000000000002108000000040000000" + "7",
		"00000000047fffffffc89800bfc82ed01ed6e3bfd5408c51274491f7d400c3abfb5b",
		"b2eca27f",
	}
	msgs := make([]ppsp.Message, 0, 32) // reused for every datagram
	for _, h := range datagrams {
		dg, _ := hex.DecodeString(h)
		ch, out, err := ppsp.Parse(ppsp.Context{}, dg, msgs[:0])
		msgs = out
		switch {
		case errors.Is(err, ppsp.ErrLegacyHandshake):
			fmt.Println("ignoring legacy swift handshake")
			continue
		case err != nil:
			fmt.Println("discard:", err)
			continue
		case len(msgs) == 0:
			fmt.Printf("keep-alive on %08x\n", ch)
		}
		for i := range msgs {
			fmt.Printf("%08x %v\n", ch, &msgs[i])
		}
	}
	// Output:
	// discard: ppsp: unknown message type (message 3 MsgType(255) at offset 39)
	// b2dd52c3 HAVE [0,0]
	// b2dd52c3 ACK [0,0] owd_sample=33
	// b2dd52c3 REQUEST [4,7]
	// ignoring legacy swift handshake
	// keep-alive on b2eca27f
}
