package haven_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestFloodIsLimited sends a bounded flood from one loopback address while
// a well-behaved client on another keeps asking: the flooder is held to its
// rate, the other client gets every answer. The flood is a fixed number of
// queries and stops by itself.
func TestFloodIsLimited(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf(`upstreams: ["udp://%s"]
lists: {}
block: []
rate_limit: {client: 50, burst: 50, exempt: []}
`, up.Addr()), haven.Options{})

	const flood = 4000
	var wg sync.WaitGroup
	var served, refused, lost int
	begin := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Eight pipelines from 127.0.0.2, each waiting for its answer, so
		// the flood is as fast as the server answers and no faster.
		var mu sync.Mutex
		var inner sync.WaitGroup
		for p := 0; p < 8; p++ {
			inner.Add(1)
			go func() {
				defer inner.Done()
				for i := 0; i < flood/8; i++ {
					r, err := exchangeFrom("127.0.0.2", "udp", h.Addr(), dnstest.Query("example.com.", dns.TypeA))
					mu.Lock()
					switch {
					case err != nil:
						lost++
					case r.Rcode == dns.RcodeRefused:
						refused++
					default:
						served++
					}
					mu.Unlock()
				}
			}()
		}
		inner.Wait()
	}()
	var good []string
	for i := 0; i < 20; i++ {
		r, err := exchangeFrom("127.0.0.3", "udp", h.Addr(), dnstest.Query("example.com.", dns.TypeA))
		if err != nil {
			good = append(good, err.Error())
		} else if r.Rcode != dns.RcodeSuccess {
			good = append(good, dns.RcodeToString[r.Rcode])
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	took := time.Since(begin)
	if len(good) > 0 {
		t.Errorf("well-behaved client failed %d of 20 times during the flood: %v", len(good), good)
	}
	// The flooder may have its burst plus 50 per second of the flood's
	// duration; allow one more second of slack for scheduling.
	allowed := 50 + int(50*(took.Seconds()+1))
	if served > allowed {
		t.Errorf("flooder served %d queries in %v, want at most %d", served, took, allowed)
	}
	if refused == 0 {
		t.Errorf("flooder never refused")
	}
	t.Logf("flood of %d queries from 127.0.0.2 in %v: %d served, %d refused, %d lost; the other client: 20 of 20 answered",
		flood, took.Round(time.Millisecond), served, refused, lost)
}

// TestNotAnOpenResolver checks the default access rules through a real
// socket: a loopback client is served. Addresses outside the private
// ranges cannot be bound here, so their refusal is proven in
// server/access's tests; this proves the guard is wired in front of the
// chain, via a deny rule on one loopback address.
func TestNotAnOpenResolver(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf(`upstreams: ["udp://%s"]
lists: {}
block: []
access: {deny: [127.0.0.9]}
`, up.Addr()), haven.Options{})
	before := up.Count()
	r, err := exchangeFrom("127.0.0.9", "udp", h.Addr(), dnstest.Query("example.com.", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("denied client: %s with %d answers, want REFUSED and none", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if up.Count() != before {
		t.Errorf("a denied query reached the upstream")
	}
	if r := askFrom(t, "127.0.0.10", h.Addr(), "example.com.", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Errorf("allowed loopback client: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestANYIsMinimal checks the RFC 8482 answer to ANY.
func TestANYIsMinimal(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	before := up.Count()
	r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeANY, false)
	if len(r.Answer) != 1 {
		t.Fatalf("ANY: %d records, want the one HINFO", len(r.Answer))
	}
	if hi, ok := r.Answer[0].(*dns.HINFO); !ok || hi.Cpu != "RFC8482" {
		t.Errorf("ANY answer %v, want HINFO \"RFC8482\"", r.Answer[0])
	}
	if up.Count() != before {
		t.Errorf("ANY went upstream")
	}
}
