package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/havendns/haven/state"
)

// Client calls a running server's API; the haven command line uses it.
type Client struct {
	Base  string       // e.g. http://127.0.0.1:8053
	Token string       // the bearer token (ReadToken)
	HTTP  *http.Client // nil: a client with no proxy
	By    string       // sent as "by" on pauses and exceptions ("" = the server's default)
}

// When is how long a pause or exception lasts: For, or Until ("HH:MM" in
// the server's zone, or RFC 3339). Until is sent as written so that the
// server, not the caller, decides what a wall-clock time means.
type When struct {
	For   time.Duration
	Until string
}

// Error is an error answer from the API.
type Error struct {
	Status  int    // the HTTP status code
	Message string // the API's "error" text
}

func (e *Error) Error() string { return e.Message }

// Health checks that the server answers.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/api/v1/health", nil, nil)
}

// Pause pauses target for w.
func (c *Client) Pause(ctx context.Context, target string, w When) (state.Entry, error) {
	req := PauseRequest{Target: target, By: c.By}
	req.For, req.Until = w.encode()
	var e Entry
	err := c.do(ctx, http.MethodPost, "/api/v1/pause", req, &e)
	return e.state(), err
}

// Allow lets target reach what for w.
func (c *Client) Allow(ctx context.Context, target, what string, w When) (state.Entry, error) {
	req := AllowRequest{Target: target, What: what, By: c.By}
	req.For, req.Until = w.encode()
	var e Entry
	err := c.do(ctx, http.MethodPost, "/api/v1/allow", req, &e)
	return e.state(), err
}

// Resume ends target's pauses and exceptions and returns how many there
// were.
func (c *Client) Resume(ctx context.Context, target string) (int, error) {
	var out struct {
		Removed int `json:"removed"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/resume", ResumeRequest{Target: target}, &out)
	return out.Removed, err
}

// Entries returns the active pauses and exceptions.
func (c *Client) Entries(ctx context.Context) ([]state.Entry, error) {
	var out struct {
		Entries []Entry `json:"entries"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/state", nil, &out); err != nil {
		return nil, err
	}
	es := make([]state.Entry, len(out.Entries))
	for i, e := range out.Entries {
		es[i] = e.state()
	}
	return es, nil
}

// Status returns the server's status as sent.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &out)
	return out, err
}

// Check returns the explanation of a query as sent.
func (c *Client) Check(ctx context.Context, client, name, qtype string) (json.RawMessage, error) {
	q := url.Values{"name": {name}}
	if client != "" {
		q.Set("client", client)
	}
	if qtype != "" {
		q.Set("type", qtype)
	}
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, "/api/v1/check?"+q.Encode(), nil, &out)
	return out, err
}

// RefreshLists asks the server to fetch every list again.
func (c *Client) RefreshLists(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/lists/refresh", nil, nil)
}

// Devices returns the configured devices and their state.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	var out struct {
		Devices []deviceJSON `json:"devices"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/devices", nil, &out); err != nil {
		return nil, err
	}
	ds := make([]Device, len(out.Devices))
	for i, d := range out.Devices {
		ds[i] = d.device()
	}
	return ds, nil
}

// DeleteDeviceLog deletes a device's query history and returns how many
// queries it held.
func (c *Client) DeleteDeviceLog(ctx context.Context, device string) (int64, error) {
	var out struct {
		Deleted int64 `json:"deleted"`
	}
	err := c.do(ctx, http.MethodDelete, "/api/v1/log?"+url.Values{"device": {device}}.Encode(), nil, &out)
	return out.Deleted, err
}

// Reload asks the server to read its config file again. A config that
// does not load is an *Error whose message lists its problems.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/reload", nil, nil)
}

func (w When) encode() (forStr, until string) {
	if w.For != 0 {
		forStr = w.For.String()
	}
	return forStr, w.Until
}

// do sends a request with in as its JSON body (nil: none) and decodes the
// answer into out (nil: discarded).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		// No proxy: the token must not travel through one. No keep-alive:
		// this transport is dropped after the one request.
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Answers are small; a cap keeps a wrong server from flooding us.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s (not a haven API answer)", method, path, resp.Status)}
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
