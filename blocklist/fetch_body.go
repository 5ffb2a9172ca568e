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
	data memCopy
	size int64
	sum  string // hex SHA-256 of the bytes, to notice an unchanged list served without validators
}

// open reads the copy as received (possibly gzip-compressed).
func (b *body) open() (io.ReadCloser, error) {
	if b.tmp != "" {
		return os.Open(b.tmp)
	}
	return b.data.open(), nil
}

// memCopy is a copy kept in memory, in pieces of at most memChunkSize: a
// body of unknown length is read without ever copying what was read
// already (a growing buffer would leave a trail of garbage several times
// the size of the list, in the middle of a refresh).
type memCopy [][]byte

const memChunkSize = 64 << 10

func (c memCopy) open() io.ReadCloser {
	rs := make([]io.Reader, len(c))
	for i, b := range c {
		rs[i] = bytes.NewReader(b)
	}
	return io.NopCloser(io.MultiReader(rs...))
}

// readMemCopy reads r to its end in pieces; the last one is trimmed so
// that the copy holds no slack.
func readMemCopy(r io.Reader) (memCopy, int64, error) {
	var c memCopy
	var n int64
	for {
		buf := make([]byte, memChunkSize)
		k, err := io.ReadFull(r, buf)
		n += int64(k)
		switch {
		case k == len(buf):
			c = append(c, buf)
		case k > 0:
			c = append(c, bytes.Clone(buf[:k]))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return c, n, nil
		}
		if err != nil {
			return nil, n, err
		}
	}
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
func readBody(r io.Reader, max int64, cache *diskCache) (*body, error) {
	h := sha256.New()
	lr := io.TeeReader(io.LimitReader(r, max+1), h)
	if cache == nil {
		data, n, err := readMemCopy(lr)
		if err != nil {
			return nil, err
		}
		if n > max {
			return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, max)
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

// openList returns the text of a copy, checked not to be an HTML page if
// check is set.
func openList(r io.Reader, max int64, check bool) (io.Reader, error) {
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
	return lr, nil
}

// parseCopy parses a copy for one source into a List. check refuses HTML
// pages.
func parseCopy(r io.Reader, opt ParseOptions, max int64, check bool) (*List, error) {
	lr, err := openList(r, max, check)
	if err != nil {
		return nil, err
	}
	l, err := Parse(lr, opt)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return l, nil
}

// restartSink is a ruleSink that can forget the rules it got, so that a
// copy can be parsed again.
type restartSink interface {
	ruleSink
	restart()
}

// parseCopyInto parses the copy open returns into sink without keeping any
// list. A $badfilter may disable rules above it, which sink already has;
// if the list has one, sink restarts and the copy is parsed a second time
// with the disabled rules known, so that they never reach it. Lists with
// $badfilter rules are rare and small, so the second pass is cheap where
// it happens, and sinks need no way to remove a rule.
func parseCopyInto(open func() (io.ReadCloser, error), opt ParseOptions, max int64, check bool, sink restartSink) (parseResult, error) {
	res, err := parseCopyOnce(open, opt, max, check, nil, sink)
	if err != nil || len(res.bad) == 0 {
		return res, err
	}
	sink.restart()
	return parseCopyOnce(open, opt, max, check, res.bad, sink)
}

func parseCopyOnce(open func() (io.ReadCloser, error), opt ParseOptions, max int64, check bool, known badSet, sink ruleSink) (parseResult, error) {
	rc, err := open()
	if err != nil {
		return parseResult{}, err
	}
	defer rc.Close()
	lr, err := openList(rc, max, check)
	if err != nil {
		return parseResult{}, err
	}
	res, err := parseInto(lr, opt, known, sink)
	if err != nil {
		return parseResult{}, fmt.Errorf("parse: %w", err)
	}
	return res, nil
}

// discardSink only lets the parser count, to check a new copy.
type discardSink struct{}

func (discardSink) addRule([]byte, Kind, bool, bool, int) {}
func (discardSink) restart()                              {}

// acceptable says whether a new copy, parsed to st, may replace the last
// good one. A list without a single rule is refused (an empty body, or a
// page of something else), except that a local file holding nothing but
// comments and blank lines is taken as deliberately empty.
func acceptable(st Stats, localFile bool) error {
	if st.Kept > 0 {
		return nil
	}
	skipped := 0
	for _, n := range st.Skipped {
		skipped += n
	}
	if localFile && skipped == 0 {
		return nil
	}
	return fmt.Errorf("%w (%d lines, %d skipped)", errNoRules, st.Lines, skipped)
}
