import CVMScopeShims
import Glibc

/// Attaching to a process that changes under the attach: a thread that is
/// exiting, or an exec by a non-leader thread (which kills the leader and
/// takes over its id) make PTRACE_SEIZE fail for a moment, or leave what
/// was seized stale.
extension Target {
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
            if tid == pid {
                ProcessLiveness.waitOutExec(pid)
                // Still exited after that: a leader that really ended (its
                // threads live on); attach skips it.
                if ProcessLiveness.isEnded(pid: pid, tid: pid) {
                    return vms_ptrace_seize(tid, Self.commonOptions) == 0 ? 0 : errno
                }
            }
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
}
