package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

func resolverQuery(m *dns.Msg) *resolver.Query {
	return &resolver.Query{Msg: m, Client: netip.MustParseAddr("127.0.0.1"), Proto: resolver.UDP}
}

func TestForwarderRoutes(t *testing.T) {
	t.Parallel()
	def := dnstest.NewUpstream(t, nil)
	home := dnstest.NewUpstream(t, nil)
	sub := dnstest.NewUpstream(t, nil)
	arpa := dnstest.NewUpstream(t, nil)
	f := NewForwarder(group(t, GroupOptions{}, def), []Route{
		{Domain: "Home.Arpa", Group: group(t, GroupOptions{}, home)}, // canonicalised
		{Domain: "x.home.arpa.", Group: group(t, GroupOptions{}, sub)},
		{Domain: "arpa.", Group: group(t, GroupOptions{}, arpa)},
		{Domain: "arpa.", Group: group(t, GroupOptions{}, def)}, // duplicate: the first counts
	})
	tests := []struct {
		qname string
		want  *dnstest.Upstream
	}{
		{"home.arpa.", home},
		{"host.home.arpa.", home},
		{"xhome.arpa.", arpa},
		{"x.home.arpa.", sub},
		{"a.b.x.home.arpa.", sub},
		{"1.0.0.127.in-addr.arpa.", arpa},
		{"arpa.", arpa},
		{"notarpa.", def},
		{"foo.notarpa.", def},
		{"example.com.", def},
		{".", def},
	}
	for _, tc := range tests {
		t.Run(tc.qname, func(t *testing.T) {
			q := resolverQuery(dnstest.Query(tc.qname, dns.TypeA))
			if _, err := f.Resolve(context.Background(), q); err != nil {
				t.Fatal(err)
			}
			if q.Trace.Upstream != name(tc.want) {
				t.Errorf("forwarded to %s, want %s", q.Trace.Upstream, name(tc.want))
			}
		})
	}
}

func TestForwarderRootRoute(t *testing.T) {
	t.Parallel()
	def := dnstest.NewUpstream(t, nil)
	root := dnstest.NewUpstream(t, nil)
	f := NewForwarder(group(t, GroupOptions{}, def), []Route{{Domain: ".", Group: group(t, GroupOptions{}, root)}})
	for _, qname := range []string{".", "example.com."} {
		q := resolverQuery(dnstest.Query(qname, dns.TypeA))
		if _, err := f.Resolve(context.Background(), q); err != nil || q.Trace.Upstream != name(root) {
			t.Errorf("%s: forwarded to %q (%v), want %s", qname, q.Trace.Upstream, err, name(root))
		}
	}
}

// TestForwarderQuery checks the query that goes upstream and the answer that
// comes back.
func TestForwarderQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		edns       bool
		do, cd, ad bool
	}{
		{"plain", false, false, false, false},
		{"edns", true, false, false, false},
		{"do", true, true, false, false},
		{"cd", true, false, true, false},
		{"do cd ad", true, true, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Echo sends the query back, OPT and all.
			up := dnstest.NewUpstream(t, dnstest.EchoHandler())
			f := NewForwarder(group(t, GroupOptions{}, up), nil)

			m := dnstest.Query("example.com.", dns.TypeA)
			m.Id = 4242
			m.RecursionDesired = false
			m.CheckingDisabled = tc.cd
			m.AuthenticatedData = tc.ad
			if tc.edns {
				m.SetEdns0(4096, tc.do)
				o := m.IsEdns0()
				o.Option = append(o.Option,
					&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{198, 51, 100, 0}},
					&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
			}
			orig := m.Copy()
			r, err := f.Resolve(context.Background(), resolverQuery(m))
			if err != nil {
				t.Fatal(err)
			}

			sent := up.LastRequest()
			o := sent.IsEdns0()
			switch {
			case !sent.RecursionDesired:
				t.Error("RD not set upstream")
			case sent.CheckingDisabled != tc.cd || sent.AuthenticatedData != tc.ad:
				t.Errorf("upstream CD=%v AD=%v, want %v %v", sent.CheckingDisabled, sent.AuthenticatedData, tc.cd, tc.ad)
			case o == nil || o.UDPSize() != ednsSize || o.Do() != tc.do:
				t.Errorf("upstream OPT %v, want size %d DO=%v", o, ednsSize, tc.do)
			case len(o.Option) != 0:
				t.Errorf("client EDNS options went upstream: %v", o.Option)
			case len(sent.Question) != 1 || sent.Question[0] != m.Question[0] || len(sent.Answer)+len(sent.Ns) != 0:
				t.Errorf("upstream query:\n%v", sent)
			}

			if r.Id != 4242 || r.RecursionDesired || r.IsEdns0() != nil || r.Question[0] != m.Question[0] {
				t.Errorf("answer, want ID 4242, RD clear, no OPT:\n%v", r)
			}
			if m.String() != orig.String() {
				t.Errorf("client query modified:\n%v\nwas\n%v", m, orig)
			}
		})
	}
}

