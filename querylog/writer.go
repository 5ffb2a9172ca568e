package querylog

import (
	"iter"
	"runtime"
	"time"
)

// writeTimeout bounds one batch, so that a wedged disk shows up as a
// failed write (and an unhealthy log) rather than a writer stuck forever.
const writeTimeout = 30 * time.Second

// drainEvery is how often the writer takes the queue when Add has not
// found it half full: at most this much of a query's log entry waits,
// beyond the batching, and an idle Haven wakes this often.
const drainEvery = 20 * time.Millisecond

// run is the writer goroutine: it gathers entries into a batch of rows,
// collapsing repeated queries, and writes the batch when it holds
// BatchSize rows, when FlushEvery passes, or when Flush asks. A failed
// batch is dropped and the writer backs off before the next one;
// meanwhile the queue fills and Add drops, so a bad disk costs entries,
// never query latency.
func (l *Log) run() {
	defer close(l.done)
	yieldToQueries()
	b := newBatch(l.opt.BatchSize, l.opt.Collapse, l.opt.Anonymize)
	tick := time.NewTicker(l.opt.FlushEvery)
	defer tick.Stop()
	// The writer takes the queue every drainEvery, or sooner when Add
	// finds it half full, rather than waking for each entry: under load a
	// wake-up per entry or two cost more CPU than the entries themselves.
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	var backoff time.Duration
	for {
		select {
		case <-drain.C:
			if !l.take(b) {
				continue
			}
		case <-l.wake:
			if !l.take(b) {
				continue
			}
		case <-tick.C:
		case <-l.kick:
			// Write what is queued now, in batches; entries arriving
			// meanwhile wait for the next round, so a flood cannot keep
			// the writer here.
			for e := range l.queuedNow() {
				if b.add(e) && !l.commit(b, &backoff) && !l.sleep(backoff) {
					l.finish(b)
					return
				}
			}
		case <-l.stop:
			l.finish(b)
			return
		}
		if b.queries == 0 {
			continue
		}
		if !l.commit(b, &backoff) && !l.sleep(backoff) {
			l.finish(b)
			return
		}
		if l.next < len(l.taken) || l.q.len() > 0 {
			l.wakeWriter() // the batch filled up before the queue emptied
		}
	}
}

// take moves what is queued now into b, and reports whether b is full.
// Only what is queued now, so that ticks, kicks and Close still get their
// turn.
func (l *Log) take(b *batch) (full bool) {
	n := 0
	for e := range l.queuedNow() {
		if full = b.add(e); full {
			break
		}
		if n++; n%yieldEvery == 0 {
			// Let a listener waiting for this P answer its queries
			// first: Go preempts a running goroutine only every 10 ms.
			runtime.Gosched()
		}
	}
	return full
}

// queuedNow yields the entries the writer took and has not batched yet,
// then, once, everything queued since: what is queued now. An entry is
// consumed once yielded, even if the loop stops at it.
func (l *Log) queuedNow() iter.Seq[*Entry] {
	return func(yield func(*Entry) bool) {
		for swapped := false; ; {
			if l.next == len(l.taken) {
				if swapped {
					return
				}
				clear(l.taken) // hold no strings of entries written
				l.taken, l.next, swapped = l.q.swap(l.taken), 0, true
				continue
			}
			e := &l.taken[l.next]
			l.next++
			if !yield(e) {
				return
			}
		}
	}
}

// yieldEvery is how many entries the writer takes between yields.
const yieldEvery = 64

// wakeWriter asks the writer to take the queue now.
func (l *Log) wakeWriter() {
	select {
	case l.wake <- struct{}{}:
	default: // already asked
	}
}

// finish writes b and whatever is still queued, dropping it all once a
// write fails: Close does not wait out a broken disk.
func (l *Log) finish(b *batch) {
	var failed error
	flush := func() {
		if b.queries == 0 {
			return
		}
		if failed == nil {
			failed = l.insert(b.rows)
		}
		l.account(b.queries, len(b.rows), failed)
		b.reset()
	}
	for e := range l.queuedNow() {
		if b.add(e) {
			flush()
		}
	}
	flush()
}

// sleep waits d, or until Close; it reports false on Close.
func (l *Log) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// commit writes b in one transaction, accounts for it and empties it. On
// failure it doubles *backoff (within the configured bounds) and reports
// false; on success it resets *backoff.
func (l *Log) commit(b *batch, backoff *time.Duration) bool {
	err := l.insert(b.rows)
	l.account(b.queries, len(b.rows), err)
	b.reset()
	if err == nil {
		*backoff = 0
		return true
	}
	*backoff = min(max(2**backoff, l.opt.minBackoff), l.opt.maxBackoff)
	return false
}

// account records the outcome of n entries the writer took off the queue,
// collapsed into rows rows, wakes Flush, and logs the transitions between
// healthy and degraded (once each way, not once per failed batch).
func (l *Log) account(n, rows int, err error) {
	if err == nil {
		l.written.Add(uint64(n))
		l.writtenRows.Add(uint64(rows))
	} else {
		l.dropped.Add(uint64(n))
	}
	// Only this goroutine changes healthy. The transition is logged before
	// Flush is woken, so a caller that sees Flush return also sees the line.
	l.mu.Lock()
	was := l.healthy
	l.mu.Unlock()
	switch {
	case err != nil && was:
		l.opt.Logger.Warn("query log degraded: writes failing, entries are being dropped",
			"path", l.opt.Path, "err", err)
	case err == nil && !was:
		l.opt.Logger.Info("query log recovered: writes succeed again",
			"path", l.opt.Path, "dropped", l.dropped.Load())
	}

	l.mu.Lock()
	l.healthy = err == nil
	if err != nil {
		l.lastErr = err.Error()
	}
	l.processed.Add(uint64(n)) // with healthy, so Flush sees both or neither
	close(l.progress)
	l.progress = make(chan struct{})
	l.mu.Unlock()
}
