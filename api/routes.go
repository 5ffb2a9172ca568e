package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/havendns/haven/state"
)

// access says who may call an endpoint.
type access uint8

const (
	authed access = iota // a valid bearer token is required
	public               // anyone (health checks)
)

// endpoint is one method on one path.
type endpoint struct {
	method string
	path   string
	access access
	handle func(w http.ResponseWriter, r *http.Request) error
}

// endpoints lists the API. Paths are versioned so that the web console,
// which will mount its own pages and session-authenticated routes beside
// them, can change without breaking scripts written against v1.
func (s *Server) endpoints() []endpoint {
	return []endpoint{
		{http.MethodGet, "/api/v1/health", public, s.health},
		{http.MethodGet, "/api/v1/status", authed, s.status},
		{http.MethodGet, "/api/v1/state", authed, s.state},
		{http.MethodPost, "/api/v1/pause", authed, s.pause},
		{http.MethodPost, "/api/v1/allow", authed, s.allow},
		{http.MethodPost, "/api/v1/resume", authed, s.resume},
		{http.MethodGet, "/api/v1/check", authed, s.check},
		{http.MethodPost, "/api/v1/lists/refresh", authed, s.refresh},
		{http.MethodGet, "/api/v1/devices", authed, s.devices},
		{http.MethodGet, "/api/v1/log", authed, s.searchLog},
		{http.MethodDelete, "/api/v1/log", authed, s.deleteLog},
		{http.MethodGet, "/api/v1/stats", authed, s.stats},
		{http.MethodGet, "/api/v1/top", authed, s.top},
		{http.MethodPost, "/api/v1/reload", authed, s.reload},
	}
}

// routes builds the handler: the API under /api/, the metrics, and the
// console at every other path. API methods are dispatched here rather
// than by ServeMux method patterns so that a wrong method gets a JSON 405
// like every other error, and only after authentication: an
// unauthenticated caller learns nothing about which routes exist.
func (s *Server) routes() http.Handler {
	byPath := map[string][]endpoint{}
	var paths []string
	for _, e := range s.endpoints() {
		if byPath[e.path] == nil {
			paths = append(paths, e.path)
		}
		byPath[e.path] = append(byPath[e.path], e)
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.Handle(p, s.dispatch(byPath[p]))
	}
	mux.Handle("/api/", s.dispatch(nil))
	if s.metrics != nil {
		mux.Handle("/metrics", s.metricsHandler())
	}
	if s.console != nil {
		mux.Handle("/", s.consoleHandler())
	} else {
		mux.Handle("/", s.dispatch(nil))
	}
	return mux
}

// dispatch serves one path: authentication, then the method, then the
// endpoint. With no endpoints the path is unknown.
func (s *Server) dispatch(eps []endpoint) http.Handler {
	var allow []string
	for _, e := range eps {
		allow = append(allow, e.method)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		i := slices.IndexFunc(eps, func(e endpoint) bool { return e.method == r.Method })
		if i < 0 || eps[i].access != public {
			if !s.checkAPI(w, r) {
				return
			}
		}
		switch {
		case eps == nil:
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
		case i < 0:
			h.Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+strings.Join(allow, " or "))
		default:
			if err := eps[i].handle(w, r); err != nil {
				s.fail(w, r, err)
			}
		}
	})
}

// fail answers a handler's error with its status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := HTTPStatus(err)
	var se *statusError
	if errors.As(err, &se) {
		code = se.code
	}
	// A 503 is a part that is switched off, not a failure to look into.
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.log.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, code, err.Error())
}

// HTTPStatus is the status code a Controller's error is answered with;
// the console uses it too.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid), errors.Is(err, state.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, state.ErrFull):
		return http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	v, err := s.ctl.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) error {
	es, err := s.ctl.Entries(r.Context())
	if err != nil {
		return err
	}
	// The controller drops expired entries as it meets them; one that has
	// just run out is not reported as active.
	now := s.now()
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		if e.Until.IsZero() || e.Until.After(now) {
			out = append(out, fromState(e))
		}
	}
	writeJSON(w, http.StatusOK, map[string][]Entry{"entries": out})
	return nil
}