// TestForwarderQueryReuse: the upstream query's memory is reused from one
// forwarded query to the next, and nothing of one client's query (its DNSSEC
// bits, its name) may stay in the next one's.
func TestForwarderQueryReuse(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.EchoHandler())
	f := NewForwarder(group(t, GroupOptions{}, up), nil)
	for i := range 40 {
		do, cd, ad := i%2 == 0, i%3 == 0, i%5 == 0
		m := dnstest.Query(fmt.Sprintf("q%d.example.", i), dns.TypeA)
		m.CheckingDisabled, m.AuthenticatedData = cd, ad
		if i%4 != 3 {
			m.SetEdns0(4096, do)
		} else {
			do = false // no OPT, no DO
		}
		if _, err := f.Resolve(context.Background(), resolverQuery(m)); err != nil {
			t.Fatal(err)
		}
		sent := up.LastRequest()
		o := sent.IsEdns0()
		if sent.Question[0] != m.Question[0] || sent.CheckingDisabled != cd || sent.AuthenticatedData != ad ||
			o == nil || o.Do() != do || len(sent.Extra) != 1 {
			t.Fatalf("query %d (DO %v CD %v AD %v) went upstream as:\n%v", i, do, cd, ad, sent)
		}
	}
}

func TestForwarderAnswer(t *testing.T) {
	t.Parallel()
	zone := dnstest.ZoneHandler(records...)
	shouting := dnstest.ModifyHandler(zone, func(m *dns.Msg) {
		m.Question[0].Name = strings.ToUpper(m.Question[0].Name) // DNS 0x20
	})
	up := dnstest.NewUpstream(t, shouting)
	f := NewForwarder(group(t, GroupOptions{}, up), nil)
	m := dnstest.Query("example.com.", dns.TypeA)
	m.SetEdns0(1232, true)
	q := resolverQuery(m)
	r, err := f.Resolve(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 2 || r.Question[0].Name != "example.com." || r.IsEdns0() != nil || len(r.Extra) != 0 {
		t.Errorf("answer:\n%v", r)
	}
	if q.Trace.Upstream != name(up) {
		t.Errorf("trace upstream %q", q.Trace.Upstream)
	}
}

func TestForwarderFailure(t *testing.T) {
	t.Parallel()
	dead := dnstest.NewUpstream(t, nil)
	dead.Close()
	servfail := dnstest.NewUpstream(t, dnstest.RcodeHandler(dns.RcodeServerFailure))

	f := NewForwarder(group(t, GroupOptions{}, dead), nil)
	q := resolverQuery(dnstest.Query("example.com.", dns.TypeA))
	if r, err := f.Resolve(context.Background(), q); err == nil || r != nil || q.Trace.Upstream != "" {
		t.Errorf("dead upstream: answer %v, error %v, trace %q", r, err, q.Trace.Upstream)
	}

	f = NewForwarder(group(t, GroupOptions{}, dead, servfail), nil)
	q = resolverQuery(dnstest.Query("example.com.", dns.TypeA))
	r, err := f.Resolve(context.Background(), q)
	if err != nil || r.Rcode != dns.RcodeServerFailure || q.Trace.Upstream != name(servfail) {
		t.Errorf("SERVFAIL upstream: answer %v, error %v, trace %q", r, err, q.Trace.Upstream)
	}

	f = NewForwarder(nil, nil)
	if _, err := f.Resolve(context.Background(), resolverQuery(dnstest.Query("example.com.", dns.TypeA))); err == nil {
		t.Error("no error without upstreams")
	}
	if _, err := f.Resolve(context.Background(), resolverQuery(new(dns.Msg))); err == nil {
		t.Error("no error for a query without a question")
	}
}

// TestForwarderPrefetched: a query the server sent upstream itself is
// answered from its prefetched answer, which counts as an exchange with
// the upstream that gave it; one whose answer is for another question is
// refused, and neither goes out.
func TestForwarderPrefetched(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(records...))
	g := group(t, GroupOptions{}, up)
	f := NewForwarder(g, nil)

	ans := new(dns.Msg)
	ans.SetReply(dnstest.Query("EXAMPLE.com.", dns.TypeA))
	ans.Id = 999
	rr, err := dns.NewRR("example.com. 60 IN A 192.0.2.99")
	if err != nil {
		t.Fatal(err)
	}
	ans.Answer = []dns.RR{rr}
	ans.SetEdns0(1232, false)
	m := dnstest.Query("example.com.", dns.TypeA)
	m.Id = 7
	q := resolverQuery(m)
	p := &resolver.Prefetched{Msg: ans, Upstream: name(up), RTT: 5 * time.Millisecond}
	q.Prefetched = p
	r, err := f.Resolve(context.Background(), q)
	if err != nil || p.Refused {
		t.Fatalf("answer %v, error %v, refused %v", r, err, p.Refused)
	}
	if r.Id != 7 || r.Question[0].Name != "example.com." || len(r.Answer) != 1 || r.IsEdns0() != nil {
		t.Errorf("answer:\n%v", r)
	}
	if q.Trace.Upstream != name(up) {
		t.Errorf("trace upstream %q", q.Trace.Upstream)
	}
	if st := g.Status()[0]; st.Queries != 1 || st.LastRTT != 5*time.Millisecond {
		t.Errorf("status after a prefetched answer: %+v", st)
	}

	q = resolverQuery(dnstest.Query("other.example.", dns.TypeA))
	p = &resolver.Prefetched{Msg: ans, Upstream: name(up)}
	q.Prefetched = p
	if r, err := f.Resolve(context.Background(), q); !errors.Is(err, resolver.ErrWouldWait) || r != nil || !p.Refused {
		t.Errorf("answer for another question: answer %v, error %v, refused %v", r, err, p.Refused)
	}
	if n := up.Count(); n != 0 {
		t.Errorf("upstream asked %d times", n)
	}
}

