package haven_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestQueryLogSlowerThanQueries fills a one-entry query log buffer far
// faster than the SQLite writer takes entries: every DNS query is still
// answered, and the log drops and counts what it cannot keep. (That
// written plus dropped equals added is proven in package querylog.)
func TestQueryLogSlowerThanQueries(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf(`upstreams: ["udp://%s"]
data_dir: %q
querylog: {buffer: 1}
lists: {}
block: []
`, up.Addr(), t.TempDir()), haven.Options{})

	const queries = 2000
	stop := queryLoop(h.Addr, "example.com.")
	var answered int
	for i := 0; i < queries; i++ {
		r, err := exchangeFrom("", "udp", h.Addr(), dnstest.Query("example.com.", dns.TypeA))
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if r.Rcode == dns.RcodeSuccess {
			answered++
		}
	}
	total, failed := stop()
	if answered != queries || failed != 0 {
		t.Fatalf("%d of %d answered, %d of %d loop queries failed, while the log was overrun", answered, queries, failed, total)
	}
	st, err := h.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.QueryLog == nil {
		t.Fatal("no query log status")
	}
	if st.QueryLog.Dropped == 0 {
		t.Errorf("a one-entry buffer dropped nothing under %d queries: written %d", queries+int(total), st.QueryLog.Written)
	}
	t.Logf("%d queries answered while the log wrote %d and dropped %d", queries+int(total), st.QueryLog.Written, st.QueryLog.Dropped)
}
