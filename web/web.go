// Package web renders Haven's dashboard for parents and admins:
// server-rendered pages, embedded, no external assets.
//
// The pages are html/template files and one stylesheet compiled into the
// binary; charts are inline SVG drawn on the server, each with a table
// beside it; every change is a plain HTML form posted with the session's
// CSRF token and redirected back. There is no JavaScript.
//
// The package owns the pages only. Login, sessions and CSRF checks are the
// api package's: api.Server serves this handler behind its login and hands
// each request over with its api.Session in the context.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/havendns/haven/api"
)

//go:embed templates/*.html static/*
var files embed.FS

// Options configure the console.
type Options struct {
	Backend Backend
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now; its zone is the one times are shown in
	// By is recorded as the author of pauses and exceptions made here
	// (default "console").
	By string
}

// console serves the pages.
type console struct {
	b     Backend
	log   *slog.Logger
	now   func() time.Time
	by    string
	pages map[string]*template.Template
}

// contentPolicy allows the page's own stylesheet and nothing else: no
// scripts at all, no frames, forms only to this server.
const contentPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New returns the console's handler. Serve it through api.Server
// (api.Options.Console), which puts it behind the login.
func New(opt Options) http.Handler {
	c := &console{b: opt.Backend, log: opt.Logger, now: opt.Now, by: opt.By, pages: parsePages()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.by == "" {
		c.by = "console"
	}
	static, _ := fs.Sub(files, "static") // the directory is embedded above

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /log", c.logPage)
	mux.HandleFunc("GET /device/{name}", c.device)
	mux.HandleFunc("GET /device/{name}/delete", c.confirmDelete)
	mux.HandleFunc("POST /device/{name}/delete", c.deleteHistory)
	mux.HandleFunc("GET /status", c.status)
	mux.HandleFunc("POST /status/refresh", c.refresh)
	mux.HandleFunc("POST /status/reload", c.reload)
	mux.HandleFunc("POST /pause", c.pause)
	mux.HandleFunc("POST /allow", c.allow)
	mux.HandleFunc("POST /resume", c.resume)
	mux.HandleFunc("GET "+api.LoginPath, c.login)
	mux.Handle("GET "+api.StaticPrefix, http.StripPrefix(api.StaticPrefix[:len(api.StaticPrefix)-1], http.FileServerFS(static)))
	mux.HandleFunc("/", c.notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentPolicy)
		mux.ServeHTTP(w, r)
	})
}

func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); !ok {
		return
	}
	c.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
}
