package web

import (
	"net/http"
	"sort"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/querylog"
)

// deviceView is a device as the pages show it.
type deviceView struct {
	api.Device
	StateText  string // "allowed", "paused until 19:30", "bedtime until 07:00"
	StateClass string // allowed, paused, schedule
	Exceptions []exceptionView
	CanResume  bool // paused, or with exceptions: something to end
}

type exceptionView struct {
	What, Target, Until, By string
}

func (c *console) viewDevice(d api.Device) deviceView {
	now := c.now()
	v := deviceView{Device: d, StateClass: "allowed", StateText: "allowed"}
	switch {
	case d.Paused():
		v.StateClass, v.StateText = "paused", "paused"
	case d.Scheduled() != "":
		v.StateClass, v.StateText = "schedule", d.Scheduled()
	}
	if v.StateClass != "allowed" && !d.Until.IsZero() {
		v.StateText += " until " + clockText(d.Until, now)
	}
	for _, e := range d.Exceptions {
		v.Exceptions = append(v.Exceptions, exceptionView{What: e.What, Target: e.Target, Until: clockText(e.Until, now), By: e.By})
	}
	v.CanResume = d.Paused() || len(d.Exceptions) > 0
	return v
}

type homePage struct {
	base
	Back          string
	Devices       []deviceView
	DevicesErr    string
	Categories    categoryChart
	CategoriesErr string
	Hours         hourChart
	HoursErr      string
}

// home shows every device with one-tap pause and resume, and today's
// activity as charts.
func (c *console) home(w http.ResponseWriter, r *http.Request) {
	b, ok := c.pageBase(w, r, "Home", "home")
	if !ok {
		return
	}
	p := homePage{base: b, Back: here(r)}
	ctx := r.Context()
	now := c.now()
	// Each part fails on its own: with the query log off, the devices
	// still show and can still be paused.
	if ds, err := c.b.Devices(ctx); err != nil {
		p.DevicesErr = err.Error()
	} else {
		for _, d := range ds {
			p.Devices = append(p.Devices, c.viewDevice(d))
		}
	}
	if st, err := c.b.Stats(ctx, dayStart(now), now, querylog.Day, "category"); err != nil {
		p.CategoriesErr = err.Error()
	} else {
		p.Categories = newCategoryChart(st)
	}
	from := hourStart(now).Add(-23 * time.Hour)
	if st, err := c.b.Stats(ctx, from, now, querylog.Hour, ""); err != nil {
		p.HoursErr = err.Error()
	} else {
		p.Hours = newHourChart(from, 24, st)
	}
	c.render(w, http.StatusOK, "home", p)
}

// profiles returns the distinct profiles of the devices, sorted.
func profiles(ds []api.Device) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		if d.Profile != "" && !seen[d.Profile] {
			seen[d.Profile] = true
			out = append(out, d.Profile)
		}
	}
	sort.Strings(out)
	return out
}
