package haven_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

func TestReloadUnderLoad(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	file := t.TempDir() + "/haven.yaml"
	base := fmt.Sprintf("listen: [\"127.0.0.1:0\"]\nupstreams: [\"udp://%s\"]\nlists: {adult: [{inline: [adult.test]}], gambling: [{inline: [casino.test]}]}\n", up.Addr())
	h, _ := launchFile(t, file, base+"block: [adult]\n", haven.Options{})
	if r := ask(t, "udp", h.Addr(), "casino.test.", dns.TypeA, true); ede(r) != nil {
		t.Fatalf("casino.test blocked before its category is")
	}

	stop := queryLoop(h.Addr, "example.com.")
	// Every other reload also changes the cache size, which rebuilds the
	// cache and upstream tail under the policy.
	const reloads = 30
	for i := 0; i < reloads; i++ {
		block, size := "[adult]", 1000
		if i%2 == 0 {
			block, size = "[adult, gambling]", 2000
		}
		rewrite(t, file, base+fmt.Sprintf("block: %s\ncache: {size: %d}\n", block, size))
		if err := h.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	total, failed := stop()
	if total == 0 || failed != 0 {
		t.Fatalf("%d of %d queries failed across %d reloads", failed, total, reloads)
	}
	t.Logf("%d queries, none failed, across %d reloads", total, reloads)
	// The last reload blocks only adult; one more makes gambling blocked.
	rewrite(t, file, base+"block: [adult, gambling]\n")
	if err := h.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := ask(t, "udp", h.Addr(), "casino.test.", dns.TypeA, true); ede(r) == nil {
		t.Errorf("casino.test not blocked after the reload that blocks gambling")
	}
}

func TestReloadRejectsBadConfig(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	file := t.TempDir() + "/haven.yaml"
	good := fmt.Sprintf("listen: [\"127.0.0.1:0\"]\nupstreams: [\"udp://%s\"]\nlists: {adult: [{inline: [adult.test]}]}\nblock: [adult]\n", up.Addr())
	h, _ := launchFile(t, file, good, haven.Options{})
	rewrite(t, file, good+"block: [adult, nosuch]\ncache: {sise: 10}\n")
	err := h.Reload(context.Background())
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{file + ":5:", file + ":6:", "sise"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The old config keeps serving.
	if r := ask(t, "udp", h.Addr(), "adult.test.", dns.TypeA, true); ede(r) == nil {
		t.Errorf("old config not serving after a rejected reload")
	}
	if r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false); r.Rcode != dns.RcodeSuccess {
		t.Errorf("forwarding broken after a rejected reload: %s", dns.RcodeToString[r.Rcode])
	}
}

func TestReloadSwapsUpstreamsAndListeners(t *testing.T) {
	one := dnstest.NewUpstream(t, dnstest.ZoneHandler("example.com. 300 IN A 192.0.2.1"))
	two := dnstest.NewUpstream(t, dnstest.ZoneHandler("example.com. 300 IN A 192.0.2.2"))
	file := t.TempDir() + "/haven.yaml"
	h, _ := launchFile(t, file, fmt.Sprintf("listen: [\"127.0.0.1:0\"]\nupstreams: [\"udp://%s\"]\ncache: {size: 0}\nlists: {}\nblock: []\n", one.Addr()), haven.Options{})
	if r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false); r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("first upstream not used: %v", r.Answer)
	}
	// A free port to move the listeners to, on a loopback address of its
	// own: on 127.0.0.1 a parallel test's socket may take the port before
	// the reload binds it.
	l, err := net.ListenPacket("udp", "127.0.0.80:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	oldAddr := h.Addr()
	rewrite(t, file, fmt.Sprintf("listen: [\"127.0.0.80:%d\"]\nupstreams: [\"udp://%s\"]\ncache: {size: 0}\nlists: {}\nblock: []\n", port, two.Addr()))
	if err := h.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.Addr(); got != fmt.Sprintf("127.0.0.80:%d", port) {
		t.Fatalf("listening on %s after reload, want port %d", got, port)
	}
	if r := ask(t, "tcp", h.Addr(), "example.com.", dns.TypeA, false); r.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("new upstream not used after reload: %v", r.Answer)
	}
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(dnstest.Query("example.com.", dns.TypeA), oldAddr); err == nil {
		t.Errorf("old listener %s still answers", oldAddr)
	}
}

// TestReloadRebindsForUDPReaders: changing how UDP is read (udp_readers,
// udp_batch) binds the listeners anew, as a new address does: with port
// 0, the new listener has a new port, and it answers.
func TestReloadRebindsForUDPReaders(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler("example.com. 300 IN A 192.0.2.1"))
	file := t.TempDir() + "/haven.yaml"
	base := fmt.Sprintf("listen: [\"127.0.0.1:0\"]\nupstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr())
	h, _ := launchFile(t, file, base+"udp_readers: 1\n", haven.Options{})
	for _, change := range []string{"udp_readers: 3\n", "udp_readers: 3\nudp_batch: false\n"} {
		before := h.Addr()
		rewrite(t, file, base+change)
		if err := h.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if h.Addr() == before {
			t.Errorf("%q: still listening on %s, not bound anew", change, before)
		}
		if r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false); len(r.Answer) != 1 {
			t.Errorf("%q: answer %v after the reload", change, r.Answer)
		}
	}
}

func TestWatchConfigReloadsOnChange(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	file := t.TempDir() + "/haven.yaml"
	base := fmt.Sprintf("listen: [\"127.0.0.1:0\"]\nupstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr())
	h, _ := launchFile(t, file, base, haven.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.WatchConfig(ctx, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	rewrite(t, file, base+"deny: [example.com]\n")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, true); ede(r) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("config file change not picked up within 5s")
}
