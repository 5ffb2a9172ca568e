package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/havendns/haven/api"
)

var hashLine = regexp.MustCompile(`^console: \{password_hash: '(pbkdf2-sha256\$[^']+)'\}\n$`)

func TestPasswordCommand(t *testing.T) {
	tests := []struct {
		name, stdin string
		want        string // the password the hash must match
	}{
		{"a line", "correct horse battery\n", "correct horse battery"},
		{"no newline", "correct horse battery", "correct horse battery"},
		{"CRLF", "correct horse battery\r\nsecond line\n", "correct horse battery"},
		{"inner spaces kept", "a b c d e f g h\n", "a b c d e f g h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := passwordCmd(nil, strings.NewReader(tt.stdin), &out, &errOut); err != nil {
				t.Fatal(err)
			}
			m := hashLine.FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("output %q", out.String())
			}
			if ok, err := api.CheckPassword(m[1], tt.want); !ok || err != nil {
				t.Errorf("the hash does not match %q: %v", tt.want, err)
			}
			if strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Error("the password was printed")
			}
		})
	}
}

func TestPasswordCommandGenerate(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := passwordCmd([]string{"--generate"}, strings.NewReader("ignored\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	m := hashLine.FindStringSubmatch(out.String())
	pw := regexp.MustCompile(`console password: (\S+)`).FindStringSubmatch(errOut.String())
	if m == nil || pw == nil {
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	if ok, _ := api.CheckPassword(m[1], pw[1]); !ok {
		t.Errorf("the hash does not match the generated password %q", pw[1])
	}
	if strings.Contains(out.String(), pw[1]) {
		t.Error("the generated password is on stdout, with the config line")
	}
}

func TestPasswordCommandErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"empty", nil, "", "no password"},
		{"blank line", nil, "\n", "no password"},
		{"too short", nil, "short\n", "too short"},
		{"leading space", nil, " correct horse\n", "starts or ends with a space"},
		{"trailing space", nil, "correct horse \n", "starts or ends with a space"},
		{"argument", []string{"hunter2hunter2"}, "", "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := passwordCmd(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if err == nil || out.Len() != 0 {
				t.Fatalf("got %v, output %q", err, out.String())
			}
			if tt.want == "usage" {
				if !errors.Is(err, errUsage) {
					t.Errorf("got %v, want a usage error", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
