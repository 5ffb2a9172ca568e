package state

import (
	"encoding/json"
	"fmt"
	"time"
)

// formatVersion is written into every file. A reader that meets another
// version treats the file as corrupt (keeps it aside) rather than guess.
const formatVersion = 1

// fileFormat is the state file: {"version":1,"entries":[…]}.
type fileFormat struct {
	Version int      `json:"version"`
	Entries []record `json:"entries"`
}

// record is an Entry on disk. It is its own type so that the file format
// does not change when Entry grows fields, and the keys are lower case for
// people reading the file.
type record struct {
	ID      string    `json:"id"`
	Target  string    `json:"target"`
	Kind    Kind      `json:"kind"`
	What    string    `json:"what,omitempty"`
	Until   time.Time `json:"until"`
	Created time.Time `json:"created"`
	By      string    `json:"by,omitempty"`
}

func (r record) entry() Entry {
	return Entry{ID: r.ID, Target: r.Target, Kind: r.Kind, What: r.What,
		Until: r.Until.UTC(), Created: r.Created.UTC(), By: r.By}
}

func encode(entries []Entry) ([]byte, error) {
	ff := fileFormat{Version: formatVersion, Entries: make([]record, len(entries))}
	for i, e := range entries {
		ff.Entries[i] = record(e)
	}
	b, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	return append(b, '\n'), nil
}

// decode parses a state file. Unknown keys are ignored, so that a later
// version may add optional fields without bumping the version.
func decode(data []byte) ([]record, error) {
	var ff fileFormat
	if err := json.Unmarshal(data, &ff); err != nil {
		return nil, err
	}
	if ff.Version != formatVersion {
		return nil, fmt.Errorf("unsupported version %d (want %d)", ff.Version, formatVersion)
	}
	return ff.Entries, nil
}
