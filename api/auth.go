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

// authorize checks the request's bearer token. It is the one place that
// decides who a request comes from; the web console's session cookies
// will be a second way in here.
func (s *Server) authorize(r *http.Request) *authError {
	hdr := r.Header.Values("Authorization")
	switch {
	case len(hdr) == 0:
		return &authError{msg: "authorization required: send Authorization: Bearer <token> (the token is in api.token in the data directory)"}
	case len(hdr) > 1:
		return &authError{code: "invalid_request", msg: "more than one Authorization header"}
	}
	scheme, tok, ok := strings.Cut(hdr[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return &authError{code: "invalid_request", msg: "the Authorization header must be Bearer <token>"}
	}
	if !s.token.matches(strings.TrimSpace(tok)) {
		return &authError{code: "invalid_token", msg: "invalid token"}
	}
	return nil
}
