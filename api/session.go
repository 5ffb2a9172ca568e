package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Console session parameters.
const (
	// SessionCookie is the name of the console's session cookie.
	SessionCookie = "haven_session"
	// CSRFHeader and CSRFField carry a session's CSRF token on requests
	// that change something: the header for scripts, the form field for
	// the console's HTML forms.
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf"

	sessionIdle = 12 * time.Hour
	maxSessions = 1000 // a household has a few; past this the least recently used goes
)

// Session is a logged-in console session, as handlers see it.
type Session struct {
	CSRF    string // the token forms must send back in CSRFField
	Created time.Time
}

type sessionKey struct{}

// SessionFrom returns the console session the request came with; the
// server puts it in the context of every console request it passes on.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

func withSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// sessions is the server-side session table. Keys are SHA-256 digests of
// the cookie values, so a lookup's timing says nothing useful about the
// IDs held.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session
}

type session struct {
	Session
	seen time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[sha256.Size]byte]*session{}}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns its ID, the cookie's value.
func (ss *sessions) create() (string, Session) {
	id := randomToken()
	now := ss.now()
	s := &session{Session: Session{CSRF: randomToken(), Created: now}, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweep(now)
	if len(ss.m) >= maxSessions {
		var oldest [sha256.Size]byte
		var t time.Time
		for k, v := range ss.m {
			if t.IsZero() || v.seen.Before(t) {
				oldest, t = k, v.seen
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s.Session
}

// lookup returns the live session with the ID and marks it used.
func (ss *sessions) lookup(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	k := sha256.Sum256([]byte(id))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[k]
	if !ok {
		return Session{}, false
	}
	if now.Sub(s.seen) >= sessionIdle {
		delete(ss.m, k)
		return Session{}, false
	}
	s.seen = now
	return s.Session, true
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

// sweep drops idle sessions; called with mu held.
func (ss *sessions) sweep(now time.Time) {
	for k, s := range ss.m {
		if now.Sub(s.seen) >= sessionIdle {
			delete(ss.m, k)
		}
	}
}

// fromRequest returns the session of the request's cookie.
func (ss *sessions) fromRequest(r *http.Request) (id string, s Session, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", Session{}, false
	}
	s, ok = ss.lookup(c.Value)
	return c.Value, s, ok
}

// sessionCookie returns the cookie for id; an empty id deletes it. Secure
// is set when the request came over TLS: on plain HTTP the browser would
// refuse to send it back.
func sessionCookie(r *http.Request, id string) *http.Cookie {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
	}
	if id == "" {
		c.MaxAge = -1
	}
	return c
}

// csrfOK reports whether an unsafe request carries the session's CSRF
// token, in the header or, for HTML forms, the form field.
func csrfOK(r *http.Request, s Session) bool {
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && isForm(r) {
		tok = r.PostFormValue(CSRFField)
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) == 1
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// unsafeMethod reports whether a request may change something.
func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// sameOrigin rejects requests a browser marks as sent from another site.
// It is a second line behind the CSRF token (and the only one for the
// login form, which has no session yet); requests without these headers
// (scripts, old browsers) pass.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host == r.Host
}
