package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/havendns/haven/api"
)

// passwordCmd prints the config line that sets the web console's
// password. The password is read from stdin, or generated, and never
// taken as an argument: arguments end up in shell history and in ps.
func passwordCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("password", stderr)
	generate := fs.Bool("generate", false, "generate a random password instead of reading one (it is printed to stderr)")
	_, err := parseArgs(fs, args, 0, stderr, "usage: haven password [--generate] < password-file\n\n"+
		"Reads the web console's password from the first line of stdin (or generates one)\n"+
		"and prints the config line that sets it: console: {password_hash: ...}.")
	if err != nil {
		return err
	}
	var pw string
	if *generate {
		pw = api.GeneratePassword()
	} else {
		if isTerminal(stdin) {
			fmt.Fprintln(stderr, "Type the console password and press Enter. It shows on the screen:")
			fmt.Fprintln(stderr, "to avoid that, pipe it in (haven password < file) or use --generate.")
		}
		if pw, err = readPassword(stdin); err != nil {
			return err
		}
	}
	hash, err := api.HashPassword(pw)
	if err != nil {
		return err
	}
	if *generate {
		fmt.Fprintf(stderr, "console password: %s\n(it is not stored anywhere: keep it, or give it to whoever uses the console)\n", pw)
	}
	// Single quotes: YAML takes the text as it is, and base64 has none.
	fmt.Fprintf(stdout, "console: {password_hash: '%s'}\n", hash)
	return nil
}

// readPassword returns the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(r, 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin (or use --generate)")
	}
	if strings.TrimSpace(pw) != pw {
		// Almost always a copy-and-paste accident, and invisible later.
		return "", errors.New("the password starts or ends with a space")
	}
	return pw, nil
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
