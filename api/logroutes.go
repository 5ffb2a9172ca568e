package api

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/havendns/haven/querylog"
)

// Decisions returns the decisions a query log row can record, for the
// log's decision filter.
func Decisions() []string { return []string{"allowed", "blocked", "rewritten", "failed"} }

// statsWindow is the period /stats and /top cover when not told.
const statsWindow = 24 * time.Hour

func (s *Server) devices(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	ds, err := s.ctl.Devices(r.Context())
	if err != nil {
		return err
	}
	out := make([]deviceJSON, len(ds))
	for i, d := range ds {
		out[i] = d.wire()
	}
	writeJSON(w, http.StatusOK, map[string][]deviceJSON{"devices": out})
	return nil
}

func (s *Server) searchLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "device", "profile", "client", "name", "decision", "category", "from", "to", "limit", "before"); err != nil {
		return err
	}
	f := querylog.Filter{
		Device: q.Get("device"), Profile: q.Get("profile"), Client: q.Get("client"),
		Name: q.Get("name"), Decision: q.Get("decision"), Category: q.Get("category"),
	}
	if f.Client != "" {
		if _, err := netip.ParseAddr(f.Client); err != nil {
			return invalid("client: %q is not an IP address", f.Client)
		}
	}
	if f.Decision != "" && !slices.Contains(Decisions(), f.Decision) {
		return invalid("decision: %q is not one of allowed, blocked, rewritten, failed", f.Decision)
	}
	var err error
	if f.From, err = s.timeParam(q, "from"); err != nil {
		return err
	}
	if f.To, err = s.timeParam(q, "to"); err != nil {
		return err
	}
	if f.Limit, err = intParam(q, "limit", 0, querylog.MaxLimit); err != nil {
		return err
	}
	if v := q.Get("before"); v != "" {
		f.Before, err = strconv.ParseInt(v, 10, 64)
		if err != nil || f.Before <= 0 {
			return invalid("before: %q is not a cursor (the next of a previous answer)", v)
		}
	}
	rows, next, err := s.ctl.Search(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Rows []LogRow `json:"rows"`
		Next int64    `json:"next,omitempty"`
	}{Rows: make([]LogRow, len(rows)), Next: next}
	for i, row := range rows {
		out.Rows[i] = RowOf(row)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "device"); err != nil {
		return err
	}
	device := q.Get("device")
	if err := need("device", device); err != nil {
		return err
	}
	n, err := s.ctl.DeleteDeviceLog(r.Context(), device)
	if err != nil {
		return err
	}
	s.log.Info("query log of a device deleted", "device", device, "rows", n)
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": n})
	return nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "from", "to", "bucket", "by"); err != nil {
		return err
	}
	from, to, err := s.window(q)
	if err != nil {
		return err
	}
	bucket := querylog.Bucket(q.Get("bucket"))
	switch bucket {
	case "":
		bucket = querylog.Hour
	case querylog.Hour, querylog.Day:
	default:
		return invalid("bucket: %q is not hour or day", bucket)
	}
	by := q.Get("by")
	if !slices.Contains([]string{"", "device", "profile", "category"}, by) {
		return invalid("by: %q is not device, profile or category", by)
	}
	st, err := s.ctl.Stats(r.Context(), from, to, bucket, by)
	if err != nil {
		return err
	}
	out := make([]statJSON, len(st))
	for i, x := range st {
		out[i] = statJSON{Start: x.Start, Key: x.Key, Total: x.Total, Blocked: x.Blocked}
	}
	writeJSON(w, http.StatusOK, map[string][]statJSON{"stats": out})
	return nil
}

func (s *Server) top(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "from", "to", "blocked", "device", "n"); err != nil {
		return err
	}
	from, to, err := s.window(q)
	if err != nil {
		return err
	}
	blocked := false
	if v := q.Get("blocked"); v != "" {
		if blocked, err = strconv.ParseBool(v); err != nil {
			return invalid("blocked: %q is not true or false", v)
		}
	}
	n, err := intParam(q, "n", 10, querylog.MaxLimit)
	if err != nil {
		return err
	}
	cs, err := s.ctl.Top(r.Context(), from, to, blocked, q.Get("device"), n)
	if err != nil {
		return err
	}
	out := make([]countJSON, len(cs))
	for i, c := range cs {
		out[i] = countJSON{Name: c.Name, N: c.N}
	}
	writeJSON(w, http.StatusOK, map[string][]countJSON{"top": out})
	return nil
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(w, r); err != nil {
		return err
	}
	// Loading a config may read list files and caches.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(refreshTimeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), refreshTimeout)
	defer cancel()
	if err := s.ctl.Reload(ctx); err != nil {
		return err
	}
	s.log.Info("config reloaded on request")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// window reads from and to, defaulting to the last 24 hours.
func (s *Server) window(q url.Values) (from, to time.Time, err error) {
	if from, err = s.timeParam(q, "from"); err != nil {
		return
	}
	if to, err = s.timeParam(q, "to"); err != nil {
		return
	}
	if to.IsZero() {
		to = s.now()
	}
	if from.IsZero() {
		from = to.Add(-statsWindow)
	}
	if !from.Before(to) {
		return from, to, invalid("from must be before to")
	}
	return from, to, nil
}

// timeParam reads an RFC 3339 time or unix milliseconds; zero if absent.
// Milliseconds are put in the server's zone, an RFC 3339 time keeps its
// offset: statistics buckets follow the wall clock of "from".
func (s *Server) timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).In(s.now().Location()), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid("%s: %q is neither an RFC 3339 time nor unix milliseconds", name, v)
	}
	return t, nil
}

// intParam reads a count in [1, max]; def if absent.
func intParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, invalid("%s: %q is not a number from 1 to %d", name, v, max)
	}
	return n, nil
}

// onlyParams rejects parameters the endpoint does not know, so that a typo
// is an error rather than a silently wider search or deletion.
func onlyParams(q url.Values, known ...string) error {
	for k := range q {
		if !slices.Contains(known, k) {
			return invalid("unknown parameter %q", k)
		}
	}
	return nil
}
