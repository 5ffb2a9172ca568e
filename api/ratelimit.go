package api

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Login rate limit: a token bucket per client of loginBurst attempts,
// refilled at loginBurst per loginWindow (5 a minute). Clients are IPv4
// addresses or IPv6 /64s, as one host may hold a whole /64.
const (
	loginBurst    = 5
	loginWindow   = time.Minute
	maxLimited    = 10000 // clients tracked at once
	maxVerifying  = 2     // password derivations at once: each costs ~0.1-0.5 s of CPU
	loginInterval = loginWindow / loginBurst
)

type loginLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[netip.Prefix]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, m: map[netip.Prefix]*bucket{}}
}

// allow takes one attempt from the client's bucket and reports whether
// there was one, and if not, how long until there is.
func (l *loginLimiter) allow(client netip.Prefix) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[client]
	if b == nil {
		if len(l.m) >= maxLimited {
			l.sweep(now)
		}
		if len(l.m) >= maxLimited {
			// Attempts from this many places at once are an attack:
			// refuse newcomers until buckets refill rather than forget
			// the ones being limited.
			return false, loginInterval
		}
		b = &bucket{tokens: loginBurst, last: now}
		l.m[client] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(loginBurst, b.tokens+el.Seconds()/loginInterval.Seconds())
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(loginInterval))
	}
	b.tokens--
	return true, 0
}

// sweep forgets clients whose bucket has refilled; called with mu held.
func (l *loginLimiter) sweep(now time.Time) {
	for k, b := range l.m {
		if now.Sub(b.last) >= loginWindow {
			delete(l.m, k)
		}
	}
}

// clientOf returns the rate-limited unit of the request's peer. Forwarded
// headers are not trusted: a client could set them to anything.
func clientOf(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}
