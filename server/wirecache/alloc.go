package wirecache

import "unsafe"

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
		return inline[M, [64]byte](n)
	case n <= 96:
		return inline[M, [96]byte](n)
	case n <= 128:
		return inline[M, [128]byte](n)
	case n <= 160:
		return inline[M, [160]byte](n)
	case n <= 192:
		return inline[M, [192]byte](n)
	case n <= 256:
		return inline[M, [256]byte](n)
	case n <= 384:
		return inline[M, [384]byte](n)
	}
	// Long answers are rare; a second object costs them little.
	return &entry[M]{buf: make([]byte, n)}
}

// inline returns an entry followed by A, a byte array of at least n bytes,
// whose first n bytes are its buf. (A type parameter cannot be sliced
// unless all its types have one length, hence the pointer conversion.)
func inline[M, A any](n int) *entry[M] {
	w := new(struct {
		e entry[M]
		b A
	})
	w.e.buf = unsafe.Slice((*byte)(unsafe.Pointer(&w.b)), n)
	return &w.e
}
