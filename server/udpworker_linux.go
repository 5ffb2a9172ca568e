package server

import (
	"net/netip"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
)

// The workers of a udpBatchServer: goroutines that answer, through the
// chain, the queries a batched reader can neither replay nor prefetch,
// each writing its answer alone.

// How long an idle worker waits for its next query before ending, and how
// many of them per CPU wait the longer time.
const (
	workerIdle = 10 * time.Second
	burstIdle  = 500 * time.Millisecond
	idlePerCPU = 4
)

// slowJob is a query handed off to be answered through the chain.
type slowJob struct {
	bc         *batchConn
	req        *dns.Msg
	ap         netip.AddrPort
	oob        []byte
	k          *wirecache.Key
	start, now time.Time
}

// dispatch gives j to an idle worker, or to a new one.
func (s *udpBatchServer) dispatch(j slowJob) {
	select {
	case s.work <- j:
	default:
		s.wg.Add(1)
		go s.worker(j)
	}
}

// worker answers j, then the queries it is handed, until it has been idle
// for workerIdle or the server stops.
func (s *udpBatchServer) worker(j slowJob) {
	defer s.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		j.bc.alone(j.req, j.ap, j.oob, j.k, j.start, j.now)
		if s.idle.Add(1) > s.maxIdle {
			idle.Reset(burstIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case j = <-s.work:
			s.idle.Add(-1)
		case <-idle.C:
			s.idle.Add(-1)
			return
		case <-s.stop:
			s.idle.Add(-1)
			return
		}
	}
}

// alone answers one query through the chain in a worker, writes the
// answer, and keeps it for the fast path when k is set.
func (bc *batchConn) alone(req *dns.Msg, ap netip.AddrPort, oob []byte, k *wirecache.Key, start, now time.Time) {
	h := bc.h
	client := ap.Addr().Unmap()
	q := &resolver.Query{Msg: req, Client: client, Proto: resolver.UDP}
	resp := h.answer(q)
	resp.Truncate(limitForAmplification(client, udpSize(req, h.opt.UDPSize)))
	bp := bc.bufs.Get().(*[]byte)
	if wire, err := resp.PackBuffer(*bp); err != nil {
		// As miekg/dns's WriteMsg: nothing is sent, the query is still
		// observed.
		h.log.Debug("write answer", "client", client, "err", err)
	} else {
		if _, _, err := bc.c.WriteMsgUDPAddrPort(wire, oob, ap); err != nil {
			h.log.Debug("write answer", "client", client, "err", err)
		}
		if k != nil {
			h.keep(k, wire, q, resp.Rcode, now)
		}
	}
	bc.bufs.Put(bp)
	h.inflight.release(client)
	if h.opt.Observe != nil {
		h.opt.Observe(q, resp.Rcode, time.Since(start))
	}
}
