package wirecache

// An entry and its bytes are one allocation: a replay then reads one
// object where the answer follows the header, not two far apart. With a
// working set larger than the processor's caches, each replay otherwise
// waits for one more miss. With the server's 96-byte header, each size
// below makes an object of one of Go's size classes, so little is lost to
// rounding.

// newEntry returns an entry whose buf, of length n, shares its allocation.
func newEntry[M any](n int) *entry[M] {
	switch {
	case n <= 64:
		w := new(struct {
			e entry[M]
			b [64]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 96:
		w := new(struct {
			e entry[M]
			b [96]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 128:
		w := new(struct {
			e entry[M]
			b [128]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 160:
		w := new(struct {
			e entry[M]
			b [160]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 192:
		w := new(struct {
			e entry[M]
			b [192]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 256:
		w := new(struct {
			e entry[M]
			b [256]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	case n <= 384:
		w := new(struct {
			e entry[M]
			b [384]byte
		})
		w.e.buf = w.b[:n:n]
		return &w.e
	}
	// Long answers are rare; a second object costs them little.
	return &entry[M]{buf: make([]byte, n)}
}
