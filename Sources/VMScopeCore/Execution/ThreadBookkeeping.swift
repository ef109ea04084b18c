import CVMScopeShims
import Glibc

/// Changes to the Target's thread table and memory made while it runs.
extension Target {
    func dropThread(_ tid: Int32) {
        threads[tid] = nil
        syscallInProgress[tid] = nil
        vms_emergency_remove_thread(tid)
    }

    func markExited(_ status: ExitStatus) {
        exitStatus = status
        breakpointTable.forgetMemory()
        vms_emergency_clear()
        memory.close()
    }

    /// After execve only the thread-group leader is left, in a new address
    /// space: old breakpoint addresses mean nothing there, and the open
    /// /proc/PID/mem still points at the old memory.
    func adoptNewProgram() {
        for tid in threadIDs where tid != pid { dropThread(tid) }
        threads[pid] = TracedThread(tid: pid, stop: .event(VMS_PTRACE_EVENT_EXEC))
        vms_emergency_add_thread(pid)
        breakpointTable.removeAll()
        vms_emergency_clear_breakpoints()
        syscallInProgress = [:]
        memory.reopen()
        releaseUnwinder()
        vms_emergency_set_memfd(memory.fileDescriptor)
    }

    func recordHits(_ ids: [Int]) {
        for id in ids {
            let hit = breakpointTable.update(id: id) { $0.hits += 1 }
            if hit?.temporary == true { _ = breakpointTable.remove(id: id) }
        }
    }

    /// Writes one byte of code while the target runs (stepping over an
    /// int3 in place).
    func writeRaw(_ address: UInt64, _ byte: UInt8) throws {
        try memory.write(address, bytes: [byte])
    }
}
