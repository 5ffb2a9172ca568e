package upstream

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// benchServerEnv, when set, makes the test binary a benchmark upstream
// instead of running tests (see startBenchServer).
const benchServerEnv = "HAVEN_UPSTREAM_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		if err := runBenchServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startBenchServer starts a UDP upstream on 127.0.0.1 in a child process,
// so that the benchmark's CPU figures (getrusage of this process) hold the
// client's work only. It answers every A query with one record, and stops
// when tb's Cleanup closes its stdin.
func startBenchServer(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("bench server: %v", err)
		}
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		tb.Fatalf("bench server: %v", err)
	}
	return strings.TrimSpace(addr)
}

// runBenchServer is the child: it prints its address, serves with a few
// goroutines (so parallel benchmarks are not bound by one), and exits when
// stdin is closed.
func runBenchServer() error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(pc.LocalAddr())
	a, err := dns.NewRR("example.com. 300 IN A 192.0.2.1")
	if err != nil {
		return err
	}
	for range 4 {
		go serveBench(pc, a)
	}
	io.Copy(io.Discard, os.Stdin)
	return pc.Close()
}

func serveBench(pc net.PacketConn, a dns.RR) {
	buf := make([]byte, dns.MaxMsgSize)
	out := make([]byte, dns.MaxMsgSize)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
			continue
		}
		r := new(dns.Msg)
		r.SetReply(q)
		if q.Question[0].Qtype == dns.TypeA {
			rr := dns.Copy(a)
			rr.Header().Name = q.Question[0].Name
			r.Answer = []dns.RR{rr}
		}
		wire, err := r.PackBuffer(out)
		if err != nil {
			continue
		}
		pc.WriteTo(wire, from)
	}
}
