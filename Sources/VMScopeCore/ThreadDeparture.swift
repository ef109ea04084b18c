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
