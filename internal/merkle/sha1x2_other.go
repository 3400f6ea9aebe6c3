//go:build !amd64 || purego

package merkle

// haveSHA1x2 is false: without the x86 SHA extensions two interleaved
// messages gain nothing over crypto/sha1.
const haveSHA1x2 = false

func blockSHA1x2(h *[10]uint32, a, b *byte, nblocks int) {
	panic("merkle: blockSHA1x2 without the SHA extensions")
}
