//go:build !js

package rtc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/swarmgate/swarmgate/internal/swarm"
)

// newAPI builds the pion API with the SettingEngine switches that work on
// these machines (../shared/docs/browser-testing.md): loopback candidates
// included (pion skips lo by default, and a loopback-only host then gathers
// nothing), no mDNS, bounded ICE timeouts, our message size limit, pion's
// logs on our logger.
func newAPI(cfg *Config) (*webrtc.API, webrtc.Configuration, error) {
	se := webrtc.SettingEngine{LoggerFactory: pionLogs{cfg.Logger}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if cfg.LoopbackOnly {
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetInterfaceFilter(func(n string) bool {
			ifi, err := net.InterfaceByName(n)
			return err == nil && ifi.Flags&net.FlagLoopback != 0
		})
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop) // never send checks elsewhere, prflx included
	}
	if cfg.InterfaceFilter != nil {
		se.SetInterfaceFilter(cfg.InterfaceFilter)
	}
	if cfg.IPFilter != nil {
		se.SetIPFilter(cfg.IPFilter)
	}
	// Disconnected after 5 s without traffic, failed 5 s later; consent
	// checks every 2 s (pion's default keep-alive).
	se.SetICETimeouts(5*time.Second, 5*time.Second, 2*time.Second)
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, webrtc.Configuration{}, fmt.Errorf("rtc: network: %w", err)
	}
	se.SetNet(tunedNet{n, cfg.SocketBuffer})
	se.SetSCTPMaxMessageSize(uint32(cfg.MaxMessage))
	// An answer takes the DTLS server's role and skips HelloVerify's round
	// trip: its cookie proves the client's address, which ICE's checks
	// (authenticated with the ICE password the signaling exchanged) have
	// proved already, and DTLS gets only the selected pair's packets. The
	// connection opens a round trip sooner (decision 66).
	se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer)
	se.SetDTLSInsecureSkipHelloVerify(true)
	// One certificate per transport: generating one per connection costs
	// an ECDSA key each.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, webrtc.Configuration{}, fmt.Errorf("rtc: key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, webrtc.Configuration{}, fmt.Errorf("rtc: certificate: %w", err)
	}
	pcc := webrtc.Configuration{ICEServers: cfg.ICEServers, Certificates: []webrtc.Certificate{*cert}}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), pcc, nil
}

// tunedNet is the host's network with every UDP socket pion opens given
// kernel buffers of size bytes (swarm.TuneSocket). A browser sends its
// datagrams in bursts (a publish, at loopback speed), and a full receive
// queue drops packets; each one drops a whole data channel message (no
// SCTP retransmission here), which the engine then sends again: with the
// default queue a 32 MiB publish lost 134–730 packets and uploaded up to
// 1.065 copies (decision 65).
type tunedNet struct {
	*stdnet.Net
	size int
}

func (n tunedNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err == nil {
		swarm.TuneSocket(c, n.size)
	}
	return c, err
}

func (n tunedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err == nil {
		swarm.TuneSocket(c, n.size)
	}
	return c, err
}

// pionLogs sends pion's logs to slog at debug level: what a remote peer
// makes pion complain about is not ours to shout.
type pionLogs struct{ l *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLog{f.l.With("pion", scope)}
}

type pionLog struct{ l *slog.Logger }

func (p pionLog) Trace(string)              {}
func (p pionLog) Tracef(string, ...any)     {}
func (p pionLog) Debug(m string)            { p.l.Debug(m) }
func (p pionLog) Debugf(f string, a ...any) { p.l.Debug(fmt.Sprintf(f, a...)) }
func (p pionLog) Info(m string)             { p.l.Debug(m) }
func (p pionLog) Infof(f string, a ...any)  { p.l.Debug(fmt.Sprintf(f, a...)) }
func (p pionLog) Warn(m string)             { p.l.Debug(m, "level", "warn") }
func (p pionLog) Warnf(f string, a ...any)  { p.l.Debug(fmt.Sprintf(f, a...), "level", "warn") }
func (p pionLog) Error(m string)            { p.l.Debug(m, "level", "error") }
func (p pionLog) Errorf(f string, a ...any) { p.l.Debug(fmt.Sprintf(f, a...), "level", "error") }
