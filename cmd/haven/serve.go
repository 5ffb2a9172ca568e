package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/internal/haven"
)

func serve(args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	file := fs.String("config", "", "config `file` (default: built-in defaults)")
	var listen, ups multiFlag
	fs.Var(&listen, "listen", "listen `addr`ess host:port, UDP and TCP (repeatable; replaces the config's)")
	fs.Var(&ups, "upstream", "upstream `url` (repeatable; replaces the config's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	// The flags override the file on every load, the first and each reload.
	var overrideErr error
	adjust := func(cfg *config.Config) {
		if len(listen) > 0 {
			cfg.Listen = listen
		}
		if len(ups) > 0 {
			cfg.Upstreams = nil
			for _, u := range ups {
				up, err := config.ParseUpstream(u)
				if err != nil {
					overrideErr = fmt.Errorf("--upstream %s: %w", u, err)
					return
				}
				cfg.Upstreams = append(cfg.Upstreams, up)
			}
		}
	}
	adjust(cfg)
	if overrideErr != nil {
		return overrideErr
	}
	log := newLogger(cfg.Log, stderr)
	h, err := haven.New(cfg, haven.Options{Logger: log, Version: version, Adjust: adjust})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := h.Start(ctx); err != nil {
		if strings.Contains(err.Error(), "permission denied") {
			err = fmt.Errorf("%w (port 53 needs root or CAP_NET_BIND_SERVICE; try --listen 127.0.0.1:5353)", err)
		}
		return err
	}
	log.Info("haven started", "version", version, "config", configName(cfg), "listen", cfg.Listen)
	go h.WatchConfig(ctx, 2*time.Second)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			if err := h.Reload(ctx); err != nil {
				log.Error("reload on SIGHUP rejected; the old config keeps serving", "err", err)
			}
		}
	}
	log.Info("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Close(shut)
}

func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Default(), nil
	}
	return config.Load(file)
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "built-in defaults"
	}
	return cfg.File
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
