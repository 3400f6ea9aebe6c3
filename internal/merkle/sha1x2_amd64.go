//go:build amd64 && !purego

package merkle

import "golang.org/x/sys/cpu"

//go:generate go run gen_sha1x2.go

// blockSHA1x2 runs the SHA-1 compression function over nblocks 64-byte
// blocks of a into the state h[0:5] and over as many of b into h[5:10], the
// two messages interleaved (sha1x2_amd64.s, written by gen_sha1x2.go).
//
//go:noescape
func blockSHA1x2(h *[10]uint32, a, b *byte, nblocks int)

// cpuHasSHA reports whether the CPU has the SHA extensions (CPUID leaf 7).
func cpuHasSHA() bool

// haveSHA1x2 is whether blockSHA1x2 runs on this CPU.
var haveSHA1x2 = cpuHasSHA() && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3
