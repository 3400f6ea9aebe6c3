//go:build linux

package swarm

import (
	"net"
	"syscall"
)

// TuneSocket raises a UDP socket's kernel buffers to size bytes so that
// bursts at loopback speed are not dropped by a full receive queue. It uses
// SO_RCVBUFFORCE when privileged and falls back to SO_RCVBUF (capped by
// net.core.rmem_max). It returns the receive buffer size obtained.
func TuneSocket(c net.PacketConn, size int) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	got := 0
	err = raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF}, {syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF}} {
			if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, o[0], size) != nil {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, o[1], size)
			}
		}
		got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return got, err
}
