package upstream

import (
	"sync"
	"time"
)

// Back-off after failures: minBackoff after the first, doubling up to
// maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// Status is a snapshot of one upstream's health and counters.
type Status struct {
	Name      string
	Healthy   bool          // not backing off: tried in configured order
	Failures  int           // consecutive failures since the last success
	LastError string        // "" if none since the last success
	LastRTT   time.Duration // of the last success
	Queries   int64         // attempts sent to it
	Errors    int64         // attempts that failed
	RetryAt   time.Time     // when back-off ends; zero when healthy
}

// Status returns the state of each upstream, in configured order.
func (g *Group) Status() []Status {
	now := g.now()
	out := make([]Status, len(g.members))
	for i, mb := range g.members {
		mb.mu.Lock()
		out[i] = Status{
			Name:     mb.name,
			Healthy:  !now.Before(mb.downUntil),
			Failures: mb.failures,
			LastRTT:  mb.lastRTT,
			Queries:  mb.queries,
			Errors:   mb.errors,
		}
		if mb.lastErr != nil {
			out[i].LastError = mb.lastErr.Error()
		}
		if !out[i].Healthy {
			out[i].RetryAt = mb.downUntil
		}
		mb.mu.Unlock()
	}
	return out
}

// member is an upstream with its health.
type member struct {
	up   Upstream
	name string

	mu        sync.Mutex
	failures  int       // consecutive
	level     int       // back-off steps taken since the last success
	downUntil time.Time // back-off end
	lastErr   error
	lastRTT   time.Duration
	queries   int64
	errors    int64
}

func (mb *member) healthy(now time.Time) bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return !now.Before(mb.downUntil)
}

// failed records a failure and backs off.
func (g *Group) failed(mb *member, err error) {
	now := g.now()
	mb.mu.Lock()
	mb.queries++
	mb.errors++
	mb.failures++
	mb.lastErr = err
	// Queries in flight when an upstream goes down all fail together;
	// counting them as one keeps the back-off from jumping to its maximum
	// at once. Only a failure outside a back-off period lengthens it.
	escalate := !now.Before(mb.downUntil)
	var wait time.Duration
	if escalate {
		mb.level++
		wait = backoff(mb.level)
		mb.downUntil = now.Add(wait)
	}
	failures, level := mb.failures, mb.level
	mb.mu.Unlock()
	// One failure may be the name's fault (a broken domain gets SERVFAIL
	// everywhere); failing again after backing off is the upstream's.
	if escalate && level > 1 {
		g.log.Warn("upstream failing", "upstream", mb.name, "failures", failures, "retry_in", wait, "err", err)
	} else {
		g.log.Debug("upstream failed", "upstream", mb.name, "failures", failures, "err", err)
	}
}

// succeeded records a success and ends any back-off.
func (g *Group) succeeded(mb *member, rtt time.Duration) {
	mb.mu.Lock()
	recovered := mb.level > 1 // it was reported failing
	mb.queries++
	mb.failures = 0
	mb.level = 0
	mb.downUntil = time.Time{}
	mb.lastErr = nil
	mb.lastRTT = rtt
	mb.mu.Unlock()
	if recovered {
		g.log.Info("upstream recovered", "upstream", mb.name)
	}
}

// record counts an answer the member named name gave to a query the
// server sent it itself (resolver.Prefetched) as a success.
func (g *Group) record(name string, rtt time.Duration) {
	for _, mb := range g.members {
		if mb.name == name {
			g.succeeded(mb, rtt)
			return
		}
	}
}

// backoff returns the wait after the level-th consecutive back-off step.
func backoff(level int) time.Duration {
	if level < 1 {
		return 0
	}
	if level > 7 { // 1s << 6 already exceeds the maximum
		return maxBackoff
	}
	return min(minBackoff<<(level-1), maxBackoff)
}
