package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
	"github.com/miekg/dns"
)

// Device is a configured device as the console shows it.
type Device struct {
	Name    string
	Profile string
	// State is "allowed", "paused", or "schedule:NAME" while one of the
	// profile's schedules (e.g. bedtime) is blocking.
	State string
	// Until is when the pause or the schedule's window ends; zero if the
	// state has no end.
	Until      time.Time
	Exceptions []state.Entry // active Allow entries of the device or its profile
}

// Paused reports whether the device is paused.
func (d Device) Paused() bool { return d.State == "paused" }

// Scheduled returns the name of the schedule blocking the device, "" if
// none.
func (d Device) Scheduled() string {
	const p = "schedule:"
	if len(d.State) > len(p) && d.State[:len(p)] == p {
		return d.State[len(p):]
	}
	return ""
}

// deviceJSON is a Device on the wire.
type deviceJSON struct {
	Name       string    `json:"name"`
	Profile    string    `json:"profile"`
	State      string    `json:"state"`
	Until      time.Time `json:"until,omitzero"`
	Exceptions []Entry   `json:"exceptions"`
}

func (d Device) wire() deviceJSON {
	out := deviceJSON{Name: d.Name, Profile: d.Profile, State: d.State, Until: d.Until, Exceptions: make([]Entry, len(d.Exceptions))}
	for i, e := range d.Exceptions {
		out.Exceptions[i] = fromState(e)
	}
	return out
}

func (d deviceJSON) device() Device {
	out := Device{Name: d.Name, Profile: d.Profile, State: d.State, Until: d.Until}
	for _, e := range d.Exceptions {
		out.Exceptions = append(out.Exceptions, e.state())
	}
	return out
}

// Status is what GET /api/v1/status answers and the console's status page
// shows. Controller.Status fills it from the list store, the upstream
// groups, the cache and the query log.
type Status struct {
	Version   string           `json:"version,omitempty"`
	Lists     []ListStatus     `json:"lists"`
	Upstreams []UpstreamStatus `json:"upstreams"`
	Cache     *CacheStatus     `json:"cache,omitempty"`    // nil: no cache
	QueryLog  *QueryLogStatus  `json:"querylog,omitempty"` // nil: no query log
}

// ListStatus is one list source (blocklist.SourceStatus).
type ListStatus struct {
	Name        string    `json:"name"`
	Category    string    `json:"category"`
	Kind        string    `json:"kind"`
	Rules       int       `json:"rules"`
	HasCopy     bool      `json:"has_copy"`   // a good copy is in use
	FromCache   bool      `json:"from_cache"` // read from the disk cache, not yet downloaded again
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Age         Duration  `json:"age,omitzero"` // of the copy in use
	LastError   string    `json:"last_error,omitempty"`
}

// UpstreamStatus is one upstream resolver (upstream.Status) of a group.
type UpstreamStatus struct {
	Group     string    `json:"group,omitempty"` // "" for the default upstreams, else the conditional zone
	Name      string    `json:"name"`
	Healthy   bool      `json:"healthy"`
	Failures  int       `json:"failures"` // in a row, since the last success
	Queries   int64     `json:"queries"`
	Errors    int64     `json:"errors"`
	RTT       Duration  `json:"rtt"` // of the last success
	LastError string    `json:"last_error,omitempty"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
}

// CacheStatus is the response cache's counters (cache.Stats).
type CacheStatus struct {
	Entries   int    `json:"entries"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Stale     uint64 `json:"stale"`
	Evictions uint64 `json:"evictions"`
}

// QueryLogStatus is the query log's health (querylog.Log).
type QueryLogStatus struct {
	Healthy   bool   `json:"healthy"`
	LastError string `json:"last_error,omitempty"`
	Written   uint64 `json:"written"`
	Dropped   uint64 `json:"dropped"`
}

// Duration is a time.Duration that travels as Go's text ("1h2m3.5s"),
// which people can read in curl's output.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// LogRow is a query log row on the wire, and as the console shows it.
type LogRow struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Client   string    `json:"client,omitempty"`
	Device   string    `json:"device,omitempty"`
	Profile  string    `json:"profile,omitempty"`
	Name     string    `json:"name"`
	Type     string    `json:"type"` // "A", "AAAA", or "TYPE65534"
	Proto    string    `json:"proto"`
	Decision string    `json:"decision"`
	Category string    `json:"category,omitempty"`
	Rule     string    `json:"rule,omitempty"`
	Cache    string    `json:"cache"`
	Upstream string    `json:"upstream,omitempty"`
	Rcode    string    `json:"rcode"`   // "NOERROR", "NXDOMAIN", or "RCODE23"
	Latency  Duration  `json:"latency"` // the largest of the row's queries
	// Count is how many identical queries the row stands for (the log
	// collapses repeats within about a second into one row; Time is the
	// first of them). At least 1.
	Count int `json:"count"`
}

// RowOf converts a query log row.
func RowOf(r querylog.Row) LogRow {
	out := LogRow{
		ID: r.ID, Time: r.Time, Device: r.Device, Profile: r.Profile, Name: r.Name,
		Type: dns.TypeToString[r.Type], Proto: r.Proto, Decision: r.Decision,
		Category: r.Category, Rule: r.Rule, Cache: r.Cache, Upstream: r.Upstream,
		Rcode: dns.RcodeToString[r.Rcode], Latency: Duration(r.Latency),
		Count: max(r.Count, 1), // a Row not read from the log may leave it 0
	}
	if r.Client.IsValid() {
		out.Client = r.Client.String()
	}
	if out.Type == "" {
		out.Type = "TYPE" + strconv.Itoa(int(r.Type))
	}
	if out.Rcode == "" {
		out.Rcode = "RCODE" + strconv.Itoa(r.Rcode)
	}
	return out
}

// statJSON and countJSON are querylog.Stat and querylog.Count on the wire.
type statJSON struct {
	Start   time.Time `json:"start"`
	Key     string    `json:"key"`
	Total   int       `json:"total"`
	Blocked int       `json:"blocked"`
}

type countJSON struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}
