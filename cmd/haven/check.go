package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// check explains the decision for one name: blocked or allowed, by which
// category, rule, source and line.
func check(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	file := fs.String("config", "", "config `file` (default: built-in defaults)")
	who := fs.String("client", "", "ask as this client: an `IP, MAC or client id` (default: an unmatched client)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: haven check [--config FILE] [--client IP|MAC|ID] NAME [TYPE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return errUsage
	}
	qtype := dns.TypeA
	if fs.NArg() == 2 {
		t, ok := dns.StringToType[strings.ToUpper(fs.Arg(1))]
		if !ok {
			return fmt.Errorf("unknown query type %q", fs.Arg(1))
		}
		qtype = t
	}
	name, err := haven.NormalizeName(fs.Arg(0))
	if err != nil {
		return err
	}
	w, err := haven.ParseWho(*who)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	h, err := haven.New(cfg, haven.Options{Logger: newLogger(cfg.Log, stderr)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.LoadLists(ctx); err != nil {
		return err
	}
	// Lists only ever fetched from the network have no copy yet on a first
	// run: fetch them so the answer is the one a running server would give.
	if h.NeedsDownload() {
		if err := h.Store().Refresh(ctx); err != nil {
			fmt.Fprintln(stderr, "haven: some lists could not be fetched:", err)
		}
	}
	fmt.Fprint(stdout, h.Describe(w, name, qtype))
	return nil
}
