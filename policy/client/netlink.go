package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// Linux rtnetlink ABI constants (linux/netlink.h, linux/rtnetlink.h,
// linux/neighbour.h). They are fixed by the kernel ABI; spelling them out
// keeps the parser buildable, and testable, on every platform.
const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	ndMsgLen    = 12 // struct ndmsg
	rtaHdrLen   = 4  // struct rtattr

	nlmsgNoop  = 0x1
	nlmsgError = 0x2
	nlmsgDone  = 0x3

	nlmFRequest  = 0x1
	nlmFDumpIntr = 0x10
	nlmFDump     = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	rtmNewNeigh = 28
	rtmGetNeigh = 30

	ndaDst    = 1
	ndaLLAddr = 2

	afInet  = 2
	afInet6 = 10

	// Neighbour states worth believing: the kernel saw the address answer
	// (or was told it statically) at some point. INCOMPLETE and FAILED
	// carry no usable address, NOARP ones are synthetic.
	nudReachable = 0x02
	nudStale     = 0x04
	nudDelay     = 0x08
	nudProbe     = 0x10
	nudPermanent = 0x80
	nudUsable    = nudReachable | nudStale | nudDelay | nudProbe | nudPermanent
)

// errDumpInterrupted means the table changed while the kernel was dumping
// it, so the dump may be inconsistent and should be run again.
var errDumpInterrupted = errors.New("neighbour dump interrupted by a table change")

// neighbor is one entry of the kernel's neighbour table.
type neighbor struct {
	Addr    netip.Addr
	MAC     MAC
	Ifindex int32
	State   uint16
}

// neighRequest returns an RTM_GETNEIGH dump request for every address
// family: a netlink header followed by an all-zero struct ndmsg.
func neighRequest(seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+ndMsgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], rtmGetNeigh)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	// pid 0 addresses the kernel; ndm_family 0 is AF_UNSPEC.
	return b
}

// parseNeighbors appends the entries in one datagram of a neighbour dump
// reply to dst. done reports the end-of-dump message. Entries without a
// 6-byte link-layer address (incomplete entries, non-Ethernet links) are
// skipped; so are messages from other sequences.
func parseNeighbors(b []byte, seq uint32, dst []neighbor) (_ []neighbor, done bool, err error) {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return dst, false, fmt.Errorf("netlink: short header: %d bytes", len(b))
		}
		l := ne.Uint32(b[0:])
		typ := ne.Uint16(b[4:])
		flags := ne.Uint16(b[6:])
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			return dst, false, fmt.Errorf("netlink: message length %d out of range (have %d bytes)", l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		if ne.Uint32(b[8:]) == seq {
			if flags&nlmFDumpIntr != 0 {
				return dst, false, errDumpInterrupted
			}
			switch typ {
			case nlmsgDone:
				return dst, true, nil
			case nlmsgError:
				if len(body) < 4 {
					return dst, false, errors.New("netlink: short error message")
				}
				if errno := int32(ne.Uint32(body)); errno != 0 {
					return dst, false, fmt.Errorf("netlink: %w", syscall.Errno(-errno))
				}
			case rtmNewNeigh:
				if n, ok := parseNeighbor(body); ok {
					dst = append(dst, n)
				}
			}
		}
		b = b[min(align4(l), uint32(len(b))):]
	}
	return dst, false, nil
}

// parseNeighbor reads a struct ndmsg and its attributes.
func parseNeighbor(b []byte) (neighbor, bool) {
	if len(b) < ndMsgLen {
		return neighbor{}, false
	}
	ne := binary.NativeEndian
	n := neighbor{Ifindex: int32(ne.Uint32(b[4:])), State: ne.Uint16(b[8:])}
	family := b[0]
	var haveMAC bool
	for a := b[ndMsgLen:]; len(a) >= rtaHdrLen; {
		l := ne.Uint16(a[0:])
		if l < rtaHdrLen || int(l) > len(a) {
			return neighbor{}, false
		}
		v := a[rtaHdrLen:l]
		switch ne.Uint16(a[2:]) & 0x3fff { // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
		case ndaDst:
			switch {
			case family == afInet && len(v) == 4:
				n.Addr = netip.AddrFrom4([4]byte(v))
			case family == afInet6 && len(v) == 16:
				n.Addr = netip.AddrFrom16([16]byte(v))
			}
		case ndaLLAddr:
			if len(v) == len(n.MAC) {
				copy(n.MAC[:], v)
				haveMAC = true
			}
		}
		a = a[min(align4(uint32(l)), uint32(len(a))):]
	}
	return n, haveMAC && n.Addr.IsValid()
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }
