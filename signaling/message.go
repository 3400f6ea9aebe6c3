package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Version is the protocol version this package speaks (docs/signaling.md
// §Versions). It is carried in the "v" field of hello and welcome.
const Version = 1

// Message types (docs/signaling.md §Messages).
const (
	TypeHello     = "hello"     // client → broker, first message: role, optional proposed ID
	TypeWelcome   = "welcome"   // broker → client: the session's peer ID and limits
	TypeJoin      = "join"      // client → broker: join a swarm
	TypeLeave     = "leave"     // client → broker: leave a swarm
	TypePeers     = "peers"     // broker → client: peer list of a swarm (also a client request for a fresh list)
	TypeJoined    = "joined"    // broker → client: a reachable peer joined a swarm
	TypeLeft      = "left"      // broker → client: a listed peer left a swarm
	TypeOffer     = "offer"     // relayed: SDP offer, "to" when sent, "from" when delivered
	TypeAnswer    = "answer"    // relayed: SDP answer
	TypeCandidate = "candidate" // relayed: one trickled ICE candidate (empty candidate = end of candidates)
	TypePing      = "ping"      // client → broker: keeps an idle session alive
	TypePong      = "pong"      // broker → client: answer to ping
	TypeError     = "error"     // broker → client: a refused message or the reason for a close
)

// Role is what a session is in the swarm (design.md §Roles). Only the
// WebRTC-reachable roles (gateway, booster, peer) are ever listed to others.
type Role string

// Roles.
const (
	RoleLeecher Role = "leecher" // a phone watching: never listed, never offered to
	RolePeer    Role = "peer"    // a browser or desktop that uploads: listed
	RoleSource  Role = "source"  // a publisher uploading one copy: never listed, connects out
	RoleBooster Role = "booster" // a seeding daemon: listed
	RoleGateway Role = "gateway" // the gateway itself: listed first; only trusted sessions
)

// Valid reports whether r is one of the five roles.
func (r Role) Valid() bool {
	switch r {
	case RoleLeecher, RolePeer, RoleSource, RoleBooster, RoleGateway:
		return true
	}
	return false
}

// Reachable reports whether peers of this role accept WebRTC offers and
// are listed in peer lists.
func (r Role) Reachable() bool {
	return r == RolePeer || r == RoleBooster || r == RoleGateway
}

// Error codes carried in an error message's "code" (docs/signaling.md §Errors).
const (
	CodeBadMessage    = "bad-message"     // not JSON, unknown type, or a field missing or malformed
	CodeTooLarge      = "too-large"       // message over the size limit (closes)
	CodeVersion       = "version"         // unsupported protocol version (closes)
	CodeHelloFirst    = "hello-first"     // a message before hello, or a second hello (closes)
	CodeHelloTimeout  = "hello-timeout"   // no hello within the deadline (closes)
	CodeIdle          = "idle"            // nothing received within the idle timeout (closes)
	CodeBadRole       = "bad-role"        // unknown role, or gateway from an untrusted session (closes)
	CodeIDTaken       = "id-taken"        // proposed peer ID in use (closes)
	CodeNotJoined     = "not-joined"      // leave or peers for a swarm the session is not in
	CodeTooManySwarms = "too-many-swarms" // join over the swarms-per-session limit
	CodeRateLimited   = "rate-limited"    // over the messages-per-second limit; message dropped
	CodeUnknownPeer   = "unknown-peer"    // relay target absent or sharing no swarm with the sender
	CodeSelf          = "self"            // relay addressed to oneself
	CodeNotReachable  = "not-reachable"   // offer to a leecher or source
	CodeTooManyErrors = "too-many-errors" // too many refused messages (closes)
	CodeSlow          = "slow"            // the session does not read its messages (closes)
	CodeIPLimit       = "ip-limit"        // too many sessions from this address (closes)
	CodeFull          = "full"            // too many sessions in total (closes)
	CodeShutdown      = "shutdown"        // the broker is stopping (closes)
)

// PeerInfo names a listed peer.
type PeerInfo struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// Candidate is one trickled ICE candidate, the JSON form of the browser's
// RTCIceCandidateInit (and of pion's webrtc.ICECandidateInit). An empty
// Candidate string signals the end of candidates.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Welcome limits tell a client what the broker enforces.
type WelcomeLimits struct {
	MaxMessageBytes     int     `json:"max_message_bytes"`
	MessagesPerSecond   float64 `json:"messages_per_second"`
	MaxSwarmsPerSession int     `json:"max_swarms"`
	JoinsPerSecond      float64 `json:"joins_per_second"`
	PeersPerReply       int     `json:"peers_per_reply"`
	IdleMillis          int64   `json:"idle_ms"` // send something (ping) at least this often
}

// Message is every signaling message: one JSON object per WebSocket text
// message. Which fields are set depends on Type (docs/signaling.md).
// Unknown fields are ignored, so later versions may add fields.
type Message struct {
	V         int            `json:"v,omitempty"`
	Type      string         `json:"type"`
	Role      Role           `json:"role,omitempty"`      // hello
	ID        string         `json:"id,omitempty"`        // hello (proposed), welcome (assigned)
	Swarm     string         `json:"swarm,omitempty"`     // join, leave, peers, joined, left
	Peers     []PeerInfo     `json:"peers,omitempty"`     // peers
	Peer      *PeerInfo      `json:"peer,omitempty"`      // joined, left
	To        string         `json:"to,omitempty"`        // offer, answer, candidate from a client
	From      string         `json:"from,omitempty"`      // offer, answer, candidate delivered by the broker
	SDP       string         `json:"sdp,omitempty"`       // offer, answer
	Candidate *Candidate     `json:"candidate,omitempty"` // candidate
	Limits    *WelcomeLimits `json:"limits,omitempty"`    // welcome
	Code      string         `json:"code,omitempty"`      // error
	Reason    string         `json:"message,omitempty"`   // error: human-readable
	Ref       string         `json:"ref,omitempty"`       // error: type of the refused message
}

// Decoding limits that do not depend on configuration.
const (
	maxIDLen        = 64    // peer ID length
	minProposedID   = 16    // a proposed peer ID must be at least this long (unguessable)
	maxSDPLen       = 65536 // an SDP body (also bounded by the message size)
	maxCandidateLen = 1024  // one ICE candidate line
)

// ErrBadMessage is wrapped by every Decode error.
var ErrBadMessage = errors.New("signaling: bad message")

// Decode parses and validates one message from a client or from the
// broker. It never panics; any error wraps ErrBadMessage. Swarm names are
// normalized to lower case.
func Decode(data []byte) (Message, error) {
	var m Message
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if d.More() {
		return Message{}, fmt.Errorf("%w: trailing data after the object", ErrBadMessage)
	}
	if err := m.validate(); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return m, nil
}

// Encode marshals m. It fails only for messages Decode would refuse.
func Encode(m Message) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return json.Marshal(m)
}