// TestForwarderTarget: where the server may send a query itself is the
// first healthy upstream of the name's group, if that is plain UDP; the
// query it packs is the one Resolve sends.
func TestForwarderTarget(t *testing.T) {
	t.Parallel()
	a := dnstest.NewUpstream(t, dnstest.EchoHandler())
	b := dnstest.NewUpstream(t, dnstest.EchoHandler())
	g := group(t, GroupOptions{}, a, b)
	tcp := NewGroup([]Upstream{client(t, b, "tcp", 0)}, GroupOptions{})
	f := NewForwarder(g, []Route{{Domain: "tcp.example.", Group: tcp}})

	to, who, ok := f.Target("www.example.")
	if !ok || to.String() != a.Addr() || who != name(a) {
		t.Errorf("target %v %q %v, want %s", to, who, ok, a.Addr())
	}
	g.failed(g.members[0], errors.New("test"))
	if to, who, ok = f.Target("www.example."); !ok || to.String() != b.Addr() || who != name(b) {
		t.Errorf("first upstream backing off: target %v %q %v, want %s", to, who, ok, b.Addr())
	}
	if _, _, ok = f.Target("www.tcp.example."); ok {
		t.Error("a TCP upstream is a target")
	}

	m := dnstest.Query("www.example.", dns.TypeAAAA)
	m.SetEdns0(4096, true)
	m.CheckingDisabled = true
	if _, err := f.Resolve(context.Background(), resolverQuery(m)); err != nil {
		t.Fatal(err)
	}
	sent := b.LastRequest()
	w, err := PackQuery(make([]byte, 512), sent.Id, m)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := sent.Pack(); string(w) != string(want) {
		t.Errorf("packed query\n%v\nwent upstream as\n%v", w, sent)
	}
}
