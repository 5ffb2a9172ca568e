package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havendns/haven/api"
)

// parsePages parses each page template with the layout and the shared
// parts.
func parsePages() map[string]*template.Template {
	pageNames := []string{"home", "log", "device", "delete", "status", "login", "error"}
	funcs := template.FuncMap{
		"deviceURL": deviceURL,
		"logURL":    logURL,
		"csrfField": func() string { return api.CSRFField },
		"svg":       svgNum,
		"dict":      dict,
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		// The templates are compiled in: a mistake in one is a bug that
		// every test run finds, so failing here is right.
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	return pages
}

// base is what every page's layout needs.
type base struct {
	Title string
	Nav   string // the menu entry to highlight
	CSRF  string // "" on the login page
	Flash string // what the last action did
}

// render writes a page. It renders into a buffer first so that a
// template error is a clean 500, not half a page.
func (c *console) render(w http.ResponseWriter, code int, page string, data any) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		c.log.Error("console: rendering a page", "page", page, "err", err)
		http.Error(w, "Internal error rendering the page.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

type errorPage struct {
	base
	Code    int
	Message string
	Back    string
}

// fail shows an error page.
func (c *console) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	sess, _ := api.SessionFrom(r.Context())
	back := api.LocalPath(r.PostFormValue("back"))
	c.render(w, code, "error", errorPage{base: base{Title: http.StatusText(code), CSRF: sess.CSRF}, Code: code, Message: msg, Back: back})
}

// failErr shows a Backend error with the status the API would answer it
// with; unexpected ones are logged.
func (c *console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	code := api.HTTPStatus(err)
	if code >= 500 && code != http.StatusServiceUnavailable {
		c.log.Warn("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	c.fail(w, r, code, err.Error())
}

// session returns the request's session. api.Server only passes requests
// with one, but a console mounted some other way must not open up: it
// sends the user to the login page instead.
func (c *console) session(w http.ResponseWriter, r *http.Request) (api.Session, bool) {
	s, ok := api.SessionFrom(r.Context())
	if !ok {
		http.Redirect(w, r, api.LoginPath, http.StatusSeeOther)
	}
	return s, ok
}

// pageBase fills the layout's fields for a request with a session.
func (c *console) pageBase(w http.ResponseWriter, r *http.Request, title, nav string) (base, bool) {
	s, ok := c.session(w, r)
	if !ok {
		return base{}, false
	}
	return base{Title: title, Nav: nav, CSRF: s.CSRF, Flash: flash(r.URL.Query())}, true
}

// flash turns the done parameter of a redirect after an action into its
// message. Only known codes are shown, so a link cannot put words on the
// page.
func flash(q url.Values) string {
	switch q.Get("done") {
	case "paused":
		return "Paused."
	case "resumed":
		return "Resumed: the usual rules apply again."
	case "allowed":
		return "Exception added."
	case "deleted":
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		return fmt.Sprintf("History deleted (%d queries).", n)
	case "refreshed":
		return "Lists refreshed."
	case "reloaded":
		return "Config reloaded."
	case "logout":
		return "Logged out."
	}
	return ""
}

// redirectDone sends the browser back to the page the form was on, with
// the flash code of what was done.
func redirectDone(w http.ResponseWriter, r *http.Request, back, done string, extra ...string) {
	u, _ := url.Parse(api.LocalPath(back)) // LocalPath's result parses
	q := u.Query()
	q.Del("done")
	q.Del("n")
	q.Set("done", done)
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// here is the current page's address without the flash parameters, for
// forms to come back to.
func here(r *http.Request) string {
	q := r.URL.Query()
	q.Del("done")
	q.Del("n")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}

func deviceURL(name string) string { return "/device/" + url.PathEscape(name) }

func logURL(device string) string { return "/log?" + url.Values{"device": {device}}.Encode() }

// clockText shows a time of day, with the weekday when it is not today.
func clockText(t, now time.Time) string {
	t = t.In(now.Location())
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	if t.Sub(now).Abs() < 6*24*time.Hour {
		return t.Format("Mon 15:04")
	}
	return t.Format("2 Jan 15:04")
}

// ago says how long ago t was, roughly.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return roughly(now.Sub(t)) + " ago"
}

// roughly rounds a duration to what a person needs: "45s", "12m",
// "3h10m", "2d4h".
func roughly(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	d = d.Round(time.Hour)
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// dict builds the argument of a template that needs more than one value.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// lines splits an error's text, which for a rejected config is one
// problem per line.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
