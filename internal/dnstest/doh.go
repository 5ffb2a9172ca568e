package dnstest

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"

	"github.com/miekg/dns"
)

const (
	dohPath     = "/dns-query"
	dohMIMEType = "application/dns-message"
)

// serveHTTP answers an RFC 8484 request: GET with ?dns=<base64url>, or POST
// with an application/dns-message body.
func (u *Upstream) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var wire []byte
	var err error
	switch r.Method {
	case http.MethodGet:
		wire, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
	case http.MethodPost:
		if r.Header.Get("Content-Type") != dohMIMEType {
			http.Error(w, "want "+dohMIMEType, http.StatusUnsupportedMediaType)
			return
		}
		wire, err = io.ReadAll(io.LimitReader(r.Body, dns.MaxMsgSize+1))
		if err == nil && len(wire) > dns.MaxMsgSize {
			err = errors.New("message too large")
		}
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	req := new(dns.Msg)
	if err == nil {
		err = req.Unpack(wire)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	u.mu.Lock()
	u.httpProto = r.Proto
	u.mu.Unlock()

	rw := &httpWriter{local: u.addr, remote: r.RemoteAddr}
	dispatcher{u}.ServeDNS(rw, req)
	if rw.msg == nil {
		// The handler stays silent: so does the server, until the client
		// gives up or the fake is closed.
		<-r.Context().Done()
		return
	}
	out, err := rw.msg.Pack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", dohMIMEType)
	w.Write(out)
}

// httpWriter captures the answer a dns.Handler writes for a DoH request.
type httpWriter struct {
	local, remote string
	msg           *dns.Msg
}

func (w *httpWriter) LocalAddr() net.Addr  { return tcpAddr(w.local) }
func (w *httpWriter) RemoteAddr() net.Addr { return tcpAddr(w.remote) }

func (w *httpWriter) WriteMsg(m *dns.Msg) error {
	w.msg = m
	return nil
}

func (w *httpWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msg = m
	return len(b), nil
}

func (w *httpWriter) Close() error        { return nil }
func (w *httpWriter) TsigStatus() error   { return nil }
func (w *httpWriter) TsigTimersOnly(bool) {}
func (w *httpWriter) Hijack()             {}

func tcpAddr(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}
