package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenHash holds the SHA-256 of the bearer token. Comparing digests in
// constant time hides both the token's bytes and its length.
type tokenHash struct {
	sum [sha256.Size]byte
	set bool
}

func hashToken(tok string) tokenHash {
	if tok == "" {
		return tokenHash{}
	}
	return tokenHash{sum: sha256.Sum256([]byte(tok)), set: true}
}

func (h tokenHash) matches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1 && h.set
}

// authError is a failed authentication (RFC 6750 section 3).
type authError struct {
	code string // "" when no credentials were sent, else "invalid_token" or "invalid_request"
	msg  string
}

func (e *authError) challenge() string {
	if e.code == "" {
		return `Bearer realm="haven"`
	}
	return `Bearer realm="haven", error="` + e.code + `"`
}

// authorize checks the request's credentials: a bearer token, or else a
// console session cookie, whose session it returns. It is the one place
// that decides who an API request comes from. An Authorization header is
// judged alone: a wrong token is not rescued by a cookie.
func (s *Server) authorize(r *http.Request) (*Session, *authError) {
	hdr := r.Header.Values("Authorization")
	switch {
	case len(hdr) == 0:
		if _, sess, ok := s.sessions.fromRequest(r); ok {
			return &sess, nil
		}
		return nil, &authError{msg: "authorization required: send Authorization: Bearer <token> (the token is in api.token in the data directory)"}
	case len(hdr) > 1:
		return nil, &authError{code: "invalid_request", msg: "more than one Authorization header"}
	}
	scheme, tok, ok := strings.Cut(hdr[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, &authError{code: "invalid_request", msg: "the Authorization header must be Bearer <token>"}
	}
	if !s.token.matches(strings.TrimSpace(tok)) {
		return nil, &authError{code: "invalid_token", msg: "invalid token"}
	}
	return nil, nil
}

// checkAPI authorizes an API request, answering it itself if it may not
// go on: 401 without valid credentials, 403 for a session request that
// changes something without the session's CSRF token.
func (s *Server) checkAPI(w http.ResponseWriter, r *http.Request) bool {
	sess, err := s.authorize(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", err.challenge())
		writeError(w, http.StatusUnauthorized, err.msg)
		return false
	}
	if sess != nil && unsafeMethod(r.Method) && (!sameOrigin(r) || !csrfOK(r, *sess)) {
		writeError(w, http.StatusForbidden, "a session request that changes something needs the session's CSRF token in the "+CSRFHeader+" header")
		return false
	}
	return true
}
