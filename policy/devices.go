package policy

import "time"

// DeviceState says what a device (or, for a name that is a profile, every
// device of it) is subject to right now: "allowed", "paused", or
// "schedule:<window>" while a block-everything window is active, with when
// that ends (zero if it has no end).
func (f *Filter) DeviceState(name string) (profileName, state string, until time.Time) {
	r := f.rules.Load()
	now := f.opt.Now()
	device, pname := name, r.devices[name]
	if _, isProfile := r.profiles[name]; isProfile {
		device, pname = "", name
	}
	p := r.profiles[pname]
	if p == nil {
		p = r.def
	}
	c := r.context(p, device, nil, f.state.Load(), now)
	if !c.all {
		return p.name, "allowed", time.Time{}
	}
	if c.ttlCap > 0 {
		until = now.Add(c.ttlCap).Truncate(time.Second)
	}
	return p.name, c.why, until
}