// ListedPeers returns the peers a peers or joined message names (nil for
// any other message): what a session connects to.
func (m *Message) ListedPeers() []PeerInfo {
	switch m.Type {
	case TypePeers:
		return m.Peers
	case TypeJoined:
		if m.Peer != nil {
			return []PeerInfo{*m.Peer}
		}
	}
	return nil
}

func (m *Message) validate() error {
	switch m.Type {
	case TypeHello:
		if m.V == 0 {
			return errors.New(`hello without "v"`)
		}
		if !m.Role.Valid() {
			return fmt.Errorf("unknown role %q", m.Role)
		}
		if m.ID != "" && !validID(m.ID, minProposedID) {
			return errors.New("malformed proposed id")
		}
	case TypeWelcome:
		if !validID(m.ID, 1) {
			return errors.New("welcome without a valid id")
		}
	case TypeJoin, TypeLeave:
		return m.normSwarm()
	case TypePeers:
		if err := m.normSwarm(); err != nil {
			return err
		}
		for _, p := range m.Peers {
			if !validID(p.ID, 1) || !p.Role.Valid() {
				return errors.New("malformed peer in list")
			}
		}
	case TypeJoined, TypeLeft:
		if err := m.normSwarm(); err != nil {
			return err
		}
		if m.Peer == nil || !validID(m.Peer.ID, 1) || !m.Peer.Role.Valid() {
			return errors.New("missing or malformed peer")
		}
	case TypeOffer, TypeAnswer, TypeCandidate:
		if m.To == "" && m.From == "" {
			return errors.New(`relay without "to" or "from"`)
		}
		if (m.To != "" && !validID(m.To, 1)) || (m.From != "" && !validID(m.From, 1)) {
			return errors.New("malformed peer id")
		}
		if m.Type == TypeCandidate {
			if m.Candidate == nil {
				return errors.New(`candidate without "candidate"`)
			}
			if len(m.Candidate.Candidate) > maxCandidateLen || !printable(m.Candidate.Candidate) {
				return errors.New("malformed candidate")
			}
		} else {
			if m.SDP == "" || len(m.SDP) > maxSDPLen {
				return errors.New("missing or oversized sdp")
			}
		}
	case TypePing, TypePong:
	case TypeError:
		if m.Code == "" {
			return errors.New(`error without "code"`)
		}
	case "":
		return errors.New(`missing "type"`)
	default:
		return fmt.Errorf("unknown type %q", truncate(m.Type, 32))
	}
	return nil
}

// normSwarm checks and lower-cases m.Swarm: a root hash in hex, 40 digits
// (SHA-1) or 64 (SHA-256), as in links (design.md §Links).
func (m *Message) normSwarm() error {
	if !ValidSwarm(m.Swarm) {
		return errors.New("swarm is not a hex root hash")
	}
	m.Swarm = strings.ToLower(m.Swarm)
	return nil
}

// ValidSwarm reports whether s names a swarm: 40 or 64 hex digits.
func ValidSwarm(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// validID reports whether id is min..64 characters of [A-Za-z0-9_-].
func validID(id string, min int) bool {
	if len(id) < min || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
