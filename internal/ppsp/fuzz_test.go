package ppsp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// fuzzContext maps fuzz arguments to a Context covering every CAM, hash
// size and both DATA framings.
func fuzzContext(cam, mhf uint8, chunkSize uint16) Context {
	c, _ := CAMFromCode(cam % 5)
	hs, _ := HashSize(mhf % 5)
	return Context{CAM: c, HashSize: hs, SigSize: int(mhf/5) % 130, ChunkSize: int(chunkSize)}
}

// FuzzParse: Parse never panics, and whatever it accepts re-encodes to the
// same bytes, which parse to the same messages.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint8(2), uint8(0), uint16(0))
	f.Add([]byte("\x00\x00\x00\x00\x04\x7f\xff\xff\xff"), uint8(2), uint8(0), uint16(0))
	// Handshake with every option, switching to CAM 4 and SHA-256, then
	// HAVE and INTEGRITY in that context.
	f.Add([]byte("\x00\x00\x00\x00\x00\x9a\xbc\xde\xf0\x00\x01\x01\x01\x02\x00\x03\x0d\x01\x02"+
		"\x03\x03\x04\x02\x05\x0d\x06\x04\x07\x00\x00\x00\x00\x00\x00\x04\x00\x08\x02\xd9\xf0\x09\x00\x00\x04\x00\xff"+
		"\x03\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x07"+
		"\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"+
		"0123456789abcdef0123456789abcdef"), uint8(2), uint8(0), uint16(0))
	// CAM 0 bins: HAVE bin 39, HAVE empty, REQUEST all.
	f.Add([]byte("\x00\x00\x00\x01\x03\x00\x00\x00\x27\x03\xff\xff\xff\xff\x08\x7f\xff\xff\xff"), uint8(0), uint8(0), uint16(0))
	// Two DATA with a fixed chunk size of 4, PEX messages.
	f.Add([]byte("\x00\x00\x00\x01\x05\x7f\x00\x00\x01\x4e\x20\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"+
		"\x0d\x00\x01\x30\x0a\x0b\x06"+
		"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01abcd"+
		"\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02ef"), uint8(2), uint8(0), uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, cam, mhf uint8, chunkSize uint16) {
		ctx := fuzzContext(cam, mhf, chunkSize)
		ch, msgs, err := Parse(ctx, data, nil)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Err == nil {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if len(msgs) != 0 {
				t.Fatalf("%d messages returned with error", len(msgs))
			}
			return
		}
		enc, err := AppendDatagram(nil, ctx, ch, msgs)
		if err != nil {
			t.Fatalf("re-encode %v: %v", msgs, err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded bytes differ\n got %x\nwant %x", enc, data)
		}
		ch2, msgs2, err := Parse(ctx, enc, nil)
		if err != nil || ch2 != ch || !reflect.DeepEqual(msgs, msgs2) {
			t.Fatalf("second parse: %v %v %v", ch2, msgs2, err)
		}
	})
}

// FuzzOptions: handshake option lists decode strictly, and what decodes
// re-encodes to the same bytes.
func FuzzOptions(f *testing.F) {
	f.Add([]byte("\x00\x01\x01\x01\x02\x00\x14\xc8\x98\x00\xbf\xc8\x2e\xd0\x1e\xd6\xe3\xbf\xd5\x40\x8c\x51\x27\x44\x91\xf7\xd4\x03\x01\x04\x00\x06\x02\xff"))
	f.Add([]byte("\x00\x01\x01\x01\x03\x01\x04\x00\x06\x02\xff"))
	f.Add([]byte("\xff"))
	f.Add([]byte("\x00\x01\x03\x03\x05\x0d\x06\x04\x07\x00\x00\x00\x00\x00\x00\x01\x00\x08\x02\xd9\xf0\x09\x00\x00\x04\x00\xff"))
	f.Add([]byte("\x06\x02\x07\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var o Options
		n, err := decodeOptions(data, &o)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
		if err != nil {
			return
		}
		enc, err := AppendHandshake(nil, 7, o)
		if err != nil {
			t.Fatalf("encode %+v: %v", o, err)
		}
		if !bytes.Equal(enc[5:], data[:n]) {
			t.Fatalf("re-encoded options differ\n got %x\nwant %x", enc[5:], data[:n])
		}
		if _, err := (Context{}).Apply(&o); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		_ = o.AppendText(nil)
	})
}
