package main

import (
	"fmt"
	"io"

	"github.com/havendns/haven/config"
)

// configCheck validates a config file and prints what it would load. Every
// problem is printed as file:line: reason.
func configCheck(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: haven config check FILE")
		return errUsage
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n%s", args[0], cfg.Summary())
	return nil
}
