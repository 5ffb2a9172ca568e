package schedule

// The zone database is embedded (about 450 kB) so that a profile's zone
// resolves the same on every host, including minimal containers with no
// /usr/share/zoneinfo. Go still prefers the system's copy when there is one.
import _ "time/tzdata"
