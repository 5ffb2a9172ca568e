package config

import (
	"os"
	"regexp"
	"testing"
)

// TestReadmeExamples keeps the README's YAML examples true: each must load.
func TestReadmeExamples(t *testing.T) {
	for _, file := range []string{"../README.md", "README.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(data, -1)
		if len(blocks) == 0 {
			t.Fatalf("%s has no yaml examples", file)
		}
		for i, b := range blocks {
			example := b[1]
			if !regexp.MustCompile(`(?m)^upstreams:`).Match(example) {
				// A fragment of a config: give it the one key every file needs.
				example = append([]byte("upstreams: [udp://192.0.2.53]\n"), example...)
			}
			if _, err := Parse(file, example); err != nil {
				t.Errorf("%s example %d does not load:\n%s\n%v", file, i+1, b[1], err)
			}
		}
	}
}
