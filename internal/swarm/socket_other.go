//go:build !linux

package swarm

import "net"

// TuneSocket is a no-op outside Linux.
func TuneSocket(c net.PacketConn, size int) (int, error) { return 0, nil }
