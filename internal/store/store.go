package store

import (
	"errors"
	"fmt"
	"math/bits"
)

// Info describes one swarm's content.
type Info struct {
	SwarmID   []byte // root hash (20 bytes SHA-1, 32 SHA-256)
	HashFunc  uint8  // RFC 7574 Merkle hash function code: 0 SHA-1, 2 SHA-256
	ChunkSize uint32 // bytes, power of two 1 KiB..1 MiB
	Length    int64  // content length in bytes; -1 while unknown (a leecher learns it from the peak hashes)
	Path      string // content file (plain file; the engine reads/writes chunks at offset i*ChunkSize)
	Name      string // display name (may be empty)
}

// Range is an end-inclusive range of chunk indices.
type Range struct{ Start, End uint64 }

// Errors. Methods wrap them with context; test with errors.Is.
var (
	ErrNotVerified   = errors.New("store: chunk not verified")
	ErrNotFound      = errors.New("store: not found")
	ErrClosed        = errors.New("store: closed")
	ErrOutOfRange    = errors.New("store: index out of range")
	ErrSize          = errors.New("store: wrong size")
	ErrInvalidInfo   = errors.New("store: invalid swarm info")
	ErrLengthUnknown = errors.New("store: content length unknown")
	ErrLengthChange  = errors.New("store: length change would alter a verified chunk")
)

// Store holds the state of many swarms. Implementations are safe for
// concurrent use.
type Store interface {
	// Open returns the swarm with info.SwarmID, creating its state if it is new. When state exists, the stored
	// Info wins over the argument except that an unknown Length (-1) may be filled in later via SetLength.
	// (If the stored Length is unknown and info.Length is known, Open adopts it as SetLength would.)
	//
	// A swarm may be open through several handles at once; they share one state, and each must be closed.
	Open(info Info) (Swarm, error)
	Get(swarmID []byte) (Info, error) // ErrNotFound
	List() ([]Info, error)            // in creation order
	// Remove forgets the swarm's state; it does not delete the content file. Open handles of the swarm
	// fail with ErrClosed afterwards. ErrNotFound if there is no such swarm.
	Remove(swarmID []byte) error
	Close() error
}

// Swarm is one swarm's content and verification state. Methods are safe for
// concurrent use. After Close every method fails with ErrClosed (Have is
// false, NumVerified 0).
//
// Read content through ReadChunk: an implementation may hold freshly
// written chunks in memory for up to one checkpoint before they reach
// Info.Path (sqlitestore does so for small chunks). The content file holds
// every verified chunk after Flush or Close, and as soon as the last chunk
// of the content is written.
type Swarm interface {
	Info() Info
	// SetLength sets the content length. A known length may change only in a way that alters no verified
	// chunk (e.g. from NumChunks*ChunkSize, learnt from the peaks, to the exact length when the short last
	// chunk arrives); otherwise ErrLengthChange.
	SetLength(n int64) error
	NumVerified() uint64                           // verified chunks
	Have(chunk uint64) bool                        // verified?
	Verified() []Range                             // verified chunks as sorted, coalesced, end-inclusive chunk ranges [{Start,End}]
	ReadChunk(chunk uint64, p []byte) (int, error) // ErrNotVerified unless the chunk was verified; n may be < ChunkSize for the last chunk
	// WriteChunk stores a chunk the caller has verified against the tree and marks it verified, readable at
	// once. len(p) must be Info.ChunkLen(chunk) (ErrSize); ErrLengthUnknown while Length is -1. Writing a
	// chunk that is already verified is a no-op.
	WriteChunk(chunk uint64, p []byte) error
	// PutHash stores a verified Merkle-tree node hash (RFC 7574 bin numbering: leaf i = bin 2i). len(hash) must
	// be HashSize(Info.HashFunc) (ErrSize) and bin inside the tree (Info.ValidBin, else ErrOutOfRange). A bin
	// already stored keeps its hash.
	PutHash(bin uint64, hash []byte) error
	// PutHashes stores len(bins) hashes at once; hashes holds them back to back (len(bins)*HashSize bytes).
	// It validates all before storing any.
	PutHashes(bins []uint64, hashes []byte) error
	// Hash returns the stored hash of bin, or ErrNotFound.
	Hash(bin uint64) ([]byte, error)
	// Hashes calls fn with every stored node hash, in ascending bin order, outside any lock. fn may keep hash.
	Hashes(fn func(bin uint64, hash []byte)) error
	Flush() error // makes everything written so far durable (content fdatasync before state commit)
	Close() error // flushes
}

