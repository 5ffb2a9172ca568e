package haven_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestDefaultListen starts Haven on the built-in default's listen
// addresses, moved from port 53 to a free port, and asks it over IPv4 and
// IPv6 loopback: the defaults must be bindable together, on both
// families.
func TestDefaultListen(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler("example.com. 300 IN A 192.0.2.1"))
	u, err := config.ParseUpstream("udp://" + up.Addr())
	if err != nil {
		t.Fatal(err)
	}
	var (
		h    *haven.Haven
		port string
	)
	// A port free a moment ago may be taken by a parallel test before
	// Haven binds it: a few tries tell that from a clash of the defaults,
	// which fails every time.
	for try := 0; h == nil; try++ {
		cfg := config.Default()
		cfg.Upstreams = []config.Upstream{u}
		port = strconv.Itoa(freePort(t))
		for i, a := range cfg.Listen {
			host, p, _ := net.SplitHostPort(a)
			if p != "53" {
				t.Fatalf("default listen %q is not on port 53", a)
			}
			cfg.Listen[i] = net.JoinHostPort(host, port)
		}
		cand, err := haven.New(cfg, haven.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = cand.Start(context.Background())
		if err == nil {
			h = cand
			break
		}
		if try == 2 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("listen %v: %v", cfg.Listen, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	hosts := []string{"127.0.0.1"}
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		c.Close()
		hosts = append(hosts, "::1")
	} else {
		t.Logf("no IPv6 loopback (%v): asked over IPv4 only", err)
	}
	for _, host := range hosts {
		for _, proto := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
			r, _, err := c.Exchange(dnstest.Query("example.com.", dns.TypeA), net.JoinHostPort(host, port))
			if err != nil {
				t.Fatalf("%s over %s: %v", host, proto, err)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
				t.Errorf("%s over %s: %v", host, proto, r.Answer)
			}
		}
	}
}

// freePort returns a loopback port that was free on both UDP and TCP a
// moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port on both UDP and TCP")
	return 0
}
