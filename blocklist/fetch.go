package blocklist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

const userAgent = "Haven-DNS-filter (list refresh)"

// statusError is a response other than 2xx or 304.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

// fetchResult is the outcome of one successful conditional GET.
type fetchResult struct {
	notModified  bool
	body         *body // the new copy, nil when notModified
	etag         string
	lastModified string
}

// defaultClient bounds each phase of a request; Store also bounds each whole
// attempt with StoreOptions.Timeout.
func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          8,
		ForceAttemptHTTP2:     true,
	}}
}

// fetch downloads url, trying up to Retries times with exponential backoff
// when the failure may be passing (network errors, timeouts, 5xx, 408, 429).
// etag and lastModified, when set, make the request conditional.
func (s *Store) fetch(ctx context.Context, name, url, etag, lastModified string) (*fetchResult, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var res *fetchResult
		res, err = s.fetchOnce(ctx, url, etag, lastModified)
		if err == nil {
			return res, nil
		}
		if attempt >= s.opt.Retries || !retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		wait := s.backoff << (attempt - 1)
		s.log.Debug("list download attempt failed, retrying", "source", name, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (s *Store) fetchOnce(ctx context.Context, url, etag, lastModified string) (*fetchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, timeoutErr(ctx, s.opt.Timeout, err) // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	res := &fetchResult{etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if etag == "" && lastModified == "" {
			return nil, errors.New("HTTP 304 to an unconditional request")
		}
		res.notModified = true
		return res, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &statusError{resp.StatusCode}
	}
	if resp.ContentLength > s.opt.MaxBytes {
		return nil, fmt.Errorf("%w: Content-Length %d over %d", errTooLarge, resp.ContentLength, s.opt.MaxBytes)
	}
	b, err := readBody(resp.Body, s.opt.MaxBytes, s.cache)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", timeoutErr(ctx, s.opt.Timeout, err))
	}
	res.body = b
	return res, nil
}

// timeoutErr says plainly that an attempt ran out of time, rather than
// leaving "context deadline exceeded" to be deciphered.
func timeoutErr(ctx context.Context, d time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", d, err)
	}
	return err
}

// retryable reports whether another attempt might succeed.
func retryable(err error) bool {
	if errors.Is(err, errTooLarge) {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
	}
	return true
}
