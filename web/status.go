package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/havendns/haven/api"
)

type listView struct {
	api.ListStatus
	Refreshed string // "2h ago", "never"
	Age       string // of the copy in use, "" for builtin and inline lists
	OK        bool
}

type upstreamView struct {
	api.UpstreamStatus
	RTT     string
	RetryIn string
}

type statusPage struct {
	base
	S          api.Status
	Err        string
	Lists      []listView
	Upstreams  []upstreamView
	HitRate    string // "83%", "" with no lookups yet
	ReloadErrs []string
}

// status shows how the server is doing, for whoever keeps it running.
func (c *console) status(w http.ResponseWriter, r *http.Request) {
	c.statusPage(w, r, http.StatusOK, nil)
}

func (c *console) statusPage(w http.ResponseWriter, r *http.Request, code int, reloadErrs []string) {
	b, ok := c.pageBase(w, r, "Status", "status")
	if !ok {
		return
	}
	p := statusPage{base: b, ReloadErrs: reloadErrs}
	st, err := c.b.Status(r.Context())
	if err != nil {
		p.Err = err.Error()
		c.render(w, code, "status", p)
		return
	}
	now := c.now()
	p.S = st
	for _, l := range st.Lists {
		v := listView{ListStatus: l, Refreshed: ago(l.LastSuccess, now), OK: l.HasCopy && l.LastError == ""}
		if l.Age > 0 {
			v.Age = roughly(time.Duration(l.Age))
		}
		if l.Kind == "builtin" || l.Kind == "inline" {
			v.Refreshed = "built in"
		}
		p.Lists = append(p.Lists, v)
	}
	for _, u := range st.Upstreams {
		v := upstreamView{UpstreamStatus: u, RTT: fmt.Sprintf("%.1f ms", float64(u.RTT)/float64(time.Millisecond))}
		if !u.RetryAt.IsZero() && u.RetryAt.After(now) {
			v.RetryIn = roughly(u.RetryAt.Sub(now))
		}
		if u.Queries-u.Errors <= 0 && u.RTT == 0 {
			v.RTT = "–"
		}
		p.Upstreams = append(p.Upstreams, v)
	}
	if cs := st.Cache; cs != nil && cs.Hits+cs.Misses > 0 {
		p.HitRate = fmt.Sprintf("%.0f%%", 100*float64(cs.Hits)/float64(cs.Hits+cs.Misses))
	}
	c.render(w, code, "status", p)
}
