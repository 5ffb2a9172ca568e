package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

func TestDoTQuery(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	q := query("ExAmple.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	r := dnstest.ExchangeTLS(t, s.dotAddr(), s.roots, q)
	checkA(t, r, "192.0.2.1", "192.0.2.2")
	if r.Id != q.Id || r.Question[0].Name != "ExAmple.com." || !r.RecursionAvailable {
		t.Errorf("header or question not those of the query: %v", r)
	}
	if o := r.IsEdns0(); o == nil || !o.Do() {
		t.Errorf("EDNS query with DO answered without OPT or DO: %v", r)
	}
	got := chain.last(t)
	want := seen{"example.com.", resolver.DoT, "", netip.MustParseAddr("127.0.0.1")}
	if got != want {
		t.Errorf("chain saw %+v, want %+v", got, want)
	}
}

// TestDoTPipelined sends several queries at once on one connection, the
// first of them slow: every one is answered, the slow one last.
func TestDoTPipelined(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	chain.block = make(chan struct{})
	s := startTLS(t, Options{Resolver: chain}, nil)
	c := s.dialTLS(t, "")

	names := []string{"slow.test.", "example.com.", "nothing.test.", "example.com."}
	var batch bytes.Buffer
	ids := map[uint16]string{}
	for i, name := range names {
		q := query(name, dns.TypeA)
		q.Id = uint16(100 + i)
		ids[q.Id] = name
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		batch.Write([]byte{byte(len(wire) >> 8), byte(len(wire))})
		batch.Write(wire)
	}
	// One write: the queries arrive together, as a pipelining stub sends them.
	if _, err := c.Conn.Write(batch.Bytes()); err != nil {
		t.Fatal(err)
	}
	for i := range names {
		if i == len(names)-1 {
			// Every other answer is in: let the slow one through.
			close(chain.block)
		}
		r, err := c.ReadMsg()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		name, ok := ids[r.Id]
		if !ok || r.Question[0].Name != name {
			t.Fatalf("answer %d: ID %d for %s, not a query's", i, r.Id, r.Question[0].Name)
		}
		delete(ids, r.Id)
		if name == "slow.test." && i != len(names)-1 {
			t.Errorf("slow query answered %dth while blocked", i)
		}
	}
	if chain.count() != len(names) {
		t.Errorf("chain saw %d queries, want %d", chain.count(), len(names))
	}
}

func TestDoTClientID(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	tests := []struct{ sni, want string }{
		{"kidtablet.dns.example.net", "kidtablet"},
		{"KidTablet.DNS.Example.Net", "kidtablet"},
		{"dns.example.net", ""},
		{"localhost", ""},
		{"", ""}, // by address: no SNI at all
	}
	for _, tc := range tests {
		t.Run(tc.sni, func(t *testing.T) {
			c := s.dialTLS(t, tc.sni)
			checkA(t, exchangeConn(t, c, query("example.com.", dns.TypeA)), "192.0.2.1", "192.0.2.2")
			if got := chain.last(t).ClientID; got != tc.want {
				t.Errorf("client id %q, want %q", got, tc.want)
			}
			// Every query on the connection carries it.
			exchangeConn(t, c, query("example.com.", dns.TypeA))
			if got := chain.last(t).ClientID; got != tc.want {
				t.Errorf("second query: client id %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSNIClientID(t *testing.T) {
	t.Parallel()
	tests := []struct{ sni, serverName, want string }{
		{"kidtablet.dns.example.net", "dns.example.net", "kidtablet"},
		{"kidtablet.dns.example.net.", "dns.example.net", "kidtablet"},
		{"a.b.dns.example.net", "dns.example.net", ""},
		{"-x.dns.example.net", "dns.example.net", ""},
		{"x_y.dns.example.net", "dns.example.net", ""},
		{".dns.example.net", "dns.example.net", ""},
		{"kidtablet.dns.example.net", "", ""},
		{"kidtablet.dns.example.net", "example.net", ""}, // two labels
		{"kiddns.example.net", "dns.example.net", ""},
		{strings.Repeat("a", 64) + ".dns.example.net", "dns.example.net", ""},
		{strings.Repeat("a", 63) + ".dns.example.net", "dns.example.net", strings.Repeat("a", 63)},
	}
	for _, tc := range tests {
		if got := sniClientID(tc.sni, tc.serverName); got != tc.want {
			t.Errorf("sniClientID(%q, %q) = %q, want %q", tc.sni, tc.serverName, got, tc.want)
		}
	}
}

// TestDoTIdleTimeout: a connection that stays silent after its queries is
// closed by the server, not left open.
func TestDoTIdleTimeout(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{IdleTimeout: 50 * time.Millisecond}, nil)
	c := s.dialTLS(t, "")
	exchangeConn(t, c, query("example.com.", dns.TypeA))
	// The client's deadline (5s) is far past the idle timeout: the read
	// must end with the server's close, not with the deadline.
	_, err := c.ReadMsg()
	if err == nil {
		t.Fatal("read an unasked-for message")
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection still open after the idle timeout: %v", err)
	}
}

func TestConnectionCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Options
	}{
		{"per IP", Options{MaxConnsPerIP: 2}},
		{"overall", Options{MaxConns: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startTLS(t, tc.opt, nil)
			var open []*dns.Conn
			for range 2 {
				c := s.dialTLS(t, "")
				exchangeConn(t, c, query("example.com.", dns.TypeA))
				open = append(open, c)
			}
			if c, err := s.tryDialTLS(""); err == nil {
				// The client may think the handshake done before the
				// server's close reaches it: a query must still fail.
				err = c.WriteMsg(query("example.com.", dns.TypeA))
				if err == nil {
					_, err = c.ReadMsg()
				}
				c.Close()
				if err == nil {
					t.Fatal("third connection served")
				}
			}
			// The cap is shared with DoH.
			client := dohClient(s.roots)
			if resp, err := client.Get(s.dohURL() + "?dns=AAAB"); err == nil {
				resp.Body.Close()
				t.Fatal("DoH connection served over the cap")
			}
			client.CloseIdleConnections()

			// A place frees up when a client leaves; the server notices
			// the close when its read returns.
			open[0].Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, err := s.tryDialTLS("")
				if err == nil {
					err = c.WriteMsg(query("example.com.", dns.TypeA))
					if err == nil {
						_, err = c.ReadMsg()
					}
					c.Close()
				}
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no connection after one closed: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestStreamChecks sends malformed and unusual messages over TCP and DoT:
// both answer them alike (DoT does its own reading, TCP is miekg/dns's).
func TestStreamChecks(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain, Listen: []string{"127.0.0.1:0"}}, nil)
	badVers := query("example.com.", dns.TypeA)
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	update := query("example.com.", dns.TypeA)
	update.Opcode = dns.OpcodeUpdate
	noQuestion := query("example.com.", dns.TypeA)
	noQuestion.Question = nil
	chaos := query("example.com.", dns.TypeA)
	chaos.Question[0].Qclass = dns.ClassHESIOD
	axfr := query("example.com.", dns.TypeAXFR)
	tests := []struct {
		name  string
		m     *dns.Msg
		rcode int
	}{
		{"badvers", badVers, dns.RcodeBadVers},
		{"update", update, dns.RcodeNotImplemented},
		{"no question", noQuestion, dns.RcodeFormatError},
		{"class HS", chaos, dns.RcodeNotImplemented},
		{"axfr", axfr, dns.RcodeRefused},
		{"nxdomain", query("nothing.test.", dns.TypeA), dns.RcodeNameError},
	}
	tcp, err := dns.DialTimeout("tcp", s.Addrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcp.SetDeadline(time.Now().Add(5 * time.Second))
	dot := s.dialTLS(t, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []*dns.Conn{tcp, dot} {
				r := exchangeConn(t, c, tc.m)
				if r.Id != tc.m.Id || r.Rcode != tc.rcode || !r.Response {
					t.Errorf("%T: ID %d rcode %s, want ID %d %s", c.Conn, r.Id, dns.RcodeToString[r.Rcode],
						tc.m.Id, dns.RcodeToString[tc.rcode])
				}
			}
		})
	}
	// Garbage after a valid header gets FORMERR; less than a header gets
	// nothing, and the connection goes on.
	for _, c := range []*dns.Conn{tcp, dot} {
		if _, err := c.Write([]byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'x'}); err != nil {
			t.Fatal(err)
		}
		r, err := c.ReadMsg()
		if err != nil || r.Id != 0xbeef || r.Rcode != dns.RcodeFormatError {
			t.Errorf("%T: garbage answered %v, %v; want FORMERR", c.Conn, r, err)
		}
		if _, err := c.Write([]byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		checkA(t, exchangeConn(t, c, query("example.com.", dns.TypeA)), "192.0.2.1", "192.0.2.2")
	}
}

// TestDoTPadding: a padded query gets an answer padded to a multiple of 468
// bytes (RFC 8467); an unpadded one is not padded.
func TestDoTPadding(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{}, nil)
	c := s.dialTLS(t, "")
	for _, name := range []string{"example.com.", "nothing.test.", "slow.test."} {
		q := query(name, dns.TypeA)
		q.SetEdns0(1232, false)
		o := q.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_PADDING{Padding: make([]byte, 20)})
		if err := c.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		wire, err := c.ReadMsgHeader(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(wire)%paddingBlock != 0 {
			t.Errorf("%s: padded query got a %d-byte answer, not a multiple of %d", name, len(wire), paddingBlock)
		}
	}
	q := query("example.com.", dns.TypeA)
	q.SetEdns0(1232, false)
	r := exchangeConn(t, c, q)
	for _, opt := range r.IsEdns0().Option {
		if opt.Option() == dns.EDNS0PADDING {
			t.Errorf("unpadded query got a padded answer")
		}
	}
}

// TestDoTShutdown: an answer in flight is still written; then the port is
// closed.
func TestDoTShutdown(t *testing.T) {
	t.Parallel()
	chain := newTableChain(t)
	chain.block = make(chan struct{})
	s := startTLS(t, Options{Resolver: chain}, nil)
	addr := s.dotAddr()
	c := s.dialTLS(t, "")
	if err := c.WriteMsg(query("slow.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); chain.count() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the query never reached the chain")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	close(chain.block)
	r, err := c.ReadMsg()
	if err != nil {
		t.Fatalf("answer in flight at shutdown: %v", err)
	}
	checkA(t, r, "192.0.2.9")
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("DoT port still open after shutdown")
	}
}

// TestEncryptedThroughUpstream runs queries over DoT and DoH through a
// chain that forwards to a fake upstream: the whole path, wire to wire.
func TestEncryptedThroughUpstream(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler("example.org. 120 IN A 192.0.2.77"))
	forward := resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		r, _, err := c.ExchangeContext(ctx, q.Msg, up.Addr())
		return r, err
	})
	cert, roots := dnstest.NewCertificate(t)
	var mu sync.Mutex
	var observed []string
	s := New(Options{
		TLSListen:   []string{"127.0.0.1:0"},
		HTTPSListen: []string{"127.0.0.1:0"},
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{cert}},
		Resolver:    forward,
		Observe: func(q *resolver.Query, rcode int, _ time.Duration) {
			mu.Lock()
			observed = append(observed, q.Proto.String()+" "+q.Name()+" "+dns.RcodeToString[rcode])
			mu.Unlock()
		},
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}

	checkA(t, dnstest.ExchangeTLS(t, s.TLSAddrs()[0].String(), roots, query("example.org.", dns.TypeA)), "192.0.2.77")
	url := "https://" + s.HTTPSAddrs()[0].String() + "/dns-query"
	checkA(t, dnstest.ExchangeDoH(t, "GET", url, roots, query("example.org.", dns.TypeA)), "192.0.2.77")
	r := dnstest.ExchangeDoH(t, "POST", url, roots, query("nothing.example.org.", dns.TypeA))
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if up.Count() != 3 {
		t.Errorf("upstream saw %d queries, want 3", up.Count())
	}
	// Observe runs after the answer is written: shutdown waits for it.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Observe runs after each answer is written, so the DoT query's may
	// come after the next query's: compare them in a fixed order.
	sort.Strings(observed)
	got := strings.Join(observed, ", ")
	if want := "doh example.org. NOERROR, doh nothing.example.org. NXDOMAIN, dot example.org. NOERROR"; got != want {
		t.Errorf("observed %s, want %s", got, want)
	}
}

