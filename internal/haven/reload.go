package haven

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/config"
)

// Reload reads the config file again and swaps in what changed, while
// queries keep flowing: the policy and the lists at once, upstreams and
// cache by building a new tail and switching to it, listeners by rebinding
// only when their addresses changed. A config that does not load is
// rejected with its file:line errors and the old one keeps serving.
func (h *Haven) Reload(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.cfg
	if old.File == "" {
		return errors.New("reload: running on the built-in defaults, there is no config file to read")
	}
	cfg, err := config.Load(old.File)
	if err != nil {
		return rejected{err}
	}
	if h.opt.Adjust != nil {
		h.opt.Adjust(cfg)
	}
	return h.apply(ctx, old, cfg)
}

// apply swaps cfg in for old. Everything that can fail is built before
// anything is swapped, so a failure leaves the old config serving.
func (h *Haven) apply(ctx context.Context, old, cfg *config.Config) error {
	pc, err := policyConfig(cfg)
	if err != nil {
		return err
	}
	var t *tail
	if key := tailKey(cfg); key != h.tail.Load().key {
		if t, err = h.buildTail(cfg); err != nil {
			return err
		}
	}
	if err := h.store.SetSources(ctx, Sources(cfg)); err != nil {
		if t != nil {
			t.close()
		}
		return fmt.Errorf("lists: %w", err)
	}
	h.guard.set(cfg, h)
	h.setLogLevels(cfg)
	if t != nil {
		prev := h.tail.Swap(t)
		// Queries already in the old tail finish there; its idle upstream
		// connections are released once they have had time to.
		time.AfterFunc(2*cfg.Upstream.Timeout+time.Second, prev.close)
	}
	// After the tail: the new policy's version also retires the answers
	// the server's fast path replays from the old tail.
	if err := h.filter.Set(pc); err != nil {
		return err // cannot happen after policyConfig succeeded; keep the old policy
	}
	h.cfg = cfg
	for _, what := range restartNeeded(old, cfg) {
		h.log.Warn("config change takes effect after a restart", "setting", what)
	}
	if listenersChanged(old, cfg) {
		if err := h.rebind(ctx, cfg); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
	}
	if h.needsDownload() {
		go func() {
			if err := h.store.Refresh(context.WithoutCancel(ctx)); err != nil {
				h.log.Warn("list refresh after reload", "err", err)
			}
		}()
	}
	h.log.Info("config reloaded", "file", cfg.File)
	return nil
}

// listenersChanged reports whether a reload must bind the DNS listeners
// anew: their addresses changed, or how UDP is read.
func listenersChanged(a, b *config.Config) bool {
	return !slices.Equal(a.Listen, b.Listen) || !slices.Equal(a.TLS.Listen, b.TLS.Listen) ||
		!slices.Equal(a.HTTPS.Listen, b.HTTPS.Listen) || a.TLS.ServerName != b.TLS.ServerName ||
		a.UDPBatch != b.UDPBatch || a.UDPReaders != b.UDPReaders
}

// restartNeeded names the settings a reload does not apply.
func restartNeeded(a, b *config.Config) []string {
	var out []string
	if a.DataDir != b.DataDir {
		out = append(out, "data_dir")
	}
	if a.HTTP != b.HTTP {
		out = append(out, "http")
	}
	if a.Cert != b.Cert {
		out = append(out, "cert")
	}
	if a.Refresh != b.Refresh {
		out = append(out, "refresh")
	}
	if a.Neighbors != b.Neighbors {
		out = append(out, "neighbors")
	}
	return out
}

// rebind moves the DNS listeners to cfg's addresses. The old ones are
// closed first, since the new set usually shares addresses with them; a
// new set that cannot be bound gives way to the old one again.
func (h *Haven) rebind(ctx context.Context, cfg *config.Config) error {
	next, err := h.newServer(cfg)
	if err != nil {
		return err
	}
	shut, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.server.Shutdown(shut); err != nil {
		h.log.Warn("closing old listeners", "err", err)
	}
	if err := next.Start(); err != nil {
		if again := h.server.Start(); again != nil {
			return fmt.Errorf("new listeners: %v; old listeners: %w", err, again)
		}
		return fmt.Errorf("new listeners (kept the old ones): %w", err)
	}
	h.server = next
	return nil
}

// WatchConfig reloads the config whenever its file changes (size or
// modification time), checking every period, until ctx ends. Polling
// keeps this free of platform file-notification APIs and works on every
// file system, including network mounts.
func (h *Haven) WatchConfig(ctx context.Context, period time.Duration) {
	file := h.config().File
	if file == "" {
		return
	}
	last, _ := os.Stat(file)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(file)
		if err != nil || (last != nil && fi.Size() == last.Size() && fi.ModTime().Equal(last.ModTime())) {
			continue
		}
		last = fi
		if err := h.Reload(ctx); err != nil {
			h.log.Error("config file changed but was not loaded; the old config keeps serving", "err", err)
		}
	}
}

// rejected is a config that did not load: its text is the file:line list,
// and for the API it is the caller's mistake, not a server failure.
type rejected struct{ err error }

func (r rejected) Error() string   { return r.err.Error() }
func (r rejected) Unwrap() []error { return []error{r.err, api.ErrInvalid} }
