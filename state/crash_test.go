package state

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// crashEnv, when set, makes the test binary the writer TestFileCrash kills:
// its value is the state file to write.
const crashEnv = "HAVEN_STATE_CRASH_CHILD"

// TestFileCrash is the crash-safety argument put to the test. A child
// process (this test binary, run again) adds entries e000001, e000002, … as
// fast as it can and prints the count after each Put returns; the parent
// kills it with SIGKILL at a random moment, then opens the file. Every
// round the file must open cleanly and hold exactly the entries e000001 …
// eN, where N is the last count the child confirmed or, if the kill landed
// between the rename and the print, one more.
func TestFileCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path) // does not return
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs SIGKILL and a child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot re-execute the test binary:", err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "state.json")

	const rounds = 20
	confirmed := 0
	midWrite, unconfirmed := 0, 0 // rounds killed with a temporary file left, with a write done but not printed
	for round := range rounds {
		last := killChild(t, exe, path, rng)
		if last < confirmed {
			t.Fatalf("round %d: the child counted to %d, below the %d before it", round, last, confirmed)
		}
		if temps, _ := filepath.Glob(path + tempInfix + "*"); len(temps) != 0 {
			midWrite++
		}
		f, err := OpenFile(path, FileOptions{})
		if err != nil {
			t.Fatalf("round %d: OpenFile after kill: %v", round, err)
		}
		if err := f.Recovered(); err != nil {
			t.Fatalf("round %d: the file was torn: %v", round, err)
		}
		es := list(t, f)
		for i, e := range es {
			want := fmt.Sprintf("e%06d", i+1)
			if err := check(e); err != nil || e.ID != want || e.What != strconv.Itoa(i+1) || e.Target != "dev" || e.Kind != Allow {
				t.Fatalf("round %d: entry %d is %+v (%v), want ID %s", round, i, e, err, want)
			}
		}
		if n := len(es); n != last && n != last+1 {
			t.Fatalf("round %d: %d entries after the child confirmed %d", round, n, last)
		} else if n == last+1 {
			unconfirmed++
		}
		if temps, _ := filepath.Glob(path + tempInfix + "*"); len(temps) != 0 {
			t.Fatalf("round %d: temporary files left after open: %v", round, temps)
		}
		confirmed = len(es)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds, %d entries written; killed during a write %d times, after an unconfirmed rename %d times",
		rounds, confirmed, midWrite, unconfirmed)
}

// killChild starts a writer, lets it confirm a random number of writes and
// run on for a random moment, kills it, and returns the last count it
// confirmed.
func killChild(t *testing.T, exe, path string, rng *rand.Rand) int {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^TestFileCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	counts := make(chan int)
	done := make(chan int)
	go func() {
		last := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// One short line is one write(2), so a kill cannot cut it.
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				continue // the test framework's own output
			}
			last = n
			select {
			case counts <- n:
			default:
			}
		}
		done <- last
	}()

	// Time one write, let a few more pass, then kill at a random point
	// within the next one.
	var start time.Time
	extra := rng.IntN(4)
	for seen := 0; seen < 2+extra; {
		select {
		case <-counts:
			seen++
			if seen == 1 {
				start = time.Now()
			}
		case last := <-done:
			cmd.Wait()
			t.Fatalf("the child stopped by itself after %d writes: %s", last, stderr.Bytes())
		}
	}
	perWrite := time.Since(start) / time.Duration(1+extra)
	time.Sleep(rand.N(perWrite + 1))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	last := <-done
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("child: %v, want killed; stderr: %s", err, stderr.Bytes())
	}
	return last
}

// crashChild continues numbering from what the file holds, and writes
// until it is killed.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	f, err := OpenFile(path, FileOptions{})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	es, err := f.List(ctx)
	if err != nil {
		fail(err)
	}
	until := time.Now().Add(24 * time.Hour)
	for i := len(es) + 1; ; i++ {
		e := Entry{ID: fmt.Sprintf("e%06d", i), Target: "dev", Kind: Allow, What: strconv.Itoa(i), Until: until, By: "crash test"}
		if _, err := f.Put(ctx, e); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stdout, "%d\n", i)
	}
}
