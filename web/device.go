package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/querylog"
)

// Numbers of names and queries the device page lists.
const (
	deviceTop    = 10
	deviceRecent = 20
)

// durationChoice is one entry of the duration menus.
type durationChoice struct{ Value, Label string }

func durationChoices() []durationChoice {
	return []durationChoice{
		{"15m", "15 minutes"}, {"30m", "30 minutes"}, {"1h", "1 hour"},
		{"2h", "2 hours"}, {"4h", "4 hours"}, {"1d", "1 day"},
	}
}

type devicePage struct {
	base
	Back       string
	D          deviceView
	Durations  []durationChoice
	TopBlocked []querylog.Count
	TopAllowed []querylog.Count
	TopErr     string
	Recent     []rowView
	RecentErr  string
	LogURL     string
}

// findDevice returns the named device, or an error wrapping
// api.ErrNotFound.
func (c *console) findDevice(ctx context.Context, name string) (api.Device, error) {
	ds, err := c.b.Devices(ctx)
	if err != nil {
		return api.Device{}, err
	}
	for _, d := range ds {
		if d.Name == name {
			return d, nil
		}
	}
	return api.Device{}, fmt.Errorf("there is no device %q: %w", name, api.ErrNotFound)
}

// device shows one device: its state and controls, today's top names, and
// its latest queries.
func (c *console) device(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := c.pageBase(w, r, name, "")
	if !ok {
		return
	}
	ctx := r.Context()
	d, err := c.findDevice(ctx, name)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := devicePage{base: b, Back: here(r), D: c.viewDevice(d), Durations: durationChoices(), LogURL: logURL(name)}
	now := c.now()
	from := dayStart(now)
	if p.TopBlocked, err = c.b.Top(ctx, from, now, true, name, deviceTop); err == nil {
		p.TopAllowed, err = c.b.Top(ctx, from, now, false, name, deviceTop)
	}
	if err != nil {
		p.TopErr = err.Error()
	}
	rows, _, err := c.b.Search(ctx, querylog.Filter{Device: name, Limit: deviceRecent})
	if err != nil {
		p.RecentErr = err.Error()
	}
	for _, row := range rows {
		p.Recent = append(p.Recent, c.viewRow(row))
	}
	c.render(w, http.StatusOK, "device", p)
}

type deletePage struct {
	base
	D deviceView
}

// confirmDelete asks before a device's history goes: the form that
// deletes is on this page, not on the device page.
func (c *console) confirmDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := c.pageBase(w, r, "Delete the history of "+name, "")
	if !ok {
		return
	}
	d, err := c.findDevice(r.Context(), name)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.render(w, http.StatusOK, "delete", deletePage{base: b, D: c.viewDevice(d)})
}

func (c *console) deleteHistory(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != "yes" {
		c.fail(w, r, http.StatusBadRequest, "Deleting a history needs the confirmation on its page.")
		return
	}
	n, err := c.b.DeleteDeviceLog(r.Context(), name)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.log.Info("console: device history deleted", "device", name, "rows", n)
	redirectDone(w, r, deviceURL(name), "deleted", "n", fmt.Sprint(n))
}
