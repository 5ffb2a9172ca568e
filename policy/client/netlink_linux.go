package client

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// neighDump runs one RTM_GETNEIGH dump over a fresh rtnetlink socket,
// handing each datagram the kernel sends to fn until fn reports the end.
func neighDump(seq uint32, fn func(b []byte) (done bool, err error)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	// The kernel answers a dump at once; the timeout only guards the
	// refresh loop against a reply that never comes.
	tv := unix.Timeval{Sec: 5}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("netlink timeout: %w", err)
	}
	if err := unix.Sendto(fd, neighRequest(seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	// Dump datagrams are at most 32 KiB; twice that leaves room for any
	// kernel that batches more.
	buf := make([]byte, 64<<10)
	for {
		n, _, rflags, from, err := unix.Recvmsg(fd, buf, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("netlink receive: datagram larger than %d bytes", len(buf))
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		done, err := fn(buf[:n])
		if err != nil || done {
			return err
		}
	}
}
