package haven_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

// The lifecycle tests run the real binary, as an init system would: they
// stop it with SIGTERM and start it again, and check what a household would
// notice (a query lost on shutdown, a filter that lets names through until
// the first download after a restart).

// buildHaven builds cmd/haven into dir and returns the binary's path; it
// skips the test when the go command is not at hand.
func buildHaven(t *testing.T, dir string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found: lifecycle tests need it to build the binary")
	}
	bin := filepath.Join(dir, "haven")
	out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/havendns/haven/cmd/haven").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/haven: %v\n%s", err, out)
	}
	return bin
}

// process is a running `haven serve`.
type process struct {
	cmd  *exec.Cmd
	addr string
	log  string // its stderr
	done chan struct{}
	err  error // of Wait, once done is closed
}

// runHaven starts `haven serve --config FILE` with the YAML body (listen is
// added), waits until it answers DNS and returns it. The process is killed
// when the test ends if it is still running.
func runHaven(t *testing.T, bin, body string) *process {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "haven.yaml")
	// Port 0, read back from the log: a port found free beforehand may be
	// taken by a parallel test's socket before the process binds it.
	if err := os.WriteFile(file, []byte("listen: [\"127.0.0.1:0\"]\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &process{log: logf.Name(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", file)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("haven serve %s stderr:\n%s", p.addr, b)
		}
	})
	p.addr = p.listening(t)
	return p
}

// listenLine is the log line of the UDP and TCP listener, and its address.
var listenLine = regexp.MustCompile(`msg=listening addr=(\S+) proto=udp\+tcp`)

// listening waits for the process to log the address it bound (it binds
// once its lists are loaded) and returns it.
func (p *process) listening(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(p.log)
		if m := listenLine.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("haven logged no listening address within 10s:\n%s", b)
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			t.Fatalf("haven exited before listening: %v\n%s", p.err, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// firstAnswer asks for name until the process answers (it binds its
// listeners only once its lists are loaded) and returns that first answer.
func (p *process) firstAnswer(t *testing.T, name string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		if r, _, err := c.Exchange(m, p.addr); err == nil {
			return r
		}
		select {
		case <-p.done:
			t.Fatalf("haven exited before answering: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("haven did not answer on %s within 10s", p.addr)
	return nil
}

// stop sends SIGTERM and waits for the process to exit, which it must do
// cleanly within a few seconds.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
}

func (p *process) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("haven exited with %v after SIGTERM, want status 0", p.err)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("haven still running 8s after SIGTERM")
	}
}

func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildHaven(t, t.TempDir())

	// SIGTERM while a query waits on a slow upstream: the query is
	// answered, then the process exits 0.
	t.Run("SIGTERM with a query in flight", func(t *testing.T) {
		t.Parallel()
		up := dnstest.NewUpstream(t, dnstest.DelayHandler(time.Second, dnstest.ZoneHandler(zone...)))
		p := runHaven(t, bin, fmt.Sprintf("upstreams: [\"udp://%s\"]\ndeny: [ready.test]\n", up.Addr()))
		if r := p.firstAnswer(t, "ready.test."); r.Rcode != dns.RcodeNameError {
			t.Fatalf("ready.test: rcode %s, want NXDOMAIN (deny)", dns.RcodeToString[r.Rcode])
		}
		type result struct {
			r   *dns.Msg
			err error
		}
		answered := make(chan result, 1)
		go func() {
			c := &dns.Client{Timeout: 5 * time.Second}
			r, _, err := c.Exchange(dnstest.Query("example.com.", dns.TypeA), p.addr)
			answered <- result{r, err}
		}()
		for up.Count() == 0 {
			select {
			case res := <-answered:
				t.Fatalf("answered before reaching the upstream: %v %v", res.r, res.err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		begin := time.Now()
		p.stop(t)
		res := <-answered
		if res.err != nil {
			t.Fatalf("query in flight at SIGTERM got no answer: %v", res.err)
		}
		answerIs(t, res.r, "192.0.2.1")
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("exit took %v after SIGTERM", took)
		}
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		if _, _, err := c.Exchange(dnstest.Query("ready.test.", dns.TypeA), p.addr); err == nil {
			t.Errorf("still answering on %s after exit", p.addr)
		}
	})

	// A restart with the list server down blocks from the first query,
	// from the copy on disk.
	t.Run("restart with the list server down", func(t *testing.T) {
		t.Parallel()
		up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
		lists := newListServer(t, "good")
		body := fmt.Sprintf("upstreams: [\"udp://%s\"]\ndata_dir: %q\nrefresh: 0\nlists: {adult: [%q]}\nblock: [adult]\n",
			up.Addr(), t.TempDir(), lists.url())

		p := runHaven(t, bin, body)
		// The first start has no copy: it downloads one in the background.
		p.firstAnswer(t, "example.com.")
		deadline := time.Now().Add(10 * time.Second)
		for !isBlocked(t, p.addr, "bad.test.") {
			if time.Now().After(deadline) {
				t.Fatal("bad.test not blocked 10s after the first start: list not downloaded")
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.stop(t)

		lists.Close()
		p = runHaven(t, bin, body)
		r := p.firstAnswer(t, "bad.test.")
		if e := ede(r); r.Rcode != dns.RcodeNameError || e == nil || e.InfoCode != dns.ExtendedErrorCodeFiltered {
			t.Errorf("first answer after the restart: rcode %s, EDE %v; want blocked from the disk cache",
				dns.RcodeToString[r.Rcode], e)
		}
		if !isBlocked(t, p.addr, "sub.bad.test.") {
			t.Errorf("sub.bad.test not blocked after the restart")
		}
		p.stop(t)
	})
}
