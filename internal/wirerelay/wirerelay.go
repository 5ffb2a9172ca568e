// Package wirerelay is a UDP DNS relay that does nothing but relay: each
// query goes to one upstream under an ID of the relay's, each answer back
// to its client under the client's ID, both read and written in batches
// (recvmmsg and sendmmsg on Linux). It parses nothing past the ID, caches
// nothing and filters nothing. The benchmark runs it as the floor of a
// cache miss: what the four socket legs of a forwarded query cost on the
// machine, with no work between them.
//
// It is not a server to deploy: its IDs are sequential and it checks no
// question, so any host that can reach its upstream socket can spoof
// answers.
package wirerelay

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// batch is how many datagrams one system call reads or writes.
const batch = 64

// maxSize is the largest datagram relayed whole; a larger one is cut.
const maxSize = 4096

// Relay relays queries from the clients of one UDP socket to one upstream.
type Relay struct {
	c, up *net.UDPConn

	mu   sync.Mutex
	next uint16
	pend [1 << 16]client // by the relay's ID; an old one is overwritten

	wg sync.WaitGroup
}

// client is who asked a query relayed, and under which ID.
type client struct {
	addr net.Addr
	id   uint16
}

// Listen relays UDP queries to addr (a loopback host:port) to upstream.
func Listen(addr, upstream string) (*Relay, error) {
	la, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp4", upstream)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp4", la)
	if err != nil {
		return nil, err
	}
	up, err := net.DialUDP("udp4", nil, ua)
	if err != nil {
		c.Close()
		return nil, err
	}
	r := &Relay{c: c, up: up}
	r.wg.Add(2)
	go r.pump(c, up, r.query)
	go r.pump(up, c, r.answer)
	return r, nil
}

// Addr returns the address the relay listens on.
func (r *Relay) Addr() string { return r.c.LocalAddr().String() }

// Shutdown closes both sockets and waits for the relay's loops to end.
func (r *Relay) Shutdown(ctx context.Context) error {
	err := errors.Join(r.c.Close(), r.up.Close())
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// query gives the query b, from a client, an ID of the relay's, and sends
// it upstream (on the connected socket: no address).
func (r *Relay) query(b []byte, from net.Addr) (net.Addr, bool) {
	id := r.next
	r.next++
	r.pend[id] = client{addr: from, id: binary.BigEndian.Uint16(b)}
	binary.BigEndian.PutUint16(b, id)
	return nil, true
}

// answer gives the answer b its client's ID back and sends it to that
// client; an answer to no query waiting is dropped.
func (r *Relay) answer(b []byte, _ net.Addr) (net.Addr, bool) {
	id := binary.BigEndian.Uint16(b)
	c := r.pend[id]
	r.pend[id] = client{}
	if c.addr == nil {
		return nil, false // late, or not ours
	}
	binary.BigEndian.PutUint16(b, c.id)
	return c.addr, true
}

// pump reads batches of datagrams from in and writes those turn keeps,
// changed in place, to out in one batch, until in is closed. turn runs
// under r.mu.
func (r *Relay) pump(in, out *net.UDPConn, turn func(b []byte, from net.Addr) (to net.Addr, ok bool)) {
	defer r.wg.Done()
	rd, wr := ipv4.NewPacketConn(in), ipv4.NewPacketConn(out)
	ms, ws := messages(), make([]ipv4.Message, 0, batch)
	for {
		n, err := rd.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ECONNREFUSED from an ICMP error, say
		}
		ws = ws[:0]
		r.mu.Lock()
		for _, m := range ms[:n] {
			b := m.Buffers[0][:m.N]
			if len(b) < 12 {
				continue // not even a header
			}
			if to, ok := turn(b, m.Addr); ok {
				ws = append(ws, ipv4.Message{Buffers: [][]byte{b}, Addr: to})
			}
		}
		r.mu.Unlock()
		writeAll(wr, ws)
	}
}

// messages returns a batch of read buffers.
func messages() []ipv4.Message {
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, maxSize)}
	}
	return ms
}

// writeAll writes ws, going on past a datagram that cannot be sent.
func writeAll(c *ipv4.PacketConn, ws []ipv4.Message) {
	for len(ws) > 0 {
		n, err := c.WriteBatch(ws, 0)
		if err != nil {
			n = max(n, 1) // drop the one that failed
		}
		ws = ws[n:]
	}
}
