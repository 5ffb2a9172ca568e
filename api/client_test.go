package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/state"
)

func TestClient(t *testing.T) {
	ctl := &fakeController{removed: 3, entries: []state.Entry{
		{ID: "e1", Target: "kids", Kind: state.Allow, What: "youtube", Until: testNow().Add(time.Hour).UTC(), By: "cli"},
	}}
	c := &Client{Base: startServer(t, ctl, testNow) + "/", Token: testToken, By: "cli"}
	ctx := context.Background()

	if err := c.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
	e, err := c.Pause(ctx, "kid-tablet", When{For: 30 * time.Minute})
	if err != nil || e.Target != "kid-tablet" || e.Kind != state.Pause || !e.Until.Equal(testNow().Add(30*time.Minute)) || e.By != "cli" {
		t.Errorf("Pause: %+v, %v", e, err)
	}
	e, err = c.Pause(ctx, "kid-tablet", When{Until: "19:00"})
	if err != nil || !e.Until.Equal(testNow().Add(time.Hour)) {
		t.Errorf("Pause until 19:00: %+v, %v", e, err)
	}
	e, err = c.Allow(ctx, "kids", "youtube", When{For: 90 * time.Minute})
	if err != nil || e.What != "youtube" || e.Kind != state.Allow || !e.Until.Equal(testNow().Add(90*time.Minute)) {
		t.Errorf("Allow: %+v, %v", e, err)
	}
	if n, err := c.Resume(ctx, "kids"); n != 3 || err != nil {
		t.Errorf("Resume: %d, %v", n, err)
	}
	es, err := c.Entries(ctx)
	if err != nil || len(es) != 1 || es[0] != ctl.entries[0] {
		t.Errorf("Entries: %+v, %v; want %+v", es, err, ctl.entries)
	}
	if st, err := c.Status(ctx); err != nil || !strings.HasPrefix(string(st), `{"version":"test","lists":[{"name":"builtin:adult"`) {
		t.Errorf("Status: %s, %v", st, err)
	}
	if ex, err := c.Check(ctx, "aa:bb:cc:dd:ee:ff", "youtube.com", "HTTPS"); err != nil || ctl.lastCall() != `explain "aa:bb:cc:dd:ee:ff" youtube.com HTTPS` {
		t.Errorf("Check: %s, %v (controller got %q)", ex, err, ctl.lastCall())
	}
	if err := c.RefreshLists(ctx); err != nil || ctl.lastCall() != "refresh" {
		t.Errorf("RefreshLists: %v", err)
	}
	ctl.devices = []Device{{Name: "kid-tablet", Profile: "kids", State: "paused", Until: testNow().Add(time.Hour).UTC(),
		Exceptions: []state.Entry{{ID: "x1", Target: "kids", Kind: state.Allow, What: "khanacademy.org", Until: testNow().Add(2 * time.Hour).UTC()}}}}
	ds, err := c.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].Name != "kid-tablet" || !ds[0].Paused() || !ds[0].Until.Equal(ctl.devices[0].Until) ||
		len(ds[0].Exceptions) != 1 || ds[0].Exceptions[0] != ctl.devices[0].Exceptions[0] {
		t.Errorf("Devices: %+v, %v; want %+v", ds, err, ctl.devices)
	}
	ctl.deleted = 7
	if n, err := c.DeleteDeviceLog(ctx, "kid tablet"); n != 7 || err != nil || ctl.lastCall() != "delete log kid tablet" {
		t.Errorf("DeleteDeviceLog: %d, %v (controller got %q)", n, err, ctl.lastCall())
	}
	if err := c.Reload(ctx); err != nil || ctl.lastCall() != "reload" {
		t.Errorf("Reload: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	ctl := &fakeController{err: fmt.Errorf("unknown target %q: %w", "nobody", ErrNotFound)}
	base := startServer(t, ctl, testNow)
	ctx := context.Background()

	_, err := (&Client{Base: base, Token: testToken}).Pause(ctx, "nobody", When{For: time.Minute})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != `unknown target "nobody": not found` {
		t.Errorf("unknown target: %#v", err)
	}
	_, err = (&Client{Base: base, Token: testToken}).Pause(ctx, "kid", When{})
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Errorf("no duration: %#v", err)
	}
	_, err = (&Client{Base: base, Token: "wrong-token-0123456789"}).Entries(ctx)
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "invalid token" {
		t.Errorf("wrong token: %#v", err)
	}
	err = (&Client{Base: base}).Health(ctx)
	if err != nil {
		t.Errorf("health without token: %v", err)
	}
}
