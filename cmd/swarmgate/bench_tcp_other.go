//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"time"
)

type tcpResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

func tcpPeerAvailable() error {
	return errors.New("needs Linux (network namespaces and TUN devices)")
}

func startTCPPeer(context.Context, string, string, *net.UDPConn, string, time.Duration, string, io.Writer, io.Writer) (*exec.Cmd, error) {
	return nil, tcpPeerAvailable()
}

func benchTCPPeer(context.Context, []string, io.Writer, io.Writer) error {
	return tcpPeerAvailable()
}
