package signaling

import (
	"flag"
	"time"
)

// Limits bound what one session, one address and all sessions together may
// cost the broker. The zero value of every field means its default; the
// gateway surfaces each as a flag (see AddFlags) with a SWARMGATE_* twin.
type Limits struct {
	// MaxMessageBytes is the largest message accepted, in bytes; a larger
	// one closes the session with too-large. Default 16384 (an offer with a
	// fully gathered SDP is 1-4 KiB).
	MaxMessageBytes int
	// MessagesPerSecond is the sustained rate of messages one untrusted
	// session may send. Default 50.
	MessagesPerSecond float64
	// MessageBurst is how many messages a session may send at once above
	// the sustained rate (token bucket depth). Default 200.
	MessageBurst int
	// MaxSwarmsPerSession is how many swarms one untrusted session may be
	// in at once. Default 256 (a booster seeds many swarms).
	MaxSwarmsPerSession int
	// JoinsPerSecond is the sustained rate of join, leave and peers
	// requests of one untrusted session (each join may notify others); the
	// burst is twice MaxSwarmsPerSession, so a booster joins all its swarms
	// at once. Default 4.
	JoinsPerSecond float64
	// PeersPerReply is the most peers in one peer list, the most peers of
	// one swarm a session is told about through joined updates, and the most
	// sessions one join is announced to. Default 32.
	PeersPerReply int
	// MaxSessionsPerIP is how many sessions one IPv4 address or IPv6 /64
	// may hold at once. Default 64 (phones behind carrier NAT share
	// addresses). Raise it (--signal-sessions-per-ip) for benchmarks from
	// loopback.
	MaxSessionsPerIP int
	// MaxSessions is how many sessions the broker holds at once. Default
	// 20000.
	MaxSessions int
	// HelloTimeout is how long a new session may take to send its hello.
	// Default 10s.
	HelloTimeout time.Duration
	// IdleTimeout closes a session that sends nothing for this long;
	// clients ping at a third of it. Default 60s.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a session. Default 10s.
	WriteTimeout time.Duration
	// SendQueue is how many messages may wait for a session that does not
	// read before it is closed as slow. Default 256; the trusted (gateway)
	// session may queue 64 times as many.
	SendQueue int
	// MaxErrors is how many refused messages a session may cause per
	// minute (burst as large) before it is closed with too-many-errors.
	// Default 30.
	MaxErrors int
}

// Default values of Limits.
const (
	DefaultMaxMessageBytes     = 16384
	DefaultMessagesPerSecond   = 50
	DefaultMessageBurst        = 200
	DefaultMaxSwarmsPerSession = 256
	DefaultJoinsPerSecond      = 4
	DefaultPeersPerReply       = 32
	DefaultMaxSessionsPerIP    = 64
	DefaultMaxSessions         = 20000
	DefaultHelloTimeout        = 10 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultWriteTimeout        = 10 * time.Second
	DefaultSendQueue           = 256
	DefaultMaxErrors           = 30
)

// withDefaults returns l with every zero (or negative) field set to its
// default.
func (l Limits) withDefaults() Limits {
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	if l.MessagesPerSecond <= 0 {
		l.MessagesPerSecond = DefaultMessagesPerSecond
	}
	setInt(&l.MessageBurst, DefaultMessageBurst)
	setInt(&l.MaxSwarmsPerSession, DefaultMaxSwarmsPerSession)
	if l.JoinsPerSecond <= 0 {
		l.JoinsPerSecond = DefaultJoinsPerSecond
	}
	setInt(&l.PeersPerReply, DefaultPeersPerReply)
	setInt(&l.MaxSessionsPerIP, DefaultMaxSessionsPerIP)
	setInt(&l.MaxSessions, DefaultMaxSessions)
	setDur(&l.HelloTimeout, DefaultHelloTimeout)
	setDur(&l.IdleTimeout, DefaultIdleTimeout)
	setDur(&l.WriteTimeout, DefaultWriteTimeout)
	setInt(&l.SendQueue, DefaultSendQueue)
	setInt(&l.MaxErrors, DefaultMaxErrors)
	return l
}

// AddFlags registers one flag per limit on fs, named --signal-*, with the
// defaults above, writing into l. cmd/swarmgate's flag parsing gives each
// its SWARMGATE_SIGNAL_* environment twin.
func (l *Limits) AddFlags(fs *flag.FlagSet) {
	fs.IntVar(&l.MaxMessageBytes, "signal-max-message", DefaultMaxMessageBytes, "signaling: largest message in bytes")
	fs.Float64Var(&l.MessagesPerSecond, "signal-rate", DefaultMessagesPerSecond, "signaling: messages per second per session")
	fs.IntVar(&l.MessageBurst, "signal-burst", DefaultMessageBurst, "signaling: message burst per session")
	fs.IntVar(&l.MaxSwarmsPerSession, "signal-swarms", DefaultMaxSwarmsPerSession, "signaling: swarms per session")
	fs.Float64Var(&l.JoinsPerSecond, "signal-join-rate", DefaultJoinsPerSecond, "signaling: joins, leaves and peer-list requests per second per session")
	fs.IntVar(&l.PeersPerReply, "signal-peers", DefaultPeersPerReply, "signaling: peers per peer list")
	fs.IntVar(&l.MaxSessionsPerIP, "signal-sessions-per-ip", DefaultMaxSessionsPerIP, "signaling: sessions per IPv4 address or IPv6 /64")
	fs.IntVar(&l.MaxSessions, "signal-sessions", DefaultMaxSessions, "signaling: sessions in total")
	fs.DurationVar(&l.HelloTimeout, "signal-hello-timeout", DefaultHelloTimeout, "signaling: time for a new session to say hello")
	fs.DurationVar(&l.IdleTimeout, "signal-idle-timeout", DefaultIdleTimeout, "signaling: close a session silent this long")
	fs.DurationVar(&l.WriteTimeout, "signal-write-timeout", DefaultWriteTimeout, "signaling: bound on one write to a session")
	fs.IntVar(&l.SendQueue, "signal-queue", DefaultSendQueue, "signaling: messages queued for a slow session before it is closed")
	fs.IntVar(&l.MaxErrors, "signal-max-errors", DefaultMaxErrors, "signaling: refused messages per minute before a session is closed")
}
