package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/querylog"
)

// logPageSize is how many rows a log page shows.
const logPageSize = 50

// localInput is the format of <input type="datetime-local">.
const localInput = "2006-01-02T15:04"

// rowView is a query log row as the pages show it.
type rowView struct {
	api.LogRow
	When     string // "14:03:12", with the day when not today
	Via      string // "cache", "stale cache", the upstream, or "" for blocked
	Latency  string // "1.2 ms"
	Blocked  bool
	DeviceID string // the device, or the client address without one
}

func (c *console) viewRow(r querylog.Row) rowView {
	lr := api.RowOf(r)
	now := c.now()
	t := lr.Time.In(now.Location())
	v := rowView{LogRow: lr, Blocked: lr.Decision == "blocked", DeviceID: lr.Device}
	if dayStart(t).Equal(dayStart(now)) {
		v.When = t.Format("15:04:05")
	} else {
		v.When = t.Format("2 Jan 15:04:05")
	}
	switch lr.Cache {
	case "hit":
		v.Via = "cache"
	case "stale":
		v.Via = "stale cache"
	case "miss":
		v.Via = lr.Upstream
	}
	if v.DeviceID == "" {
		v.DeviceID = lr.Client
	}
	v.Latency = strconv.FormatFloat(float64(r.Latency)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	return v
}

// logFilter is the log page's form, as typed.
type logFilter struct {
	Device, Profile, Decision, Name, From, To string
}

type logPage struct {
	base
	F         logFilter
	Devices   []string
	Profiles  []string
	Decisions []string
	Rows      []rowView
	Err       string
	Older     string // link to the next page, "" on the last
	Newest    string // link to the first page, "" on it
}

// logPage searches the query log, newest first, a page at a time.
func (c *console) logPage(w http.ResponseWriter, r *http.Request) {
	b, ok := c.pageBase(w, r, "Query log", "log")
	if !ok {
		return
	}
	q := r.URL.Query()
	p := logPage{base: b, Decisions: api.Decisions(), F: logFilter{
		Device: q.Get("device"), Profile: q.Get("profile"), Decision: q.Get("decision"),
		Name: q.Get("name"), From: q.Get("from"), To: q.Get("to"),
	}}
	ctx := r.Context()
	if ds, err := c.b.Devices(ctx); err == nil {
		for _, d := range ds {
			p.Devices = append(p.Devices, d.Name)
		}
		p.Profiles = profiles(ds)
	}
	f := querylog.Filter{Device: p.F.Device, Profile: p.F.Profile, Decision: p.F.Decision, Name: p.F.Name, Limit: logPageSize}
	loc := c.now().Location()
	var err error
	if f.From, err = parseLocal(p.F.From, loc); err != nil {
		p.Err = "From: " + err.Error()
	}
	if f.To, err = parseLocal(p.F.To, loc); err != nil {
		p.Err = "To: " + err.Error()
	}
	if v := q.Get("before"); v != "" {
		f.Before, _ = strconv.ParseInt(v, 10, 64) // a bad cursor starts from the newest
	}
	keep := url.Values{} // the filters, for the paging links
	for k, v := range q {
		if k != "before" && k != "done" && v[0] != "" {
			keep.Set(k, v[0])
		}
	}
	if f.Before > 0 {
		p.Newest = "/log"
		if len(keep) > 0 {
			p.Newest += "?" + keep.Encode()
		}
	}
	if p.Err == "" {
		rows, next, err := c.b.Search(ctx, f)
		if err != nil {
			p.Err = err.Error()
		}
		for _, row := range rows {
			p.Rows = append(p.Rows, c.viewRow(row))
		}
		if next > 0 {
			keep.Set("before", strconv.FormatInt(next, 10))
			p.Older = "/log?" + keep.Encode()
		}
	}
	c.render(w, http.StatusOK, "log", p)
}

// parseLocal reads a datetime-local field in the server's zone.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(localInput, s, loc)
	if err != nil {
		return time.Time{}, errBadTime
	}
	return t, nil
}

// errBadTime is a time field in an unexpected format (a browser without
// a date picker lets people type anything).
var errBadTime = errors.New("write the time as 2026-11-27T19:30")
