import Glibc

/// Whether a process has ended, read from /proc without tracing it.
enum ProcessLiveness {
    /// True when no thread of `pid` can run again: /proc has no entry, or
    /// every task left is a zombie or dead (waiting to be reaped).
    static func isGone(_ pid: Int32) -> Bool {
        guard let tids = try? ProcFS.threadIDs(pid: pid), !tids.isEmpty else { return true }
        return tids.allSatisfy { isEnded(pid: pid, tid: $0) }
    }

    /// A task that has exited (zombie or dead) or whose entry has gone.
    static func isEnded(pid: Int32, tid: Int32) -> Bool {
        guard let state = ProcFS.stat(pid: pid, tid: tid)?.state else { return true }
        return state == "Z" || state == "X" || state == "x"
    }

    /// The main thread has exited while other threads of the process live
    /// on (GDB calls such a process a zombie; it is not).
    static func leaderExitedWithLiveThreads(_ pid: Int32) -> Bool {
        guard isEnded(pid: pid, tid: pid), let tids = try? ProcFS.threadIDs(pid: pid) else { return false }
        return tids.contains { $0 != pid && !isEnded(pid: pid, tid: $0) }
    }

    /// Waits (up to 100 ms) while the leader looks exited but other threads
    /// live: during an exec by a non-leader thread the leader is a zombie
    /// for a moment until the exec'ing thread takes over its id. (A process
    /// whose leader really exited pays the 100 ms once per attach.)
    static func waitOutExec(_ pid: Int32) {
        let deadline = monotonicSeconds() + 0.1
        while isEnded(pid: pid, tid: pid) && !isGone(pid) && monotonicSeconds() < deadline {
            usleep(500)
        }
    }

    /// The id to reach the address space through: the process id, or a
    /// live thread's id once the leader has exited (the kernel serves an
    /// exited leader's /proc/PID/maps and memory as empty).
    static func addressSpaceID(_ pid: Int32) -> Int32 {
        waitOutExec(pid)
        guard leaderExitedWithLiveThreads(pid), let tids = try? ProcFS.threadIDs(pid: pid) else { return pid }
        return tids.first { $0 != pid && !isEnded(pid: pid, tid: $0) } ?? pid
    }
}