// PauseRequest is the body of POST /api/v1/pause. Exactly one of For and
// Until is required.
type PauseRequest struct {
	Target string `json:"target"`
	For    string `json:"for,omitempty"`   // a duration: "30m", "1h30m", "2d"
	Until  string `json:"until,omitempty"` // "HH:MM" (next occurrence) or RFC 3339
	By     string `json:"by,omitempty"`    // who asked, for the record; default "api"
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) error {
	var req PauseRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := need("target", req.Target); err != nil {
		return err
	}
	until, by, err := s.terms(req.For, req.Until, req.By)
	if err != nil {
		return err
	}
	e, err := s.ctl.Pause(r.Context(), req.Target, until, by)
	if err != nil {
		return err
	}
	s.log.Info("paused", "target", e.Target, "until", e.Until, "by", by)
	writeJSON(w, http.StatusOK, fromState(e))
	return nil
}

// AllowRequest is the body of POST /api/v1/allow. Exactly one of For and
// Until is required.
type AllowRequest struct {
	Target string `json:"target"`
	What   string `json:"what"` // a service, category or domain
	For    string `json:"for,omitempty"`
	Until  string `json:"until,omitempty"`
	By     string `json:"by,omitempty"`
}

func (s *Server) allow(w http.ResponseWriter, r *http.Request) error {
	var req AllowRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := need("target", req.Target); err != nil {
		return err
	}
	if err := need("what", req.What); err != nil {
		return err
	}
	until, by, err := s.terms(req.For, req.Until, req.By)
	if err != nil {
		return err
	}
	e, err := s.ctl.Allow(r.Context(), req.Target, req.What, until, by)
	if err != nil {
		return err
	}
	s.log.Info("exception added", "target", e.Target, "what", e.What, "until", e.Until, "by", by)
	writeJSON(w, http.StatusOK, fromState(e))
	return nil
}

// terms checks the for, until and by fields that pause and allow requests
// share, and returns when the entry ends and who asked.
func (s *Server) terms(forStr, untilStr, by string) (time.Time, string, error) {
	until, err := expiry(s.now(), forStr, untilStr)
	if err != nil {
		return time.Time{}, "", err
	}
	by, err = byWhom(by)
	if err != nil {
		return time.Time{}, "", err
	}
	return until, by, nil
}

// ResumeRequest is the body of POST /api/v1/resume.
type ResumeRequest struct {
	Target string `json:"target"`
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) error {
	var req ResumeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := need("target", req.Target); err != nil {
		return err
	}
	n, err := s.ctl.Resume(r.Context(), req.Target)
	if err != nil {
		return err
	}
	s.log.Info("resumed", "target", req.Target, "removed", n)
	writeJSON(w, http.StatusOK, map[string]int{"removed": n})
	return nil
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if k != "client" && k != "name" && k != "type" {
			return invalid("unknown parameter %q (want client, name, type)", k)
		}
	}
	name := q.Get("name")
	if err := need("name", name); err != nil {
		return err
	}
	qtype := q.Get("type")
	if qtype == "" {
		qtype = "A"
	}
	v, err := s.ctl.Explain(r.Context(), q.Get("client"), name, qtype)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(w, r); err != nil {
		return err
	}
	// Fetching every list can take longer than an ordinary request may.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(refreshTimeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), refreshTimeout)
	defer cancel()
	if err := s.ctl.RefreshLists(ctx); err != nil {
		return err
	}
	s.log.Info("lists refreshed on request")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// need reports an empty required field.
func need(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid("%s is required", field)
	}
	return nil
}

// byWhom checks the free-text "by" field, which ends up in logs and the
// console: short, one line.
func byWhom(by string) (string, error) {
	if by == "" {
		return "api", nil
	}
	if len(by) > 64 || strings.ContainsFunc(by, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", invalid("by: at most 64 characters, no control characters")
	}
	return by, nil
}
