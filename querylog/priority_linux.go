package querylog

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// yieldToQueries puts the calling goroutine on a thread of its own and
// lowers that thread's priority (nice 10), so that when the CPU is short
// the kernel runs answering threads first and the log catches up after:
// a commit is milliseconds of CPU in one go, and at full priority it
// delayed the answers waiting on the same cores. It never returns the
// thread: it ends with the goroutine.
func yieldToQueries() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10)
}
