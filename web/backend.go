package web

import (
	"context"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
)

// Backend is what the pages read and change: the part of api.Controller
// the console uses, so any Controller will do.
type Backend interface {
	Devices(ctx context.Context) ([]api.Device, error)
	Pause(ctx context.Context, target string, until time.Time, by string) (state.Entry, error)
	Allow(ctx context.Context, target, what string, until time.Time, by string) (state.Entry, error)
	Resume(ctx context.Context, target string) (int, error)
	Search(ctx context.Context, f querylog.Filter) ([]querylog.Row, int64, error)
	Stats(ctx context.Context, from, to time.Time, bucket querylog.Bucket, by string) ([]querylog.Stat, error)
	Top(ctx context.Context, from, to time.Time, blocked bool, device string, n int) ([]querylog.Count, error)
	DeleteDeviceLog(ctx context.Context, device string) (int64, error)
	Status(ctx context.Context) (api.Status, error)
	RefreshLists(ctx context.Context) error
	Reload(ctx context.Context) error
}

var _ Backend = api.Controller(nil)
