package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/havendns/haven/state"
)

// maxBody caps request bodies; every request is a few short fields.
const maxBody = 64 << 10

// Entry is a pause or exception on the wire. It mirrors state.Entry with
// names of its own, so that the state package can change its storage
// without changing the API.
type Entry struct {
	ID      string    `json:"id"`
	Target  string    `json:"target"`
	Kind    string    `json:"kind"` // "pause" or "allow"
	What    string    `json:"what,omitempty"`
	Until   time.Time `json:"until"`
	Created time.Time `json:"created"`
	By      string    `json:"by,omitempty"`
}

func fromState(e state.Entry) Entry {
	return Entry{ID: e.ID, Target: e.Target, Kind: string(e.Kind), What: e.What, Until: e.Until, Created: e.Created, By: e.By}
}

func (e Entry) state() state.Entry {
	return state.Entry{ID: e.ID, Target: e.Target, Kind: state.Kind(e.Kind), What: e.What, Until: e.Until, Created: e.Created, By: e.By}
}

// statusError is an error with its HTTP status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// invalid returns an ErrInvalid with a message of its own.
func invalid(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// decode reads a JSON object into v: size-capped, unknown fields and
// trailing data rejected.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeEmpty accepts an empty body or an empty JSON object, so that both
// `curl -X POST` and clients that always send {} work.
func decodeEmpty(w http.ResponseWriter, r *http.Request) error {
	return decodeBody(w, r, &struct{}{}, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if emptyOK && err == io.EOF {
			return nil
		}
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return invalid("request body: data after the JSON object")
		}
		return bodyError(err)
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &statusError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return invalid("request body: a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body: truncated JSON")
	}
	return invalid("request body: %v", err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
