package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

var records = []string{
	"example.com. 300 IN A 192.0.2.1",
	"example.com. 300 IN A 192.0.2.2",
	"host.home.arpa. 60 IN A 192.168.1.10",
}

// fake starts a fake upstream serving proto.
func fake(tb testing.TB, proto string, h dns.Handler) *dnstest.Upstream {
	tb.Helper()
	switch proto {
	case "tls":
		return dnstest.NewTLSUpstream(tb, h)
	case "https":
		return dnstest.NewDoHUpstream(tb, h)
	}
	return dnstest.NewUpstream(tb, h)
}

// client returns an Upstream talking proto to f, closed by tb.Cleanup.
func client(tb testing.TB, f *dnstest.Upstream, proto string, timeout time.Duration) Upstream {
	tb.Helper()
	opt := Options{Proto: proto, Addr: f.Addr(), Timeout: timeout}
	if roots := f.RootCAs(); roots != nil {
		opt.TLSConfig = &tls.Config{RootCAs: roots}
	}
	if proto == "https" {
		opt.URL = f.URL()
	}
	u, err := New(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { u.(io.Closer).Close() })
	return u
}

func query(name string, qtype uint16) *dns.Msg {
	m := dnstest.Query(name, qtype)
	m.SetEdns0(ednsSize, false)
	return m
}

var protos = []string{"udp", "tcp", "tls", "https"}

func TestExchange(t *testing.T) {
	t.Parallel()
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f := fake(t, proto, dnstest.ZoneHandler(records...))
			u := client(t, f, proto, 0)
			for range 3 {
				m := query("example.com.", dns.TypeA)
				r, err := u.Exchange(context.Background(), m)
				if err != nil {
					t.Fatal(err)
				}
				if r.Id != m.Id || len(r.Answer) != 2 {
					t.Fatalf("answer:\n%v", r)
				}
			}
			// Connections are reused.
			wantConns := int64(1)
			if proto == "udp" {
				wantConns = 0
			}
			if f.Count() != 3 || f.Conns() != wantConns {
				t.Errorf("%d queries on %d connections, want 3 on %d", f.Count(), f.Conns(), wantConns)
			}
			if proto == "https" {
				if id := f.LastRequest().Id; id != 0 {
					t.Errorf("DoH query ID on the wire %d, want 0", id)
				}
				if p := f.HTTPProto(); p != "HTTP/2.0" {
					t.Errorf("DoH over %s, want HTTP/2.0", p)
				}
			}
			if u.String() == "" {
				t.Error("empty String")
			}
		})
	}
}

func TestUDPTruncationRetriesOverTCP(t *testing.T) {
	t.Parallel()
	f := dnstest.NewUpstream(t, dnstest.BigHandler(100))
	u := client(t, f, "udp", 0)
	r, err := u.Exchange(context.Background(), query("big.example.", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("TC=%v with %d answers, want the full 100", r.Truncated, len(r.Answer))
	}
	if f.Count() != 2 || f.Conns() != 1 {
		t.Errorf("%d queries, %d TCP connections; want 2 and 1", f.Count(), f.Conns())
	}
}

// TestClosedIdleConnectionIsReplaced: a server closing a connection after
// answering must not make the next query on the pooled connection fail.
func TestClosedIdleConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	closing := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		dnstest.ZoneHandler(records...).ServeDNS(w, r)
		w.Close()
	})
	for _, proto := range []string{"tcp", "tls"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f := fake(t, proto, closing)
			u := client(t, f, proto, 0)
			for i := range 3 {
				if _, err := u.Exchange(context.Background(), query("example.com.", dns.TypeA)); err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
			}
			if f.Conns() != 3 {
				t.Errorf("%d connections, want 3", f.Conns())
			}
		})
	}
}

func TestMismatchedAnswers(t *testing.T) {
	t.Parallel()
	zone := dnstest.ZoneHandler(records...)
	handlers := []struct {
		name string
		h    dns.Handler
	}{
		{"wrong id", dnstest.WrongIDHandler(zone)},
		{"wrong question", dnstest.WrongQuestionHandler(zone)},
		{"not a response", dnstest.ModifyHandler(zone, func(m *dns.Msg) { m.Response = false })},
	}
	for _, proto := range protos {
		for _, tc := range handlers {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := fake(t, proto, tc.h)
				// UDP ignores what is not the answer and waits for the real
				// one, until the attempt times out.
				u := client(t, f, proto, 200*time.Millisecond)
				m := query("example.com.", dns.TypeA)
				m.Id = 4242
				_, err := u.Exchange(context.Background(), m)
				if !errors.Is(err, ErrMismatch) {
					t.Fatalf("error %v, want ErrMismatch", err)
				}
				if proto == "udp" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("UDP error %v, want a timeout after the mismatch", err)
				}
			})
		}
	}
}

func TestDoHErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"status", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "broken", http.StatusInternalServerError)
		}, "HTTP status 500"},
		{"content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html></html>"))
		}, "content type"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "HTTP status 302"},
		{"garbage", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/dns-message; charset=binary")
			w.Write([]byte{1, 2, 3})
		}, "unpack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewTLSServer(tc.handler)
			t.Cleanup(srv.Close)
			roots := x509.NewCertPool()
			roots.AddCert(srv.Certificate())
			u, err := New(Options{
				Proto:     "https",
				URL:       srv.URL + "/dns-query",
				TLSConfig: &tls.Config{RootCAs: roots},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.(io.Closer).Close() })
			_, err = u.Exchange(context.Background(), query("example.com.", dns.TypeA))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// TestContextCancel: a cancelled query returns at once, on every transport.
func TestContextCancel(t *testing.T) {
	t.Parallel()
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			received := make(chan struct{}, 1)
			f := fake(t, proto, dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {
				received <- struct{}{}
			}))
			u := client(t, f, proto, time.Minute)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-received
				cancel()
			}()
			_, err := u.Exchange(ctx, query("example.com.", dns.TypeA))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f := fake(t, proto, dnstest.DropHandler())
			u := client(t, f, proto, 50*time.Millisecond)
			_, err := u.Exchange(context.Background(), query("example.com.", dns.TypeA))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want a deadline", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opt  Options
		name string // String(), "" for an error
	}{
		{Options{Proto: "udp", Addr: "192.0.2.1:53"}, "udp://192.0.2.1:53"},
		{Options{Proto: "tcp", Addr: "[2001:db8::1]:53", URL: "tcp://[2001:db8::1]"}, "tcp://[2001:db8::1]"},
		{Options{Proto: "tls", Addr: "192.0.2.1:853", ServerName: "dns.example"}, "tls://192.0.2.1:853"},
		{Options{Proto: "https", URL: "https://dns.example/dns-query"}, "https://dns.example/dns-query"},
		{Options{Proto: "https", URL: "https://dns.example:8443/q", Addr: "192.0.2.1:8443"}, "https://dns.example:8443/q"},
		{Options{Proto: "udp", Addr: "192.0.2.1"}, ""},
		{Options{Proto: "tcp", Addr: ":53"}, ""},
		{Options{Proto: "https", URL: "http://dns.example/dns-query"}, ""},
		{Options{Proto: "https", URL: "https:///dns-query"}, ""},
		{Options{Proto: "https", URL: "https://dns.example/", Addr: "nonsense"}, ""},
		{Options{Proto: "quic", Addr: "192.0.2.1:853"}, ""},
	}
	for _, tc := range tests {
		u, err := New(tc.opt)
		switch {
		case tc.name == "" && err == nil:
			t.Errorf("New(%+v): no error", tc.opt)
		case tc.name != "" && err != nil:
			t.Errorf("New(%+v): %v", tc.opt, err)
		case tc.name != "" && u.String() != tc.name:
			t.Errorf("New(%+v).String() = %q, want %q", tc.opt, u.String(), tc.name)
		}
	}
}

func TestTLSServerName(t *testing.T) {
	t.Parallel()
	f := dnstest.NewTLSUpstream(t, dnstest.ZoneHandler(records...))
	for _, tc := range []struct {
		serverName string
		ok         bool
	}{
		{"", true},             // the address's IP, in the certificate
		{"localhost", true},    // a name in the certificate
		{"dns.example", false}, // not in it
	} {
		u, err := New(Options{Proto: "tls", Addr: f.Addr(), ServerName: tc.serverName,
			TLSConfig: &tls.Config{RootCAs: f.RootCAs()}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = u.Exchange(context.Background(), query("example.com.", dns.TypeA))
		if (err == nil) != tc.ok {
			t.Errorf("server name %q: error %v", tc.serverName, err)
		}
		u.(io.Closer).Close()
	}
}
