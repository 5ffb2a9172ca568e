package querylog

import "sync"

// queue holds the entries Add hands to the writer, at most max of them. A
// buffered channel copied each entry (some 230 bytes) in and out, and took
// its lock on both sides: about a tenth of a microsecond a query, on every
// query. Here Add appends under a mutex, and the writer takes everything
// queued at once, leaving the slice it has finished with in its place.
type queue struct {
	mu  sync.Mutex
	buf []Entry
	max int
}

// push appends e and returns how many entries are queued; it reports
// false, queueing nothing, when max are.
func (q *queue) push(e *Entry) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) >= q.max {
		return len(q.buf), false
	}
	q.buf = append(q.buf, *e)
	return len(q.buf), true
}

// len returns how many entries are queued.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

// swap returns the entries queued and queues into spare from now on. The
// caller has cleared spare, so that the queue holds no strings of entries
// already written.
func (q *queue) swap(spare []Entry) []Entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.buf
	q.buf = spare[:0]
	return out
}
