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

    /// Records `tid`'s new stop, and mirrors the signal it holds (or none)
    /// for the emergency detach, which hands it back if vmscope dies now.
    func noteStop(_ tid: Int32, _ stop: StopKind) {
        threads[tid]?.stop = stop
        if case .signal(let sig) = stop { vms_emergency_set_pending(tid, sig) } else { vms_emergency_set_pending(tid, 0) }
    }

    /// A thread stopped by a SIGTRAP of ours (an int3 or a single step) sits
    /// in a signal-delivery-stop whose signal is SIGTRAP. If vmscope were
    /// killed there (SIGKILL: no handler runs), the kernel would detach it
    /// and deliver that SIGTRAP, killing the target (measured: it does).
    /// PTRACE_INTERRUPT, then a resume without signal, moves it to an event
    /// stop before it runs a single instruction: an event stop has no
    /// signal to deliver, so the target survives a SIGKILLed vmscope.
    /// Returns the stop it ends in (nil if the thread is gone).
    @discardableResult
    func parkInEventStop(_ tid: Int32) -> StopKind? {
        guard vms_ptrace_interrupt(tid) == 0, vms_ptrace_cont(tid, 0) == 0 else { return threads[tid]?.stop }
        var status: Int32 = 0
        while waitpid(tid, &status, VMS_WALL) < 0 {
            if errno != EINTR { dropThread(tid); return nil }
        }
        if vms_wifexited(status) != 0 || vms_wifsignaled(status) != 0 {
            dropThread(tid)
            return nil
        }
        // A signal that arrived meanwhile comes first; it is held as any
        // other (the interrupt's stop then follows on the next resume).
        let stop = StopKind(status: status)
        noteStop(tid, stop)
        return stop
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