func TestStartNeedsCertificate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []*tls.Config{nil, {}} {
		s := New(Options{TLSListen: []string{"127.0.0.1:0"}, Resolver: newTableChain(t), TLSConfig: cfg})
		if err := s.Start(); err == nil {
			s.Shutdown(context.Background())
			t.Errorf("started DoT with TLS config %v", cfg)
		}
	}
}

// TestStartFailureBindsNothing: a DoH address that cannot be bound undoes
// the listeners already bound, DoT's among them.
func TestStartFailureBindsNothing(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cert, _ := testCert(t)
	// DoT takes a port that was free a moment ago. Another test may take
	// it first, and DoT then fails instead of DoH: try again.
	var dotAddr string
	for try := 0; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.77:0")
		if err != nil {
			t.Fatal(err)
		}
		dotAddr = l.Addr().String()
		l.Close()
		s := New(Options{
			Listen:      []string{"127.0.0.1:0"},
			TLSListen:   []string{dotAddr},
			HTTPSListen: []string{taken.Addr().String()},
			TLSConfig:   &tls.Config{Certificates: []tls.Certificate{cert}},
			Resolver:    newTableChain(t),
		})
		err = s.Start()
		if err == nil {
			s.Shutdown(context.Background())
			t.Fatal("started with a taken DoH address")
		}
		if len(s.TLSAddrs())+len(s.HTTPSAddrs())+len(s.Addrs()) != 0 {
			t.Errorf("addresses left after a failed start: %v %v %v", s.Addrs(), s.TLSAddrs(), s.HTTPSAddrs())
		}
		if strings.Contains(err.Error(), "listen https") {
			break
		}
		if try == 2 {
			t.Fatalf("DoT never bound: %v", err)
		}
	}
	// Nothing listens there any more. (Binding the address again would
	// test the same, but a parallel test's socket may hold the port by
	// then.)
	c, err := net.DialTimeout("tcp", dotAddr, time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("DoT address %s still accepts connections after a failed start", dotAddr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", dotAddr, err)
	}
}

