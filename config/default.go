package config

import (
	_ "embed"
	"fmt"
)

//go:embed default.yaml
var defaultYAML []byte

// Default returns the built-in configuration, used when no file is given:
// listen on port 53 of every address, forward over DoT and DoH to
// Cloudflare and Quad9, and block the built-in adult and malware lists.
// Each call returns a new Config the caller may change.
func Default() *Config {
	c, err := parse("default.yaml", ".", defaultYAML)
	if err != nil {
		// The embedded file is part of the program and a test parses it:
		// failing here is a build mistake, not bad input.
		panic(fmt.Sprintf("config: built-in default.yaml: %v", err))
	}
	c.File = ""
	return c
}
