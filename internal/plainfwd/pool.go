package plainfwd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// pool keeps connected UDP sockets to the upstream for reuse. A socket
// carries one exchange at a time; it goes back to the pool when its reply
// arrived and is closed after any error, so that a late reply to a
// timed-out query never meets the next one.
type pool struct {
	addr string
	bufs sync.Pool // *[]byte of dns.MaxMsgSize, for reading replies

	mu     sync.Mutex
	idle   []net.Conn // most recently used last
	max    int
	closed bool
}

func newPool(addr string, max int) *pool {
	return &pool{
		addr: addr,
		max:  max,
		bufs: sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }},
	}
}

var errClosed = errors.New("plainfwd: closed")

func (p *pool) get() (net.Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := net.Dial("udp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("plainfwd: dial upstream: %w", err)
	}
	return c, nil
}

func (p *pool) put(c net.Conn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.max {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.Close()
}

// exchange sends query on a pooled socket and returns a copy of the first
// reply carrying id with QR set, skipping anything else that arrives.
func (p *pool) exchange(query []byte, id uint16, deadline time.Time) ([]byte, error) {
	c, err := p.get()
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, fmt.Errorf("plainfwd: %w", err)
	}
	if _, err := c.Write(query); err != nil {
		c.Close()
		return nil, fmt.Errorf("plainfwd: send upstream: %w", err)
	}
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	for {
		n, err := c.Read(buf)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("plainfwd: read upstream: %w", err)
		}
		if n >= 12 && binary.BigEndian.Uint16(buf) == id && buf[2]&0x80 != 0 {
			p.put(c)
			return bytes.Clone(buf[:n]), nil
		}
	}
}

// close closes the idle sockets and makes the pool refuse new exchanges.
func (p *pool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// idleLen is the number of sockets waiting in the pool.
func (p *pool) idleLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
