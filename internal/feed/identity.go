package feed

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// UID identifies a publisher: its ed25519 public key (Litter §3.1 uid).
type UID [ed25519.PublicKeySize]byte

// uidEncoding is RFC 4648 base32, lowercase, no padding: URL- and
// filename-safe, no 0/1/8/9 to confuse with O/l/B/g.
var uidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// uidCheckLen is the checksum appended to the key in a uid's text form.
const uidCheckLen = 3

func uidCheck(k []byte) []byte {
	h := sha256.Sum256(append([]byte("swarmgate-uid\x00"), k...))
	return h[:uidCheckLen]
}

// String is the uid's human-checkable form: base32 of the key followed by a
// 3-byte checksum (56 characters); ParseUID rejects a mistyped uid.
func (u UID) String() string {
	return uidEncoding.EncodeToString(append(u[:], uidCheck(u[:])...))
}

// Fingerprint is a short form for UIs: the first 48 bits of SHA-256 of the
// key as three groups of hex ("3f2a-91c0-7be4"). It identifies, it does not
// authenticate: compare the full uid before trusting.
func (u UID) Fingerprint() string {
	h := sha256.Sum256(u[:])
	s := hex.EncodeToString(h[:6])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12]
}

// IsZero reports whether u is unset.
func (u UID) IsZero() bool { return u == UID{} }

// MarshalText implements encoding.TextMarshaler.
func (u UID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UID) UnmarshalText(b []byte) error {
	v, err := ParseUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// ErrBadUID is returned for a uid that does not parse or fails its checksum.
var ErrBadUID = errors.New("feed: malformed uid")

// ParseUID parses String's form (case-insensitive, surrounding space
// ignored).
func ParseUID(s string) (UID, error) {
	var u UID
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 56 {
		return u, fmt.Errorf("%w: %d characters, want 56", ErrBadUID, len(s))
	}
	b, err := uidEncoding.DecodeString(s)
	if err != nil || len(b) != len(u)+uidCheckLen {
		return u, fmt.Errorf("%w: not base32", ErrBadUID)
	}
	copy(u[:], b)
	if string(uidCheck(u[:])) != string(b[len(u):]) {
		return UID{}, fmt.Errorf("%w: checksum mismatch (mistyped?)", ErrBadUID)
	}
	return u, nil
}

// Identity is a publisher's key pair.
type Identity struct {
	priv ed25519.PrivateKey
}

// NewIdentity makes a key pair from rand (crypto/rand when nil).
func NewIdentity(r io.Reader) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, err
	}
	return &Identity{priv: priv}, nil
}

// IdentityFromSeed makes the key pair of an RFC 8032 32-byte seed.
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("feed: key seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// UID is the identity's public key.
func (id *Identity) UID() UID {
	var u UID
	copy(u[:], id.priv.Public().(ed25519.PublicKey))
	return u
}

// Sign signs msg with the private key.
func (id *Identity) Sign(msg []byte) []byte { return ed25519.Sign(id.priv, msg) }

// Seed is the private key's seed (keep it secret).
func (id *Identity) Seed() []byte { return id.priv.Seed() }

// keyFileHeader starts a key file; the seed follows in hex.
const keyFileHeader = "swarmgate feed key v1"

// LoadOrCreateKey reads the identity in path, or creates a new one there
// (mode 0600, parent directories 0700) when the file does not exist. A key
// file that others can read is refused, as ssh does.
func LoadOrCreateKey(path string) (*Identity, bool, error) {
	id, err := LoadKey(path)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	id, err = NewIdentity(nil)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	_, err = fmt.Fprintf(f, "%s\n%s\n# uid %s\n", keyFileHeader, hex.EncodeToString(id.Seed()), id.UID())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, err
	}
	return id, true, nil
}

// LoadKey reads an identity written by LoadOrCreateKey.
func LoadKey(path string) (*Identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("feed: key file %s has mode %v: others can read it (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != keyFileHeader {
		return nil, fmt.Errorf("feed: %s is not a swarmgate feed key file", path)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(lines[1]))
	if err != nil {
		return nil, fmt.Errorf("feed: key file %s: %v", path, err)
	}
	return IdentityFromSeed(seed)
}
