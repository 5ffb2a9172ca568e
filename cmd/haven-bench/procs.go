package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one server process the benchmark started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // path of its stdout/stderr log ("" for none)
	done chan struct{}
	err  error // how it exited, once done is closed
}

// Pid is the process id, also the id of its process group.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// alive returns an error if the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v%s", p.name, p.err, p.logTail())
	default:
		return nil
	}
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string {
	if p.log == "" {
		return ""
	}
	b, err := os.ReadFile(p.log)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n--- " + p.log + " (end) ---\n" + strings.TrimRight(string(b), "\n")
}

// procs starts server processes, each in its own process group so that a
// Ctrl-C reaches only the benchmark, which then stops them in order, and so
// that stopping one stops anything it forked.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// sysProcAttr puts a child in its own process group and has the kernel
// kill it if the benchmark dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// start runs argv with stdout and stderr going to logPath (or to stdout,
// a pipe returned to the caller, when logPath is "").
func (ps *procs) start(name, logPath string, argv ...string) (*proc, io.ReadCloser, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = sysProcAttr()
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	var stdout io.ReadCloser
	var logf *os.File
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, nil, err
		}
		logf = f
		cmd.Stdout, cmd.Stderr = f, f
	} else {
		var err error
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, nil, err
		}
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	if logf != nil {
		logf.Close() // the child has its own copy
	}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, stdout, nil
}

// startResponder runs a subcommand of this program (upstream or null) that
// serves on a free loopback port and says where on its first line of
// output: "listening 127.0.0.1:PORT".
func (ps *procs) startResponder(self, sub string, args ...string) (*proc, string, error) {
	p, out, err := ps.start(sub, "", append([]string{self, sub}, args...)...)
	if err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out) // keep the pipe drained
	}()
	select {
	case l, ok := <-line:
		addr, found := strings.CutPrefix(l, "listening ")
		if !ok || !found {
			return p, "", fmt.Errorf("%s: first line %q, want \"listening ADDR\"", sub, l)
		}
		return p, addr, nil
	case <-time.After(10 * time.Second):
		return p, "", fmt.Errorf("%s did not start within 10s", sub)
	}
}

// stopAll sends SIGTERM to every process group started, waits a little for
// a graceful exit, then SIGKILLs what is left. It is safe to call twice.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for _, p := range list {
		_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for _, p := range list {
		select {
		case <-p.done:
		case <-deadline:
		}
	}
	for _, p := range list {
		// The group, not just the leader: anything it forked goes too.
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
}

// runCmd runs a short-lived child (dnsperf) in its own process group,
// killing the group if ctx ends first. It returns the CPU time the child
// used.
func runCmd(ctx context.Context, stdout, stderr io.Writer, argv ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	if ctx.Err() != nil {
		return cpu, errors.Join(ctx.Err(), err)
	}
	return cpu, err
}