// HashReader is implemented by swarms whose tree hashes live in a file the
// engine should read on demand (through a bounded cache, merkle.NodeStore)
// rather than load whole: sqlitestore; a browser backend over OPFS later.
type HashReader interface {
	// ReadHashes fills dst with len(dst)/HashSize hashes of bins first,
	// first+1, …, and sets bit k of known for each stored bin first+k
	// (other bits are cleared, their bytes unspecified). len(known) must be
	// at least (len(dst)/HashSize+63)/64.
	ReadHashes(first uint64, dst []byte, known []uint64) error
}

// HashSize returns the digest size of an RFC 7574 §7.1 Merkle hash function
// code (0 SHA-1, 1 SHA-224, 2 SHA-256, 3 SHA-384, 4 SHA-512), or 0 if unknown.
func HashSize(hashFunc uint8) int {
	switch hashFunc {
	case 0:
		return 20
	case 1:
		return 28
	case 2:
		return 32
	case 3:
		return 48
	case 4:
		return 64
	}
	return 0
}

// Chunk-size bounds.
const (
	MinChunkSize = 1 << 10
	MaxChunkSize = 1 << 20
)

// maxUnknownBin bounds bins stored while the length is unknown: the tree of
// 2^33 chunks.
const maxUnknownBin = 1<<34 - 2

// Validate checks the fields a new swarm needs: a known hash function, a
// SwarmID of its digest size, a chunk size that is a power of two in
// [MinChunkSize, MaxChunkSize], and a length >= -1.
func (i Info) Validate() error {
	hs := HashSize(i.HashFunc)
	switch {
	case hs == 0:
		return fmt.Errorf("%w: hash function %d", ErrInvalidInfo, i.HashFunc)
	case len(i.SwarmID) != hs:
		return fmt.Errorf("%w: swarm ID of %d bytes, want %d", ErrInvalidInfo, len(i.SwarmID), hs)
	case i.ChunkSize < MinChunkSize || i.ChunkSize > MaxChunkSize || i.ChunkSize&(i.ChunkSize-1) != 0:
		return fmt.Errorf("%w: chunk size %d", ErrInvalidInfo, i.ChunkSize)
	case i.Length < -1:
		return fmt.Errorf("%w: length %d", ErrInvalidInfo, i.Length)
	}
	return nil
}

// NumChunks returns the number of chunks, or -1 while the length is unknown.
func (i Info) NumChunks() int64 {
	if i.Length < 0 || i.ChunkSize == 0 {
		return -1
	}
	cs := int64(i.ChunkSize)
	return (i.Length + cs - 1) / cs
}

// ChunkLen returns the size of chunk c: ChunkSize, less for the last chunk,
// 0 if c is out of range or the length is unknown.
func (i Info) ChunkLen(c uint64) int {
	n := i.NumChunks()
	if n < 0 || c >= uint64(n) {
		return 0
	}
	return int(min(int64(i.ChunkSize), i.Length-int64(c)*int64(i.ChunkSize)))
}

// ValidBin reports whether bin is a node of the content's hash tree: the
// smallest complete binary tree over NumChunks leaves (RFC 7574 §5.1), bins
// 0..2*2^k-2. While the length is unknown it allows the tree of 2^33 chunks.
func (i Info) ValidBin(bin uint64) bool {
	n := i.NumChunks()
	if n < 0 {
		return bin <= maxUnknownBin
	}
	p := uint64(1)
	if n > 1 {
		p = 1 << bits.Len64(uint64(n-1))
	}
	return bin <= 2*p-2
}

// Clone returns a copy of i that shares no memory with it.
func (i Info) Clone() Info {
	i.SwarmID = append([]byte(nil), i.SwarmID...)
	return i
}

// ShortID returns the first 8 hex digits of a swarm ID, for messages.
func ShortID(id []byte) string {
	if len(id) > 4 {
		id = id[:4]
	}
	return fmt.Sprintf("%x", id)
}

// CheckLengthChange returns ErrLengthChange if changing the length from old
// (>= 0, or -1 for unknown) to n would change the extent of a verified chunk;
// anyFrom reports whether any chunk >= its argument is verified.
func CheckLengthChange(old, n int64, chunkSize uint32, anyFrom func(chunk uint64) bool) error {
	if n < 0 {
		return fmt.Errorf("%w: length %d", ErrInvalidInfo, n)
	}
	if old < 0 || old == n {
		return nil
	}
	if anyFrom(uint64(min(old, n)) / uint64(chunkSize)) {
		return fmt.Errorf("%w: %d to %d", ErrLengthChange, old, n)
	}
	return nil
}
