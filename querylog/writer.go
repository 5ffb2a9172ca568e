package querylog

import (
	"time"
)

// writeTimeout bounds one batch, so that a wedged disk shows up as a
// failed write (and an unhealthy log) rather than a writer stuck forever.
const writeTimeout = 30 * time.Second

// run is the writer goroutine: it gathers entries into batches and writes
// a batch when it is full, when FlushEvery passes, or when Flush asks. A
// failed batch is dropped and the writer backs off before the next one;
// meanwhile the queue fills and Add drops, so a bad disk costs entries,
// never query latency.
func (l *Log) run() {
	defer close(l.done)
	batch := make([]Entry, 0, l.opt.BatchSize)
	tick := time.NewTicker(l.opt.FlushEvery)
	defer tick.Stop()
	var backoff time.Duration
	for {
		select {
		case e := <-l.ch:
			batch = append(batch, e)
			if len(batch) < cap(batch) {
				continue
			}
		case <-tick.C:
		case <-l.kick:
			// Write what is queued now, in batches; entries arriving
			// meanwhile wait for the next round, so a flood cannot keep
			// the writer here.
			for n := len(l.ch); n > 0; n-- {
				batch = append(batch, <-l.ch)
				if len(batch) == cap(batch) {
					ok := l.commit(batch, &backoff)
					batch = batch[:0]
					if !ok && !l.sleep(backoff) {
						l.finish(batch)
						return
					}
				}
			}
		case <-l.stop:
			l.finish(batch)
			return
		}
		if len(batch) == 0 {
			continue
		}
		ok := l.commit(batch, &backoff)
		batch = batch[:0]
		if !ok && !l.sleep(backoff) {
			l.finish(batch)
			return
		}
	}
}

// finish writes batch and whatever is still queued, dropping it all once a
// write fails: Close does not wait out a broken disk.
func (l *Log) finish(batch []Entry) {
	var failed error
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if failed != nil {
			l.account(len(batch), failed)
		} else {
			failed = l.insert(batch)
			l.account(len(batch), failed)
		}
		batch = batch[:0]
	}
	for n := len(l.ch); n > 0; n-- {
		batch = append(batch, <-l.ch)
		if len(batch) == cap(batch) {
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

// commit writes batch in one transaction and accounts for it. On failure it
// doubles *backoff (within the configured bounds) and reports false; on
// success it resets *backoff.
func (l *Log) commit(batch []Entry, backoff *time.Duration) bool {
	err := l.insert(batch)
	if err == nil {
		*backoff = 0
		l.account(len(batch), nil)
		return true
	}
	*backoff = min(max(2**backoff, l.opt.minBackoff), l.opt.maxBackoff)
	l.account(len(batch), err)
	return false
}

// account records the outcome of n entries the writer took off the queue,
// wakes Flush, and logs the transitions between healthy and degraded (once
// each way, not once per failed batch).
func (l *Log) account(n int, err error) {
	if err == nil {
		l.written.Add(uint64(n))
	} else {
		l.dropped.Add(uint64(n))
	}
	l.processed.Add(uint64(n))

	l.mu.Lock()
	close(l.progress)
	l.progress = make(chan struct{})
	was := l.healthy
	l.healthy = err == nil
	if err != nil {
		l.lastErr = err.Error()
	}
	l.mu.Unlock()

	switch {
	case err != nil && was:
		l.opt.Logger.Warn("query log degraded: writes failing, entries are being dropped",
			"path", l.opt.Path, "err", err)
	case err == nil && !was:
		l.opt.Logger.Info("query log recovered: writes succeed again",
			"path", l.opt.Path, "dropped", l.dropped.Load())
	}
}
