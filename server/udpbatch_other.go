//go:build !linux

package server

import (
	"context"
	"errors"
	"net"
)

// batchSupported reports whether Options.BatchUDP can be honoured here:
// recvmmsg and sendmmsg are Linux's, so elsewhere UDP stays on miekg/dns.
const batchSupported = false

type udpBatchServer struct{}

func bindBatch(string, int) ([]*net.UDPConn, net.Listener, error) {
	return nil, nil, errors.New("batched UDP needs Linux")
}

func startUDPBatch(*handler, []*net.UDPConn) (*udpBatchServer, error) {
	return nil, errors.New("batched UDP needs Linux")
}

func (*udpBatchServer) shutdown(context.Context) error { return nil }

func (*udpBatchServer) sockets() int { return 0 }
