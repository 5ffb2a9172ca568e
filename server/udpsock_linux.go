package server

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// listenUDPBatch binds n UDP sockets on addr with SO_REUSEPORT: the first
// on addr (port 0 picks one), the others on the address the first got.
func listenUDPBatch(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", serr)
		}
		return nil
	}}
	var conns []*net.UDPConn
	for i := 0; i < n; i++ {
		a := addr
		if i > 0 {
			a = conns[0].LocalAddr().String()
		}
		pc, err := lc.ListenPacket(context.Background(), "udp", a)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	return conns, nil
}

// bindBatch binds addr as bindPair does, with the UDP side on n
// SO_REUSEPORT sockets, so that the kernel spreads the packets over as
// many read loops.
func bindBatch(addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		conns, err := listenUDPBatch(addr, 1)
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", conns[0].LocalAddr().String())
		if err == nil {
			more, err := listenUDPBatch(conns[0].LocalAddr().String(), n-1)
			if err != nil {
				conns[0].Close()
				ln.Close()
				return nil, nil, err
			}
			return append(conns, more...), ln, nil
		}
		conns[0].Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" || attempt >= 10 {
			return nil, nil, err
		}
	}
}

// udpOOBSize is room for either family's destination control message.
func udpOOBSize() int {
	return max(len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)),
		len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface)))
}
