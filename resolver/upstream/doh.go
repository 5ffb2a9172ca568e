package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/miekg/dns"
)

const dohMIMEType = "application/dns-message"

// dohUpstream speaks DNS over HTTPS (RFC 8484): POST, HTTP/2 where the server
// offers it, connections kept alive by net/http.
type dohUpstream struct {
	name    string
	url     string
	timeout time.Duration
	client  *http.Client
	tr      *http.Transport
}

func newDoH(name string, opt Options) (*dohUpstream, error) {
	u, err := url.Parse(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("URL %q: want https://host/path", opt.URL)
	}
	addr := opt.Addr
	if addr == "" {
		port := u.Port()
		if port == "" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	if _, err := splitAddr(addr); err != nil {
		return nil, err
	}
	var dialer net.Dialer
	tr := &http.Transport{
		// Always dial the configured address: with an IP there, the URL's
		// host need not be resolved (Haven may be the system's resolver).
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tlsConfig(opt, u.Hostname()),
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: opt.Timeout,
		// No Proxy: DNS must not depend on the environment's HTTP proxy.
	}
	return &dohUpstream{
		name:    name,
		url:     opt.URL,
		timeout: opt.Timeout,
		tr:      tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is a misconfiguration; fail rather than follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func (d *dohUpstream) String() string { return d.name }

// Close closes the idle connections. The upstream stays usable.
func (d *dohUpstream) Close() error {
	d.tr.CloseIdleConnections()
	return nil
}

func (d *dohUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	r, err := d.exchange(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	return r, nil
}

func (d *dohUpstream) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	// RFC 8484 4.1: ID 0 on the wire, so that HTTP caches see identical
	// requests for identical questions. The ID is restored below.
	wire[0], wire[1] = 0, 0

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(wire))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", dohMIMEType)
	req.Header.Set("Accept", dohMIMEType)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	if ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || ct != dohMIMEType {
		return nil, fmt.Errorf("content type %q, want %s", resp.Header.Get("Content-Type"), dohMIMEType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("read body: %w", err))
	}
	if len(body) > dns.MaxMsgSize {
		return nil, errors.New("answer larger than a DNS message")
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		return nil, fmt.Errorf("unpack answer: %w", err)
	}
	if r.Id == 0 {
		r.Id = m.Id
	}
	if err := check(m, r); err != nil {
		return nil, err
	}
	return r, nil
}