func TestKdigTLS(t *testing.T) {
	t.Parallel()
	kdig, err := exec.LookPath("kdig")
	if err != nil {
		t.Skip("kdig is not installed (knot-dnsutils): kdig +tls test not run")
	}
	chain := newTableChain(t)
	s := startTLS(t, Options{Resolver: chain}, nil)
	host, port, _ := net.SplitHostPort(s.dotAddr())
	ca := certFile(t, s.cert)
	out, err := exec.Command(kdig, "@"+host, "-p", port, "+tls-ca="+ca,
		"+tls-hostname=kidtablet."+testServerName, "+tls-sni=kidtablet."+testServerName,
		"+timeout=5", "+retry=0", "example.com", "A").CombinedOutput()
	if err != nil {
		t.Fatalf("kdig: %v\n%s", err, out)
	}
	for _, want := range []string{"status: NOERROR", "192.0.2.1", ";; TLS session"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("kdig output lacks %q:\n%s", want, out)
		}
	}
	if got := chain.last(t); got.ClientID != "kidtablet" || got.Proto != resolver.DoT {
		t.Errorf("chain saw %+v, want client id kidtablet over DoT", got)
	}
}

func BenchmarkDoT(b *testing.B) {
	s := startTLS(b, Options{}, nil)
	c := s.dialTLS(b, "")
	q := query("example.com.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMsg(q); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ReadMsg(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccept(b *testing.B) {
	q := query("www.example.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	wire, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if req, _ := accept(wire); req == nil {
			b.Fatal("not accepted")
		}
	}
}
