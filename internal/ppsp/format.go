package ppsp

import (
	"encoding/hex"
	"strconv"
)

// String formats m in the one-line form used by the capture decodes in
// testdata/*.decoded.txt, e.g. "HAVE [0,15]", "ACK [0,0] owd_sample=33",
// "INTEGRITY [0,15] 6870…", "DATA [0,0] ts=1795346576221840 len=1024",
// "HANDSHAKE src_channel=0xb2eca27f opts: version=1, …, end". It is meant
// for logs and tests, not for the hot path.
func (m *Message) String() string { return string(m.AppendText(nil)) }

// AppendText appends the String form of m to b.
func (m *Message) AppendText(b []byte) []byte {
	b = append(b, m.Type.String()...)
	if m.Type.HasSpec() {
		b = append(b, ' ')
		b = appendSpecText(b, m.Spec)
	}
	switch m.Type {
	case MsgHandshake:
		b = append(b, " src_channel=0x"...)
		b = appendHex32(b, m.SrcChannel)
		b = append(b, " opts: "...)
		b = m.Options.AppendText(b)
	case MsgData:
		b = append(b, " ts="...)
		b = strconv.AppendUint(b, m.Timestamp, 10)
		b = append(b, " len="...)
		b = strconv.AppendInt(b, int64(len(m.Payload)), 10)
	case MsgAck:
		b = append(b, " owd_sample="...)
		b = strconv.AppendUint(b, m.Delay, 10)
	case MsgIntegrity:
		b = append(b, ' ')
		b = hex.AppendEncode(b, m.Hash)
	case MsgSignedIntegrity:
		b = append(b, " ts="...)
		b = strconv.AppendUint(b, m.Timestamp, 10)
		b = append(b, " sig="...)
		b = hex.AppendEncode(b, m.Signature)
	case MsgPexResV4, MsgPexResV6:
		b = append(b, ' ')
		b = m.Addr.AppendTo(b)
	case MsgPexResCert:
		b = append(b, " len="...)
		b = strconv.AppendInt(b, int64(len(m.Payload)), 10)
		b = append(b, ' ')
		b = hex.AppendEncode(b, m.Payload)
	}
	return b
}

// AppendText appends the options in the capture-decode form, e.g.
// "version=1, min_version=1, swarm_id(len=20)=c898…, cipm=1,
// merkle_hash_func=0, chunk_addr_method=2, end". Values are wire codes.
func (o *Options) AppendText(b []byte) []byte {
	u := func(name string, v uint64) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, ", "...)
	}
	blob := func(name string, v []byte) {
		b = append(b, name...)
		b = append(b, "(len="...)
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ")="...)
		b = hex.AppendEncode(b, v)
		b = append(b, ", "...)
	}
	if o.Has(OptVersion) {
		u("version", uint64(o.Version))
	}
	if o.Has(OptMinVersion) {
		u("min_version", uint64(o.MinVersion))
	}
	if o.Has(OptSwarmID) {
		blob("swarm_id", o.SwarmID)
	}
	if o.Has(OptCIPM) {
		u("cipm", uint64(o.CIPM))
	}
	if o.Has(OptMHF) {
		u("merkle_hash_func", uint64(o.MHF))
	}
	if o.Has(OptLSA) {
		u("live_sig_alg", uint64(o.LSA))
	}
	if o.Has(OptCAM) {
		u("chunk_addr_method", uint64(o.CAM.Code()))
	}
	if o.Has(OptLiveDiscardWindow) {
		u("live_discard_window", o.LiveDiscardWindow)
	}
	if o.Has(OptSupportedMessages) {
		blob("supported_msgs", o.SupportedMessages)
	}
	if o.Has(OptChunkSize) {
		u("chunk_size", uint64(o.ChunkSize))
	}
	return append(b, "end"...)
}

func appendSpecText(b []byte, s Spec) []byte {
	if s.IsEmpty() {
		return append(b, "[empty]"...)
	}
	b = append(b, '[')
	b = strconv.AppendUint(b, s.Start, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, s.End, 10)
	return append(b, ']')
}

func appendHex32(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for i := 28; i >= 0; i -= 4 {
		b = append(b, digits[(v>>uint(i))&0xf])
	}
	return b
}
