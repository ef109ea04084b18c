import CVMScopeShims
import Glibc

/// The last step of letting go: the kernel, not vmscope's table, says which
/// threads this thread traces. A thread can be traced without being in the
/// table when an exec by another thread (which takes over the leader's id)
/// or a clone was seen only in part during an attach; left traced, it
/// would stop for good at its next signal. Each such thread is stopped
/// (bounded wait), and detached with the signal its stop holds.
extension Target {
    /// `held`: the threads just detached from the table (not read again).
    func detachUnlistedTracees(except held: Set<Int32>) {
        guard let tids = try? ProcFS.threadIDs(pid: pid) else { return }
        for tid in tids where !held.contains(tid) && threads[tid] == nil
            && ProcFS.status(pid: tid)?["TracerPid"].flatMap({ Int32($0) }) == tracerTID {
            _ = vms_ptrace_interrupt(tid)
            let deadline = monotonicSeconds() + 1
            while vms_wait_ready(tid) == 0 && monotonicSeconds() < deadline { usleep(200) }
            var status: Int32 = 0
            var signal: Int32 = 0
            if waitpid(tid, &status, VMS_WALL | WNOHANG) == tid, vms_wifstopped(status) != 0,
               case .signal(let held) = StopKind(status: status) {
                signal = held
            }
            _ = vms_ptrace_detach(tid, signal)
        }
    }
}
