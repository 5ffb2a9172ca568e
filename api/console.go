package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Paths the server itself handles for the console, around the Console
// handler. GET LoginPath and everything under StaticPrefix reach the
// console without a session (the login page and its stylesheet); POST
// LoginPath and POST LogoutPath never reach it.
const (
	LoginPath    = "/login"
	LogoutPath   = "/logout"
	StaticPrefix = "/static/"
)

// Login form fields, and the codes of the "error" parameter the login page
// is redirected to with after a failed attempt.
const (
	PasswordField = "password"
	NextField     = "next" // where to go after logging in: a local path

	LoginInvalid  = "invalid"  // wrong password
	LoginLimited  = "limited"  // too many attempts: wait a minute
	LoginDisabled = "disabled" // no console password is set
)

// consoleHandler puts the console behind the login: it handles login and
// logout, sends requests without a session to the login page, checks the
// CSRF token of every request that changes something, and hands the rest
// to the console with the session in their context.
func (s *Server) consoleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if unsafeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		path := r.URL.Path
		switch {
		case path == LoginPath && r.Method == http.MethodPost:
			s.login(w, r)
			return
		case path == LogoutPath && r.Method == http.MethodPost:
			s.logout(w, r)
			return
		}
		id, sess, ok := s.sessions.fromRequest(r)
		open := (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			(path == LoginPath || strings.HasPrefix(path, StaticPrefix))
		switch {
		case !ok && open:
			if id != "" {
				// An expired or forgotten session: drop the cookie.
				http.SetCookie(w, sessionCookie(r, ""))
			}
			s.console.ServeHTTP(w, r)
			return
		case !ok:
			s.toLogin(w, r, "")
			return
		case unsafeMethod(r.Method) && (!sameOrigin(r) || !csrfOK(r, sess)):
			s.log.Warn("console request without a valid CSRF token", "method", r.Method, "path", path, "client", r.RemoteAddr)
			http.Error(w, "Forbidden: this form is out of date or came from another site. Go back, reload the page and try again.", http.StatusForbidden)
			return
		}
		s.console.ServeHTTP(w, r.WithContext(withSession(r.Context(), sess)))
	})
}

// toLogin redirects to the login page, which sends the user back to what
// they asked for (a page, never a form submission) once logged in.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, code string) {
	q := url.Values{}
	if code != "" {
		q.Set("error", code)
	}
	if r.Method == http.MethodGet && r.URL.Path != LoginPath {
		q.Set(NextField, r.URL.RequestURI())
	} else if next := r.PostFormValue(NextField); r.URL.Path == LoginPath && next != "" {
		q.Set(NextField, LocalPath(next))
	}
	u := LoginPath
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// login checks the password of the login form and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "Forbidden: a login from another site.", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ph := s.password.Load()
	if ph == nil {
		s.toLogin(w, r, LoginDisabled)
		return
	}
	client := clientOf(r)
	if ok, wait := s.limiter.allow(client); !ok {
		s.log.Warn("console login rate limited", "client", r.RemoteAddr, "retry_in", wait.Round(1e9))
		s.toLogin(w, r, LoginLimited)
		return
	}
	good, err := s.verify(r.Context(), ph, r.PostFormValue(PasswordField))
	if err != nil {
		return // the client went away
	}
	if !good {
		s.log.Warn("console login failed: wrong password", "client", r.RemoteAddr)
		s.toLogin(w, r, LoginInvalid)
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.sessions.delete(c.Value)
	}
	id, _ := s.sessions.create()
	http.SetCookie(w, sessionCookie(r, id))
	s.log.Info("console login", "client", r.RemoteAddr)
	http.Redirect(w, r, LocalPath(r.PostFormValue(NextField)), http.StatusSeeOther)
}

// verify checks a password, a few at a time: each check costs a
// deliberate fraction of a second of CPU, which must not add up to a
// denial of service for the DNS server in the same process.
func (s *Server) verify(ctx context.Context, ph *passwordHash, password string) (bool, error) {
	select {
	case s.verifying <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.verifying }()
	return ph.verify(password), nil
}

// logout ends the session. It needs the CSRF token like any change, so
// that another site cannot log the user out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	id, sess, ok := s.sessions.fromRequest(r)
	if ok && (!sameOrigin(r) || !csrfOK(r, sess)) {
		http.Error(w, "Forbidden: this form is out of date or came from another site. Go back, reload the page and try again.", http.StatusForbidden)
		return
	}
	if id != "" {
		s.sessions.delete(id)
	}
	http.SetCookie(w, sessionCookie(r, ""))
	http.Redirect(w, r, LoginPath+"?done=logout", http.StatusSeeOther)
}

// localPath returns p if it is a path on this server, else "/": the next
// parameter must not turn the login into an open redirect.
func LocalPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == LoginPath || u.Path == LogoutPath {
		return "/"
	}
	return p
}

// metricsHandler serves the metrics, behind the API's authentication
// unless they are public.
func (s *Server) metricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !s.publicMetrics && !s.checkAPI(w, r) {
			return
		}
		s.metrics.ServeHTTP(w, r)
	})
}
