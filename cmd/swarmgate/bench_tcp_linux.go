//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// A competing TCP flow for bench path: a real kernel TCP connection whose
// IP packets cross the same emulated bottleneck as the PPSP transfer. Each
// end runs in a network namespace of its own (unshare -n) with a TUN
// device; the helper moves the TUN's packets over a UDP socket it inherits
// from the bench (created in the host namespace, so it reaches the relay
// on loopback). No address outside the two namespaces and loopback is used.

const (
	tcpServerIP = "10.97.0.1"
	tcpClientIP = "10.97.0.2"
	tcpPort     = 5001
	tunMTU      = 1472 // IP packets, so the tunnel datagrams are Internet-size
)

// tcpResult is what the TCP client helper prints.
type tcpResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// tcpPeerAvailable reports whether this machine can run the helper.
func tcpPeerAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (a network namespace and a TUN device per TCP end)")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s: %v", tool, err)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("needs /dev/net/tun: %v", err)
	}
	return nil
}

// startTCPPeer starts one end: role "server" (sends for seconds) or
// "client" (receives and prints a tcpResult). sock is the end's UDP socket
// in the host namespace; peer is where its tunnel datagrams go ("" for the
// server, which answers whoever sent last).
func startTCPPeer(ctx context.Context, exe, role string, sock *net.UDPConn, peer string, seconds time.Duration, cc string, stdout io.Writer, stderr io.Writer) (*exec.Cmd, error) {
	f, err := sock.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "unshare", "-n", exe, "bench", "tcp-peer", "--role", role,
		"--peer", peer, "--seconds", seconds.String(), "--cc", cc)
	cmd.ExtraFiles = []*os.File{f} // fd 3
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// benchTCPPeer is the helper itself (`swarmgate bench tcp-peer`), run
// inside a fresh network namespace.
func benchTCPPeer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench tcp-peer", stderr)
	role := fs.String("role", "client", "server or client")
	peer := fs.String("peer", "", "UDP address of the relay (client)")
	seconds := fs.Duration("seconds", 10*time.Second, "how long the server sends")
	cc := fs.String("cc", "cubic", "the sender's TCP congestion control")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	sockFile := os.NewFile(3, "udp")
	pc, err := net.FilePacketConn(sockFile)
	if err != nil {
		return fmt.Errorf("inherited UDP socket: %w", err)
	}
	defer pc.Close()
	tun, err := openTUN("tun0")
	if err != nil {
		return err
	}
	defer tun.Close()
	ip := tcpClientIP
	if *role == "server" {
		ip = tcpServerIP
	}
	for _, c := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", ip + "/24", "dev", "tun0"},
		{"link", "set", "tun0", "mtu", fmt.Sprint(tunMTU), "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", c, err, out)
		}
	}
	var to net.Addr
	if *peer != "" {
		if to, err = net.ResolveUDPAddr("udp", *peer); err != nil {
			return err
		}
	}
	var toTun, fromTun atomic.Int64
	if os.Getenv("SWARMGATE_DEBUG") != "" {
		go func() {
			for range time.Tick(time.Second) {
				fmt.Fprintln(stderr, *role, "udp->tun", toTun.Load(), "tun->udp", fromTun.Load())
			}
		}()
	}
	toCh := make(chan net.Addr, 1)
	go func() { // UDP → TUN
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case toCh <- from:
			default:
			}
			toTun.Add(1)
			tun.Write(buf[:n])
		}
	}()
	go func() { // TUN → UDP
		buf := make([]byte, 65536)
		dst := to
		for {
			n, err := tun.Read(buf)
			if err != nil {
				return
			}
			select {
			case a := <-toCh:
				if *peer == "" {
					dst = a
				}
			default:
			}
			fromTun.Add(1)
			if dst != nil {
				pc.WriteTo(buf[:n], dst)
			}
		}
	}()
	if *role == "server" {
		ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", tcpServerIP, tcpPort))
		if err != nil {
			return err
		}
		defer ln.Close()
		go func() { <-ctx.Done(); ln.Close() }()
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := setCongestion(c.(*net.TCPConn), *cc); err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		end := time.Now().Add(*seconds)
		c.SetWriteDeadline(end)
		for time.Now().Before(end) {
			if _, err := c.Write(buf); err != nil {
				break
			}
		}
		time.Sleep(500 * time.Millisecond) // let the client finish counting
		return nil
	}
	var c net.Conn
	for i := 0; ; i++ { // the server's namespace may still be coming up
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err = d.DialContext(ctx, "tcp", fmt.Sprintf("%s:%d", tcpServerIP, tcpPort))
		if err == nil || i == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	// Count what arrives in the sending time, from the first byte: the
	// server's close may never cross (its namespace goes with it).
	buf := make([]byte, 64<<10)
	k, err := c.Read(buf)
	if err != nil {
		return err
	}
	t0 := time.Now()
	c.SetReadDeadline(t0.Add(*seconds - 200*time.Millisecond))
	n := int64(0)
	for {
		k, err = c.Read(buf)
		n += int64(k)
		if err != nil {
			break
		}
	}
	return json.NewEncoder(stdout).Encode(tcpResult{Bytes: n, Seconds: time.Since(t0).Seconds()})
}

// openTUN creates a TUN device (IFF_TUN | IFF_NO_PI: bare IP packets).
func openTUN(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req struct {
		name  [16]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = 0x0001 | 0x1000 // IFF_TUN | IFF_NO_PI
	const tunSetIff = 0x400454ca
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req))); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF: %w", e)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// setCongestion picks the TCP congestion control of a socket.
func setCongestion(c *net.TCPConn, cc string) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, cc)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("TCP congestion control %q: %w", cc, serr)
	}
	return nil
}
