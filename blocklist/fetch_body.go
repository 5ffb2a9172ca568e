package blocklist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reasons a new copy is refused; the last good copy stays in use.
var (
	errTooLarge = errors.New("list too large")
	errHTML     = errors.New("got an HTML page, not a list")
	errNoRules  = errors.New("no rules in list")
)

// body is a newly obtained copy that has not been accepted yet: a temporary
// file in the cache directory when there is one (memory stays flat however
// big the list), otherwise the bytes themselves.
type body struct {
	tmp  string
	data []byte
	size int64
	sum  string // hex SHA-256 of the bytes, to notice an unchanged list served without validators
}

// open reads the copy as received (possibly gzip-compressed).
func (b *body) open() (io.ReadCloser, error) {
	if b.tmp != "" {
		return os.Open(b.tmp)
	}
	return io.NopCloser(bytes.NewReader(b.data)), nil
}

// discard removes the temporary file of a refused copy.
func (b *body) discard() {
	if b != nil && b.tmp != "" {
		os.Remove(b.tmp)
	}
}

// readBody copies r into a new body, reading at most max+1 bytes: a longer
// stream is refused without reading the rest, so a server that never stops
// sending costs at most max bytes.
func readBody(r io.Reader, max int64, cache *diskCache, sizeHint int64) (*body, error) {
	h := sha256.New()
	lr := io.TeeReader(io.LimitReader(r, max+1), h)
	if cache == nil {
		var buf bytes.Buffer
		if sizeHint > 0 && sizeHint <= max {
			buf.Grow(int(sizeHint))
		}
		n, err := buf.ReadFrom(lr)
		if err != nil {
			return nil, err
		}
		if n > max {
			return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, max)
		}
		data := buf.Bytes()
		if cap(data)-len(data) > len(data)/4 {
			data = bytes.Clone(data) // the copy is kept until the next change: drop the growth slack
		}
		return &body{data: data, size: n, sum: hex.EncodeToString(h.Sum(nil))}, nil
	}
	f, err := cache.createTemp()
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, lr)
	if err == nil && n > max {
		err = fmt.Errorf("%w: over %d bytes", errTooLarge, max)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &body{tmp: f.Name(), size: n, sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// capReader fails with errTooLarge once more than n bytes were read, to
// bound what a small gzip body may expand to.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, fmt.Errorf("%w: over the size limit after decompression", errTooLarge)
	}
	return n, err
}

// listReader returns the text of a copy: gzip bodies (recognised by their
// magic bytes, since list servers rarely label .gz files as such) are
// decompressed, to at most max bytes.
func listReader(r io.Reader, max int64) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return &capReader{r: zr, n: max}, nil
}

// looksLikeHTML reports whether the start of a copy is an HTML document:
// a captive portal, a login wall or an error page served with status 200.
func looksLikeHTML(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.ToLower(head)
	return bytes.Contains(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html"))
}

// parseCopy parses a copy for one source. check refuses HTML pages.
func parseCopy(r io.Reader, opt ParseOptions, max int64, check bool) (*List, error) {
	lr, err := listReader(r, max)
	if err != nil {
		return nil, err
	}
	if check {
		br := bufio.NewReaderSize(lr, 4096)
		head, _ := br.Peek(1024)
		if looksLikeHTML(head) {
			return nil, errHTML
		}
		lr = br
	}
	l, err := Parse(lr, opt)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return l, nil
}

// acceptable says whether a parsed new copy may replace the last good one.
// A list without a single rule is refused (an empty body, or a page of
// something else), except that a local file holding nothing but comments
// and blank lines is taken as deliberately empty.
func acceptable(l *List, localFile bool) error {
	if l.Stats.Kept > 0 {
		return nil
	}
	skipped := 0
	for _, n := range l.Stats.Skipped {
		skipped += n
	}
	if localFile && skipped == 0 {
		return nil
	}
	return fmt.Errorf("%w (%d lines, %d skipped)", errNoRules, l.Stats.Lines, skipped)
}
