package haven_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// The console tests run a whole Haven with its HTTP API, query log and
// metrics on, make DNS queries over real sockets from the addresses of two
// devices, and check what the parents' and admins' endpoints say about
// them.

const (
	tabletIP = "127.0.0.2" // kid-tablet, profile kids: everything logged
	phoneIP  = "127.0.0.3" // teen-phone, profile teens: only blocks logged
	otherIP  = "127.0.0.1" // no device: profile adults, nothing logged
	deniedIP = "127.0.0.9" // in access.deny when a test asks for it
	floodIP  = "127.0.0.8" // the one client rate-limited when a test asks for it
)

var consoleZone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"homework.test. 300 IN A 192.0.2.20",
	"new.test. 300 IN A 192.0.2.40",
}

// consoleConfig is the config of the console tests; extra is appended as
// more top-level keys.
func consoleConfig(upURL, dataDir, extra string) string {
	return fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
data_dir: %q
http: "127.0.0.1:0"
lists:
  adult: [{inline: [adult.test]}]
  gambling: [{inline: [casino.test]}]
profiles:
  kids: {block: [adult, gambling]}
  teens: {block: [adult], log: blocked}
  adults: {log: none}
default_profile: adults
devices:
  - {name: kid-tablet, match: [%q], profile: kids}
  - {name: teen-phone, match: [%q], profile: teens}
%s`, upURL, dataDir, tabletIP, phoneIP, extra)
}

// consoleEnv is a running Haven and what it takes to call its API.
type consoleEnv struct {
	h       *haven.Haven
	base    string // http://127.0.0.1:PORT
	token   string
	file    string // the config file
	body    string // what the file held at start
	dataDir string
	client  *http.Client
}

func startConsole(tb testing.TB, extra string) *consoleEnv {
	tb.Helper()
	_, upURL := fakeUpstream(tb, consoleZone...)
	dir := tb.TempDir()
	e := &consoleEnv{file: filepath.Join(dir, "haven.yaml"), dataDir: filepath.Join(dir, "data")}
	e.body = consoleConfig(upURL, e.dataDir, extra)
	e.h, _ = launchFile(tb, e.file, e.body, haven.Options{})
	if e.h.APIAddr() == "" {
		tb.Fatal("the HTTP API is not on")
	}
	e.base = "http://" + e.h.APIAddr()
	var err error
	if e.token, err = api.ReadToken(e.dataDir); err != nil {
		tb.Fatal(err)
	}
	// No proxy, no redirects followed: the tests look at the 303s.
	tr := &http.Transport{}
	tb.Cleanup(tr.CloseIdleConnections)
	e.client = &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

// call sends one request with tok as its bearer token ("" for none) and
// returns the response with its body read.
func (e *consoleEnv) call(tb testing.TB, method, path, tok, body string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, data
}

// getJSON GETs path with the token, wants 200, and decodes the answer
// into v.
func (e *consoleEnv) getJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	resp, body := e.call(tb, http.MethodGet, path, e.token, "")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		tb.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// logPage is one answer of GET /api/v1/log.
type logPage struct {
	Rows []api.LogRow `json:"rows"`
	Next int64        `json:"next"`
}

// search GETs one page of the query log with the given parameters.
func (e *consoleEnv) search(tb testing.TB, params url.Values) logPage {
	tb.Helper()
	var p logPage
	e.getJSON(tb, "/api/v1/log?"+params.Encode(), &p)
	return p
}

// waitLog polls the log (writes are batched, about once a second) until
// the search with params has exactly n rows, and returns them.
func (e *consoleEnv) waitLog(tb testing.TB, params url.Values, n int) []api.LogRow {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := e.search(tb, params)
		if len(p.Rows) == n {
			return p.Rows
		}
		if len(p.Rows) > n || time.Now().After(deadline) {
			tb.Fatalf("log search %s: %d rows, want %d: %+v", params.Encode(), len(p.Rows), n, p.Rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dig asks name (type A, with EDNS) from src and returns the outcome.
func (e *consoleEnv) dig(tb testing.TB, src, name string) string {
	tb.Helper()
	return outcome(askFrom(tb, src, e.h.Addr(), name, dns.TypeA))
}

// mustDig is dig for an answer the test depends on.
func (e *consoleEnv) mustDig(tb testing.TB, src, name, want string) {
	tb.Helper()
	if got := e.dig(tb, src, name); got != want {
		tb.Fatalf("%s asks %s: %q, want %q", src, name, got, want)
	}
}

func logParams(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func rowNames(rows []api.LogRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// TestConsoleQueryLog makes queries from two devices and a stranger and
// follows them through the query log API: what is logged for each
// profile's log level, the rows' fields, the filters, paging, the
// statistics, and deleting one device's history.
func TestConsoleQueryLog(t *testing.T) {
	t.Parallel()
	e := startConsole(t, "")

	// Queries that must not be logged come first, so that once the later
	// ones are in the log these would be too.
	e.mustDig(t, otherIP, "example.com", "NOERROR A 192.0.2.1")
	e.mustDig(t, otherIP, "adult.test", "NXDOMAIN") // adults block nothing: the fake upstream does not know it
	e.mustDig(t, phoneIP, "example.com", "NOERROR A 192.0.2.1")
	e.mustDig(t, phoneIP, "adult.test", "NXDOMAIN blocked:adult")
	e.mustDig(t, tabletIP, "example.com", "NOERROR A 192.0.2.1")
	e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
	e.mustDig(t, tabletIP, "casino.test", "NXDOMAIN blocked:gambling")
	e.mustDig(t, tabletIP, "homework.test", "NOERROR A 192.0.2.20")

	tablet := e.waitLog(t, logParams("device", "kid-tablet"), 4)
	phone := e.waitLog(t, logParams("device", "teen-phone"), 1)

	t.Run("rows", func(t *testing.T) {
		want := map[string]struct{ decision, category, rcode string }{
			"example.com":   {"allowed", "", "NOERROR"},
			"adult.test":    {"blocked", "adult", "NXDOMAIN"},
			"casino.test":   {"blocked", "gambling", "NXDOMAIN"},
			"homework.test": {"allowed", "", "NOERROR"},
		}
		for _, r := range tablet {
			w, ok := want[r.Name]
			if !ok {
				t.Errorf("unexpected row %+v", r)
				continue
			}
			delete(want, r.Name)
			if r.Device != "kid-tablet" || r.Profile != "kids" || r.Client != tabletIP || r.Proto != "udp" || r.Type != "A" ||
				r.Decision != w.decision || r.Category != w.category || r.Rcode != w.rcode {
				t.Errorf("row %+v: want device kid-tablet, profile kids, client %s, udp A, %+v", r, tabletIP, w)
			}
		}
		for n := range want {
			t.Errorf("no row for the tablet's query of %s", n)
		}
		// Newest first.
		for i := 1; i < len(tablet); i++ {
			if tablet[i].ID >= tablet[i-1].ID || tablet[i].Time.After(tablet[i-1].Time) {
				t.Errorf("rows not newest first: %d (%s) before %d (%s)", tablet[i-1].ID, tablet[i-1].Time, tablet[i].ID, tablet[i].Time)
			}
		}
	})

	t.Run("log levels", func(t *testing.T) {
		// teens: log blocked; adults: log none.
		if len(phone) != 1 || phone[0].Name != "adult.test" || phone[0].Decision != "blocked" || phone[0].Profile != "teens" {
			t.Errorf("teen-phone rows %+v, want only its blocked adult.test", phone)
		}
		all := e.search(t, logParams("limit", "1000"))
		if len(all.Rows) != 5 {
			t.Errorf("%d rows in the whole log, want 5 (4 tablet, 1 phone): %+v", len(all.Rows), all.Rows)
		}
		for _, r := range all.Rows {
			if r.Profile == "adults" || r.Client == otherIP {
				t.Errorf("a query of the adults profile (log: none) was logged: %+v", r)
			}
		}
		if p := e.search(t, logParams("profile", "adults")); len(p.Rows) != 0 {
			t.Errorf("profile=adults finds %+v", p.Rows)
		}
	})

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			params url.Values
			want   []string
		}{
			{logParams("decision", "blocked"), []string{"adult.test", "adult.test", "casino.test"}},
			{logParams("decision", "allowed"), []string{"example.com", "homework.test"}},
			{logParams("device", "kid-tablet", "decision", "blocked"), []string{"adult.test", "casino.test"}},
			{logParams("device", "teen-phone", "decision", "allowed"), nil},
			{logParams("category", "gambling"), []string{"casino.test"}},
			{logParams("name", "WORK"), []string{"homework.test"}},
			{logParams("client", phoneIP), []string{"adult.test"}},
		}
		for _, tc := range tests {
			rows := e.search(t, tc.params).Rows
			if got := rowNames(rows); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %q, want %q", tc.params.Encode(), got, tc.want)
			}
			for _, r := range rows {
				if d := tc.params.Get("decision"); d != "" && r.Decision != d {
					t.Errorf("%s: row %+v", tc.params.Encode(), r)
				}
				if d := tc.params.Get("device"); d != "" && r.Device != d {
					t.Errorf("%s: row %+v", tc.params.Encode(), r)
				}
			}
		}
		// A typo never widens a search.
		if resp, body := e.call(t, http.MethodGet, "/api/v1/log?devise=kid-tablet", e.token, ""); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("unknown parameter: %s %s, want 400", resp.Status, body)
		}
	})

	t.Run("paging", func(t *testing.T) {
		for i := range 7 {
			e.dig(t, tabletIP, fmt.Sprintf("page%d.test", i))
		}
		all := e.waitLog(t, logParams("device", "kid-tablet", "limit", "1000"), 11)
		var ids []int64
		before, pages := "", 0
		for {
			p := logParams("device", "kid-tablet", "limit", "3")
			if before != "" {
				p.Set("before", before)
			}
			page := e.search(t, p)
			pages++
			if len(page.Rows) > 3 || pages > 10 {
				t.Fatalf("page %d: %d rows with limit 3", pages, len(page.Rows))
			}
			for _, r := range page.Rows {
				ids = append(ids, r.ID)
			}
			if page.Next == 0 {
				break
			}
			before = fmt.Sprint(page.Next)
		}
		var want []int64
		for _, r := range all {
			want = append(want, r.ID)
		}
		if pages != 4 || !slices.Equal(ids, want) {
			t.Errorf("paged with limit 3: %d pages, ids %v; want 4 pages and %v", pages, ids, want)
		}
	})

	t.Run("stats", func(t *testing.T) {
		var st struct {
			Stats []struct {
				Key            string
				Total, Blocked int
			} `json:"stats"`
		}
		e.getJSON(t, "/api/v1/stats?bucket=hour&by=category", &st)
		total, blocked := 0, map[string]int{}
		for _, s := range st.Stats {
			total += s.Total
			blocked[s.Key] += s.Blocked
		}
		if total != 12 || blocked["adult"] != 2 || blocked["gambling"] != 1 || len(st.Stats) == 0 {
			t.Errorf("stats by category: total %d, blocked %v; want 12 and adult 2, gambling 1: %+v", total, blocked, st.Stats)
		}
		type count struct {
			Name string `json:"name"`
			N    int    `json:"n"`
		}
		var top struct {
			Top []count `json:"top"`
		}
		e.getJSON(t, "/api/v1/top?blocked=true", &top)
		if want := []count{{"adult.test", 2}, {"casino.test", 1}}; !slices.Equal(top.Top, want) {
			t.Errorf("top blocked %+v, want %+v", top.Top, want)
		}
		e.getJSON(t, "/api/v1/top?blocked=true&device=teen-phone", &top)
		if want := []count{{"adult.test", 1}}; !slices.Equal(top.Top, want) {
			t.Errorf("top blocked for teen-phone %+v, want %+v", top.Top, want)
		}
	})

	t.Run("delete one device", func(t *testing.T) {
		resp, body := e.call(t, http.MethodDelete, "/api/v1/log?device=kid-tablet", e.token, "")
		var got struct{ Deleted int64 }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Deleted != 11 {
			t.Fatalf("DELETE: %s %s, want 200 and 11 rows deleted", resp.Status, body)
		}
		if p := e.search(t, logParams("device", "kid-tablet")); len(p.Rows) != 0 {
			t.Errorf("kid-tablet's history after the delete: %+v", p.Rows)
		}
		rest := e.search(t, logParams("limit", "1000")).Rows
		if len(rest) != 1 || rest[0].Device != "teen-phone" || rest[0].ID != phone[0].ID {
			t.Errorf("the log after deleting kid-tablet's history: %+v, want teen-phone's row %d only", rest, phone[0].ID)
		}
		// The tablet's next query is logged again.
		e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
		e.waitLog(t, logParams("device", "kid-tablet"), 1)
	})
}

// TestConsoleAnonymize stores client addresses truncated to their /24:
// the log shows 127.0.0.0, a search by the full address still finds the
// row, and the full address is nowhere in the log's files.
func TestConsoleAnonymize(t *testing.T) {
	t.Parallel()
	e := startConsole(t, "querylog: {anonymize: true}\n")
	e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
	rows := e.waitLog(t, logParams("device", "kid-tablet"), 1)
	if rows[0].Client != "127.0.0.0" {
		t.Errorf("client stored as %q, want 127.0.0.0", rows[0].Client)
	}
	if p := e.search(t, logParams("client", tabletIP)); len(p.Rows) != 1 {
		t.Errorf("search by client %s: %+v, want the row", tabletIP, p.Rows)
	}
	files, _ := filepath.Glob(filepath.Join(e.dataDir, "querylog.db*"))
	if len(files) == 0 {
		t.Fatalf("no query log files in %s", e.dataDir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(tabletIP)) {
			t.Errorf("%s holds the full client address %s", f, tabletIP)
		}
	}
}
