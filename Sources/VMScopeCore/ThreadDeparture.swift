import CVMScopeShims
import Glibc

/// What to do when a thread vmscope holds stopped stops answering (ESRCH).
///
/// A stopped tracee can only vanish by being killed (SIGKILL, or another
/// thread's exec). Its end is collected with waitpid(__WALL | WNOHANG) in a
/// bounded loop, never a blocking wait: the kernel reports a thread-group
/// leader's exit only after every other thread has been reaped, so a
/// blocking wait on the leader can wait for ever.
extension Target {
    /// How long to keep collecting the ends of a dying process.
    static let departureTimeLimit = 2.0

    /// Collects the end of `tid` and, if the whole process died, of every
    /// thread (so `exitStatus` is set and nothing stays traced).
    func collectDeparture(of tid: Int32) {
        let deadline = monotonicSeconds() + Self.departureTimeLimit
        // Right after a SIGKILL the other threads may not have ended yet:
        // look again until the whole process has, or this thread alone.
        while monotonicSeconds() < deadline {
            if ProcessLiveness.isGone(pid) {
                collectWholeProcess(deadline: deadline)
                return
            }
            if threads[tid] == nil { return }
            // A non-leader thread ended alone (another thread's exec).
            if tid != pid && reap(tid) { return }
            usleep(1000)
        }
        // A leader that ended while other threads live is not the process's end.
        if tid != pid && threads[tid] != nil { forget(tid, status: .unknown) }
    }

    /// The process is dying: non-leader threads first, then the leader
    /// (whose end the kernel reports only once the others are reaped).
    private func collectWholeProcess(deadline: Double) {
        while exitStatus == nil && monotonicSeconds() < deadline {
            for other in threadIDs where other != pid { _ = reap(other) }
            if threads[pid] != nil { _ = reap(pid) } else if threads.isEmpty { break }
            if exitStatus == nil { usleep(1000) }
        }
        // Whatever did not report in time is gone all the same.
        for other in threadIDs { forget(other, status: exitStatus ?? .unknown) }
    }

    /// PTRACE_SEIZE of `tid`; returns 0 or the errno. The kernel refuses a
    /// thread in the middle of exiting with EPERM, and a process whose
    /// non-leader thread is exec'ing has a leader in that state for a moment
    /// before the exec'ing thread takes its id: such a refusal is retried
    /// for a few milliseconds. A thread already traced by this thread (new,
    /// through PTRACE_O_TRACECLONE) is not retried.
    func seizeThroughTransientRefusal(_ tid: Int32) -> Int32 {
        for attempt in 0..<Self.seizeAttempts {
            if vms_ptrace_seize(tid, Self.commonOptions) == 0 { return 0 }
            let err = errno
            guard err == EPERM, attempt + 1 < Self.seizeAttempts,
                  ProcFS.status(pid: tid)?["TracerPid"].flatMap({ Int32($0) }) == 0,
                  !ProcessLiveness.isGone(pid) else { return err }
            if tid == pid { ProcessLiveness.waitOutExec(pid) }
            usleep(500)
        }
        return EPERM
    }

    static let seizeAttempts = 20

    /// After the attach: the leader was not held (it looked exited) but is
    /// alive now, so an exec by another thread replaced it meanwhile.
    func execReplacedLeader() -> Bool {
        threads[pid] == nil && !ProcessLiveness.isEnded(pid: pid, tid: pid)
    }

    /// One non-blocking wait for `tid`; true once its end was recorded.
    private func reap(_ tid: Int32) -> Bool {
        var status: Int32 = 0
        let result = waitpid(tid, &status, VMS_WALL | WNOHANG)
        if result < 0 {
            if errno == EINTR { return false }
            forget(tid, status: .unknown)  // ECHILD: not ours to wait for any more
            return true
        }
        if result == 0 { return false }
        if vms_wifexited(status) != 0 {
            forget(tid, status: .exited(code: vms_wexitstatus(status)))
            return true
        }
        if vms_wifsignaled(status) != 0 {
            forget(tid, status: .killed(signal: vms_wtermsig(status)))
            return true
        }
        return false  // a stop report (PTRACE_EVENT_EXIT...): keep waiting
    }
}

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
