package server

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

const (
	dohPath = "/dns-query"
	dohMIME = "application/dns-message"
	// dohIdle is how long an idle DoH connection is kept: browsers keep
	// one open to their resolver, and a new TLS handshake per query
	// would cost more than the socket.
	dohIdle = 60 * time.Second
)

// dohServer serves DNS over HTTPS (RFC 8484) on one listener, over HTTP/2
// or HTTP/1.1.
type dohServer struct {
	srv *http.Server
	ln  net.Listener
}

func startDoH(addr string, s *Server) (*dohServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := s.opt.TLSConfig.Clone()
	cfg.NextProtos = nil // net/http offers h2 and http/1.1
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	srv := &http.Server{
		Handler:           &dohHandler{h: s.handler},
		TLSConfig:         cfg,
		ReadHeaderTimeout: s.opt.ReadTimeout,
		ReadTimeout:       2 * s.opt.ReadTimeout,
		// Past the chain's own timeout, which always gives an answer.
		WriteTimeout: s.opt.Timeout + writeTimeout,
		IdleTimeout:  dohIdle,
		// A GET carries up to 64 KiB of message in base64.
		MaxHeaderBytes: 128 << 10,
		// Scanners and aborted handshakes are not worth more than debug.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	d := &dohServer{srv: srv, ln: s.limit.listener(ln, s.log)}
	log := s.log
	go func() {
		// The certificate is in cfg: no files.
		if err := srv.ServeTLS(d.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "proto", "https", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return d, nil
}

func (d *dohServer) addr() net.Addr { return d.ln.Addr() }

func (d *dohServer) shutdown(ctx context.Context) error {
	err := d.srv.Shutdown(ctx)
	if err != nil {
		d.srv.Close()
	}
	return err
}

func (d *dohServer) close() { d.srv.Close() }

// dohHandler answers RFC 8484 requests at /dns-query and /dns-query/<id>.
type dohHandler struct {
	h *handler
}

func (d *dohHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, dohPath)
	switch {
	case !ok || (id != "" && id[0] != '/'):
		http.NotFound(w, r)
		return
	case id != "" && id != "/":
		id = id[1:]
		if !validClientID(id) {
			http.Error(w, "client id: want 1 to 63 lower-case letters, digits and hyphens", http.StatusBadRequest)
			return
		}
	default:
		id = ""
	}
	wire, status, msg := readMessage(w, r)
	if status != http.StatusOK {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		http.Error(w, msg, status)
		return
	}
	q := &resolver.Query{Client: remoteAddr(r.RemoteAddr), Proto: resolver.DoH, ClientID: id}
	answered := d.h.serveStream(wire, q, func(m *dns.Msg, out []byte) error {
		hdr := w.Header()
		hdr.Set("Content-Type", dohMIME)
		hdr.Set("Content-Length", strconv.Itoa(len(out)))
		hdr.Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(maxAge(m)), 10))
		_, err := w.Write(out)
		return err
	})
	if !answered {
		http.Error(w, "not a DNS query", http.StatusBadRequest)
	}
}

// readMessage returns the DNS message of a GET (?dns=, base64url) or POST
// (application/dns-message body) request, or the HTTP status and text that
// refuse it.
func readMessage(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	switch r.Method {
	case http.MethodGet:
		s := r.URL.Query().Get("dns")
		if s == "" {
			return nil, http.StatusBadRequest, "missing dns parameter"
		}
		if len(s) > base64.RawURLEncoding.EncodedLen(dns.MaxMsgSize)+2 {
			return nil, http.StatusRequestURITooLong, "message over 65535 bytes"
		}
		// RFC 8484 says no padding; accepting it costs nothing.
		wire, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, http.StatusBadRequest, "dns parameter: not base64url"
		}
		return wire, http.StatusOK, ""
	case http.MethodPost:
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != dohMIME {
			return nil, http.StatusUnsupportedMediaType, "want Content-Type " + dohMIME
		}
		if r.ContentLength > dns.MaxMsgSize {
			return nil, http.StatusRequestEntityTooLarge, "message over 65535 bytes"
		}
		wire, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dns.MaxMsgSize))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, http.StatusRequestEntityTooLarge, "message over 65535 bytes"
			}
			return nil, http.StatusBadRequest, "read body"
		}
		return wire, http.StatusOK, ""
	}
	return nil, http.StatusMethodNotAllowed, "GET or POST"
}

// maxAge is how long an HTTP cache may keep a DoH answer (RFC 8484 5.1):
// the smallest TTL of its records, at most the negative TTL of the SOA of a
// negative answer (RFC 2308). Failures and answers without records are not
// to be kept.
func maxAge(m *dns.Msg) uint32 {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0
	}
	age, found := uint32(math.MaxUint32), false
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			age, found = min(age, h.Ttl), true
			if soa, ok := rr.(*dns.SOA); ok && len(m.Answer) == 0 {
				age = min(age, soa.Minttl)
			}
		}
	}
	if !found {
		return 0
	}
	return age
}

// remoteAddr is the address of the HTTP peer. X-Forwarded-For and the like
// are not trusted: anyone could claim any address, and a device's policy
// hangs on it.
func remoteAddr(s string) netip.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
