package rtc

import (
	"context"
	"errors"
	"sync"

	"github.com/swarmgate/swarmgate/signaling"
)

// ClientSignaler is a Signaler over a signaling session (the gateway's
// /signal protocol, docs/signaling.md): offers, answers and candidates go
// to the Transport; every other message the broker sends (peers, joined,
// left, error) goes to Other, which must not block (nil drops them). The
// Transport's Config.ID must be the session's ID (Client.ID).
type ClientSignaler struct {
	Client *signaling.Client
	Other  func(signaling.Message)

	mu       sync.Mutex
	gateways map[string]bool // peer IDs the broker listed as gateways
}

// maxGateways bounds the gateway IDs a signaler remembers (only the
// gateway's own session may take that role: one per broker).
const maxGateways = 16

// LastResort reports whether the broker listed the peer id as a gateway
// (the peer of last resort: Transport.LastResort).
func (s *ClientSignaler) LastResort(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gateways[id]
}

func (s *ClientSignaler) noteRoles(m signaling.Message) {
	for _, p := range m.ListedPeers() {
		if p.Role != signaling.RoleGateway {
			continue
		}
		s.mu.Lock()
		if s.gateways == nil {
			s.gateways = make(map[string]bool)
		}
		if len(s.gateways) < maxGateways {
			s.gateways[p.ID] = true
		}
		s.mu.Unlock()
	}
}

// Send implements Signaler.
func (s *ClientSignaler) Send(ctx context.Context, to string, sig Signal) error {
	switch sig.Kind {
	case Offer:
		return s.Client.Offer(to, sig.SDP)
	case Answer:
		return s.Client.Answer(to, sig.SDP)
	case Candidate:
		mid, idx := sig.SDPMid, sig.SDPMLineIndex
		return s.Client.Candidate(to, signaling.Candidate{Candidate: sig.Candidate, SDPMid: &mid, SDPMLineIndex: &idx})
	}
	return errors.New("rtc: unknown signal kind")
}

// Recv implements Signaler.
func (s *ClientSignaler) Recv(ctx context.Context) (string, Signal, error) {
	for {
		m, err := s.Client.Recv(ctx)
		if err != nil {
			return "", Signal{}, err
		}
		switch m.Type {
		case signaling.TypeOffer:
			return m.From, Signal{Kind: Offer, SDP: m.SDP}, nil
		case signaling.TypeAnswer:
			return m.From, Signal{Kind: Answer, SDP: m.SDP}, nil
		case signaling.TypeCandidate:
			if m.Candidate == nil || m.Candidate.Candidate == "" {
				continue // end of candidates: nothing to add
			}
			sig := Signal{Kind: Candidate, Candidate: m.Candidate.Candidate}
			if m.Candidate.SDPMid != nil {
				sig.SDPMid = *m.Candidate.SDPMid
			}
			if m.Candidate.SDPMLineIndex != nil {
				sig.SDPMLineIndex = *m.Candidate.SDPMLineIndex
			}
			return m.From, sig, nil
		}
		s.noteRoles(m)
		if s.Other != nil {
			s.Other(m)
		}
	}
}
