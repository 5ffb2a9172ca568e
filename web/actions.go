package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/havendns/haven/api"
)

// The forms that change something. api.Server has checked the session and
// its CSRF token before they get here; each redirects back to the page it
// was posted from (the "back" field), or shows what went wrong.

// actionTimeout bounds list refreshes and config reloads, which download
// and parse lists.
const actionTimeout = 5 * time.Minute

// formDuration reads the "for" field: 30m, 1h, 2d.
func formDuration(r *http.Request) (time.Duration, error) {
	d, err := api.ParseDuration(strings.TrimSpace(r.PostFormValue("for")))
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, errors.New("the duration must be positive")
	}
	return d, nil
}

func (c *console) pause(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	target := r.PostFormValue("target")
	d, err := formDuration(r)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "How long? "+err.Error())
		return
	}
	e, err := c.b.Pause(r.Context(), target, c.now().Add(d), c.by)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.log.Info("console: paused", "target", e.Target, "until", e.Until)
	redirectDone(w, r, r.PostFormValue("back"), "paused")
}

func (c *console) allow(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	target := r.PostFormValue("target")
	what := strings.TrimSpace(r.PostFormValue("what"))
	if what == "" {
		c.fail(w, r, http.StatusBadRequest, "Allow what? Name a service (youtube), a category or a domain (example.org).")
		return
	}
	d, err := formDuration(r)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "How long? "+err.Error())
		return
	}
	e, err := c.b.Allow(r.Context(), target, what, c.now().Add(d), c.by)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.log.Info("console: exception added", "target", e.Target, "what", e.What, "until", e.Until)
	redirectDone(w, r, r.PostFormValue("back"), "allowed")
}

func (c *console) resume(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	target := r.PostFormValue("target")
	n, err := c.b.Resume(r.Context(), target)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.log.Info("console: resumed", "target", target, "removed", n)
	redirectDone(w, r, r.PostFormValue("back"), "resumed")
}

// slow gives a request that refreshes lists or reloads the config the time
// it needs, past the server's usual write timeout.
func slow(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(actionTimeout + 10*time.Second))
	return context.WithTimeout(r.Context(), actionTimeout)
}

func (c *console) refresh(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	ctx, cancel := slow(w, r)
	defer cancel()
	if err := c.b.RefreshLists(ctx); err != nil {
		c.failErr(w, r, err)
		return
	}
	c.log.Info("console: lists refreshed")
	redirectDone(w, r, "/status", "refreshed")
}

// reload applies the config file. A rejected config is shown on the status
// page, one problem per line.
func (c *console) reload(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	ctx, cancel := slow(w, r)
	defer cancel()
	if err := c.b.Reload(ctx); err != nil {
		c.log.Warn("console: config reload rejected", "err", err)
		c.statusPage(w, r, api.HTTPStatus(err), lines(err.Error()))
		return
	}
	c.log.Info("console: config reloaded")
	redirectDone(w, r, "/status", "reloaded")
}
