import CVMScopeShims
import Glibc

/// Running the target: `continue`, single steps and runs to an address.
///
/// All-stop model, as GDB's default: every thread runs together, and when
/// one thread stops for a reason worth reporting the others are interrupted
/// (PTRACE_INTERRUPT) before control returns. Breakpoint bytes exist in
/// memory only between resume and stop.
extension Target {
    /// Runs every thread until a breakpoint, a stopping signal, a caught
    /// system call, exec, exit or Ctrl-C.
    public func continueExecution() throws -> StopEvent {
        try run(to: [])
    }

    /// Runs every thread until one reaches one of `points` (or anything
    /// `continueExecution` stops for).
    public func run(to points: [RunToPoint]) throws -> StopEvent {
        try ensureLive()
        let session = RunSession(target: self)
        runToPoints = points
        defer { runToPoints = [] }
        return try session.continueAll()
    }

    /// Executes one instruction in thread `tid`; the other threads stay stopped.
    public func stepInstruction(tid: Int32) throws -> StopEvent {
        try ensureLive()
        guard threads[tid] != nil else { throw VMScopeError.noSuchThread(tid: tid) }
        return try RunSession(target: self).step(tid)
    }

    /// Every address execution must stop at: user breakpoints and internal
    /// run-to points.
    var stopAddresses: Set<UInt64> {
        breakpointTable.enabledAddresses.union(runToPoints.map(\.address))
    }
}

/// The bookkeeping of one resume-until-stop cycle.
final class RunSession {
    let target: Target
    var events: [ProcessEvent] = []
    /// Threads resumed and not yet seen stopping.
    var running = Set<Int32>()
    /// Stops peeked that are not the target's (another child of ours): from
    /// then on, only the target's own threads are waited for.
    var pollOnly = false
    /// Threads whose SIGTRAP stop was ours (an int3, a step): parked in an
    /// event stop before control returns (see `parkInEventStop`).
    var ownTraps = Set<Int32>()

    init(target: Target) { self.target = target }

    // MARK: continue

    func continueAll() throws -> StopEvent {
        target.notifyResume()
        target.releasedChildren = []
        // A thread sitting on a stop address would stop again at once:
        // step it over that instruction first, bytes not yet inserted.
        let stops = target.stopAddresses
        for tid in target.threadIDs {
            guard let pc = try? target.registers(tid: tid).rip, stops.contains(pc) else { continue }
            if let stop = try stepOnce(tid, overBreakpoint: true) { return finish(stop) }
        }
        try target.insertBreakpointBytes()
        vms_emergency_set_running(1)
        for tid in target.threadIDs { resume(tid) }
        TestCrash.at(.running)
        while true {
            guard let (tid, status) = try waitForAnyThread() else {
                // Every thread has gone without a final status.
                return finish(Stop(reason: .exited(target.exitStatus ?? .unknown), tid: target.pid))
            }
            if let stop = try handleWhileRunning(tid, status) {
                stopOthers(except: tid)
                return finish(stop)
            }
        }
    }

    /// Resumes `tid` with the signal its stop holds, as the policy says.
    func resume(_ tid: Int32) {
        guard let thread = target.threads[tid] else { return }
        var signal: Int32 = 0
        if case .signal(let sig) = thread.stop {
            switch target.policy(for: sig) {
            case .ignore: events.append(.signalIgnored(tid: tid, signal: sig))
            case .stop, .pass: signal = sig
            }
        }
        let traceSyscalls = target.caughtSyscalls != nil
        let result = traceSyscalls ? vms_ptrace_syscall(tid, signal) : vms_ptrace_cont(tid, signal)
        vms_emergency_set_pending(tid, 0)
        ownTraps.remove(tid)
        if result == 0 || errno == ESRCH { running.insert(tid) }  // a dead thread reports its exit
    }

    // MARK: one event while running

    struct Stop {
        let reason: StopReason
        let tid: Int32
    }

    /// Decides what a wait status means. Returns a stop to report, or nil
    /// after resuming the thread (or forgetting it) to keep running.
    func handleWhileRunning(_ tid: Int32, _ status: Int32) throws -> Stop? {
        running.remove(tid)
        if vms_wifexited(status) != 0 || vms_wifsignaled(status) != 0 {
            return threadEnded(tid, status)
        }
        let stop = StopKind(status: status)
        if target.threads[tid] == nil {
            // A new thread whose first stop came before its creator's
            // clone event: adopt it now.
            adoptThread(tid)
            return nil
        }
        target.noteStop(tid, stop)
        switch stop {
        case .event(let event):
            return try handleEvent(event, tid: tid)
        case .interrupted:
            if vms_take_interrupt() != 0 { return Stop(reason: .interrupted, tid: tid) }
            resume(tid)  // a PTRACE_INTERRUPT left over from an earlier stop-all
            return nil
        case .groupStop:
            // SIGSTOP from outside: stay stopped as the process asked, but
            // listen, so SIGCONT and Ctrl-C still reach us.
            if vms_ptrace_listen(tid) == 0 { running.insert(tid) }
            return nil
        case .syscall:
            return try handleSyscallStop(tid)
        case .signal(let sig):
            return try handleSignal(sig, tid: tid)
        }
    }

    private func threadEnded(_ tid: Int32, _ status: Int32) -> Stop? {
        let how: ExitStatus = vms_wifexited(status) != 0
            ? .exited(code: vms_wexitstatus(status)) : .killed(signal: vms_wtermsig(status))
        guard target.threads[tid] != nil else { return nil }  // an old thread after exec
        if tid != target.pid {
            target.dropThread(tid)
            events.append(.threadExited(tid: tid))
            return nil
        }
        // The leader's status comes last: the whole process has ended.
        for other in target.threadIDs { target.dropThread(other) }
        target.markExited(how)
        return Stop(reason: .exited(how), tid: tid)
    }

    private func adoptThread(_ tid: Int32) {
        target.threads[tid] = TracedThread(tid: tid, stop: .interrupted)
        vms_emergency_add_thread(tid)
        events.append(.threadStarted(tid: tid))
        resume(tid)
    }

    private func handleEvent(_ event: Int32, tid: Int32) throws -> Stop? {
        if event == VMS_PTRACE_EVENT_CLONE {
            var message: UInt = 0
            if vms_ptrace_geteventmsg(tid, &message) == 0 {
                let child = Int32(truncatingIfNeeded: message)
                if target.threads[child] == nil && child > 0 {
                    var status: Int32 = 0
                    while waitpid(child, &status, VMS_WALL) < 0 && errno == EINTR {}
                    if vms_wifstopped(status) != 0 { adoptThread(child) }
                }
            }
            resume(tid)
            return nil
        }
        if event == VMS_PTRACE_EVENT_FORK || event == VMS_PTRACE_EVENT_VFORK {
            var message: UInt = 0
            if vms_ptrace_geteventmsg(tid, &message) == 0, message != 0 {
                let child = Int32(truncatingIfNeeded: message)
                target.releaseForkChild(child, vfork: event == VMS_PTRACE_EVENT_VFORK)
                events.append(.childReleased(pid: child))
            }
            resume(tid)
            return nil
        }
        if event == VMS_PTRACE_EVENT_VFORK_DONE {
            // The vfork child has exec'd or exited: the memory it shared is
            // the parent's alone again, and the bytes taken out for the
            // child go back in (without this, breakpoints were missed for
            // the rest of the `continue`).
            try target.insertBreakpointBytes()
            resume(tid)
            return nil
        }
        if event == VMS_PTRACE_EVENT_EXEC {
            target.adoptNewProgram()
            running = []
            return Stop(reason: .exec(path: ProcFS.executablePath(pid: target.pid)), tid: target.pid)
        }
        resume(tid)
        return nil
    }

    private func handleSyscallStop(_ tid: Int32) throws -> Stop? {
        var op: Int32 = 0
        var number: UInt64 = 0
        var args = [UInt64](repeating: 0, count: 6)
        var result: Int64 = 0
        guard vms_ptrace_syscall_info(tid, &op, &number, &args, &result) == 0 else {
            resume(tid)
            return nil
        }
        let caught = target.caughtSyscalls ?? []
        if op == 1 {
            let nr = Int(number)
            target.syscallInProgress[tid] = nr
            if caught.isEmpty || caught.contains(nr) {
                return Stop(reason: .syscallEntry(number: nr, arguments: args), tid: tid)
            }
        } else if op == 2, let nr = target.syscallInProgress.removeValue(forKey: tid) {
            if caught.isEmpty || caught.contains(nr) {
                return Stop(reason: .syscallExit(number: nr, result: result), tid: tid)
            }
        }
        resume(tid)
        return nil
    }

    private func handleSignal(_ sig: Int32, tid: Int32) throws -> Stop? {
        var signo: Int32 = 0, code: Int32 = 0
        var address: UInt64 = 0
        let haveInfo = vms_ptrace_siginfo(tid, &signo, &code, &address) == 0
        if sig == SIGTRAP && haveInfo && code == 0x80 /* SI_KERNEL: int3 */,
           let stop = try breakpointHit(tid) {
            return stop
        }
        switch target.policy(for: sig) {
        case .stop:
            let faults: Set<Int32> = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP]
            let fault = haveInfo && faults.contains(sig) ? address : nil
            return Stop(reason: .signal(number: sig, code: code, faultAddress: fault), tid: tid)
        case .pass:
            events.append(.signalPassed(tid: tid, signal: sig))
            resume(tid)
        case .ignore:
            resume(tid)
        }
        return nil
    }

    /// A SIGTRAP from an int3: if it is ours, rewind rip onto the
    /// breakpoint's address and decide whether it is a stop. Returns nil
    /// (after stepping on) for a run-to point whose stack condition fails.
    private func breakpointHit(_ tid: Int32) throws -> Stop? {
        var regs = try target.registers(tid: tid)
        let address = regs.rip &- 1
        guard target.breakpointTable.inserted[address] != nil else { return nil }
        TestCrash.at(.breakpoint)
        regs.raw.rip = address
        try target.setRegisters(regs, tid: tid)
        target.noteStop(tid, .interrupted)  // the SIGTRAP was ours: never delivered
        ownTraps.insert(tid)
        let ids = target.breakpointTable.enabled(at: address).map(\.id)
        if !ids.isEmpty {
            target.recordHits(ids)
            return Stop(reason: .breakpoint(ids: ids, address: address), tid: tid)
        }
        if target.runToPoints.contains(where: { $0.isReached(pc: address, sp: regs.rsp) }) {
            return Stop(reason: .stepped, tid: tid)
        }
        // A deeper call reached the run-to address: step over it in place.
        if let stop = try stepOverInPlace(tid, address: address) { return stop }
        resume(tid)
        return nil
    }

    /// Takes one int3 out, single-steps `tid` across it, and puts it back.
    private func stepOverInPlace(_ tid: Int32, address: UInt64) throws -> Stop? {
        if let original = target.breakpointTable.inserted[address] {
            try target.writeRaw(address, original)
        }
        defer { try? target.writeRaw(address, 0xCC) }
        return try stepOnce(tid, overBreakpoint: true)
    }

    // MARK: stepping

    func step(_ tid: Int32) throws -> StopEvent {
        target.notifyResume()
        target.releasedChildren = []
        let stop = try stepOnce(tid, overBreakpoint: false) ?? Stop(reason: .stepped, tid: tid)
        return finish(stop)
    }

    /// Single-steps `tid` alone. Returns nil when the step completed (the
    /// caller decides what that means) or the stop that got in the way.
    func stepOnce(_ tid: Int32, overBreakpoint: Bool) throws -> Stop? {
        vms_emergency_set_running(1)
        defer { vms_emergency_set_running(running.isEmpty ? 0 : 1) }
        var signal: Int32 = 0
        if case .signal(let sig)? = target.threads[tid]?.stop, target.policy(for: sig) != .ignore {
            signal = sig
        }
        while true {
            if vms_ptrace_singlestep(tid, signal) != 0 { throw target.failure("single-step thread \(tid)", tid) }
            vms_emergency_set_pending(tid, 0)
            TestCrash.at(.step)
            signal = 0
            var status: Int32 = 0
            while waitpid(tid, &status, VMS_WALL) < 0 {
                if errno != EINTR { throw target.failure("wait for thread \(tid)", tid) }
            }
            if vms_wifexited(status) != 0 || vms_wifsignaled(status) != 0 {
                if let stop = threadEnded(tid, status) { return stop }
                return Stop(reason: .stepped, tid: target.threadIDs.first ?? target.pid)
            }
            let stop = StopKind(status: status)
            target.noteStop(tid, stop)
            switch stop {
            case .signal(let sig):
                if sig == SIGTRAP && isStepTrap(tid, overBreakpoint: overBreakpoint) {
                    target.noteStop(tid, .interrupted)
                    ownTraps.insert(tid)
                    return nil
                }
                switch target.policy(for: sig) {
                case .stop: return Stop(reason: .signal(number: sig, code: 0, faultAddress: faultAddress(tid, sig)), tid: tid)
                case .pass: events.append(.signalPassed(tid: tid, signal: sig)); signal = sig
                case .ignore: events.append(.signalIgnored(tid: tid, signal: sig))
                }
            case .event(let event):
                if event == VMS_PTRACE_EVENT_EXEC {
                    target.adoptNewProgram()
                    return Stop(reason: .exec(path: ProcFS.executablePath(pid: target.pid)), tid: target.pid)
                }
                if event == VMS_PTRACE_EVENT_CLONE || event == VMS_PTRACE_EVENT_FORK || event == VMS_PTRACE_EVENT_VFORK {
                    collectNewTask(event, parent: tid)
                }
            case .interrupted:
                if vms_take_interrupt() != 0 { return Stop(reason: .interrupted, tid: tid) }
            case .groupStop:
                return Stop(reason: .signal(number: SIGSTOP, code: 0, faultAddress: nil), tid: tid)
            case .syscall:
                continue
            }
        }
    }

    /// The SIGTRAP of a finished single step, as opposed to one somebody
    /// sent (SI_USER, SI_TKILL) or the program's own int3 (SI_KERNEL).
    private func isStepTrap(_ tid: Int32, overBreakpoint: Bool) -> Bool {
        var signo: Int32 = 0, code: Int32 = 0
        var address: UInt64 = 0
        guard vms_ptrace_siginfo(tid, &signo, &code, &address) == 0 else { return true }
        if code == SI_USER || code == SI_TKILL { return false }
        return code != 0x80 || overBreakpoint
    }

    /// A clone or fork during a single step: a new thread stays stopped
    /// (others are stopped too); a fork child is let go.
    private func collectNewTask(_ event: Int32, parent: Int32) {
        var message: UInt = 0
        guard vms_ptrace_geteventmsg(parent, &message) == 0, message != 0 else { return }
        let child = Int32(truncatingIfNeeded: message)
        if event == VMS_PTRACE_EVENT_CLONE {
            // Its first stop may have come (and been taken) before this
            // event: waiting for it again would block for ever.
            guard target.threads[child] == nil else { return }
            var status: Int32 = 0
            while waitpid(child, &status, VMS_WALL) < 0 && errno == EINTR {}
            guard vms_wifstopped(status) != 0 else { return }
            target.threads[child] = TracedThread(tid: child, stop: .interrupted)
            vms_emergency_add_thread(child)
            events.append(.threadStarted(tid: child))
        } else {
            target.releaseForkChild(child, vfork: event == VMS_PTRACE_EVENT_VFORK)
            events.append(.childReleased(pid: child))
        }
    }

    private func faultAddress(_ tid: Int32, _ sig: Int32) -> UInt64? {
        guard [SIGSEGV, SIGBUS, SIGILL, SIGFPE].contains(sig) else { return nil }
        var signo: Int32 = 0, code: Int32 = 0
        var address: UInt64 = 0
        return vms_ptrace_siginfo(tid, &signo, &code, &address) == 0 ? address : nil
    }

    // MARK: stopping everything

    /// Interrupts every thread still running and collects its stop.
    func stopOthers(except stopped: Int32) {
        let others = running.subtracting([stopped])
        for tid in others { _ = vms_ptrace_interrupt(tid) }
        for tid in others.sorted() { collectAfterInterrupt(tid) }
        running = []
    }

    private func collectAfterInterrupt(_ tid: Int32) {
        while true {
            var status: Int32 = 0
            if waitpid(tid, &status, VMS_WALL) < 0 {
                if errno == EINTR { continue }
                target.dropThread(tid)
                return
            }
            if vms_wifexited(status) != 0 || vms_wifsignaled(status) != 0 {
                _ = threadEnded(tid, status)
                return
            }
            let stop = StopKind(status: status)
            target.threads[tid]?.stop = stop
            switch stop {
            case .signal(SIGTRAP):
                // Hit one of our int3 bytes at the same moment: rewind and
                // forget the trap; the breakpoint is hit again on resume.
                if let regs = try? target.registers(tid: tid),
                   target.breakpointTable.inserted[regs.rip &- 1] != nil {
                    var rewound = regs
                    rewound.raw.rip = regs.rip &- 1
                    try? target.setRegisters(rewound, tid: tid)
                    target.noteStop(tid, .interrupted)
                    ownTraps.insert(tid)
                } else {
                    vms_emergency_set_pending(tid, SIGTRAP)
                }
                return
            case .signal(let sig):
                // Held and handed back on resume or detach, never lost.
                vms_emergency_set_pending(tid, sig)
                events.append(.signalHeld(tid: tid, signal: sig))
                return
            case .event(let event) where event == VMS_PTRACE_EVENT_CLONE || event == VMS_PTRACE_EVENT_FORK
                                       || event == VMS_PTRACE_EVENT_VFORK:
                collectNewTask(event, parent: tid)
                return
            case .interrupted where !target.breakpointTable.inserted.isEmpty && vms_sigtrap_queued(tid) != 0:
                // It hit an int3 just as the interrupt came: the interrupt's
                // stop came first, the SIGTRAP waits in its queue with rip
                // past the int3. Take that SIGTRAP now, while the bytes are
                // known (the case above rewinds it); detached as it is, the
                // thread would die of it.
                if vms_ptrace_cont(tid, 0) == 0 { continue }
                return
            default:
                return
            }
        }
    }

    /// Leaves the target consistent: no bytes in memory, nothing marked running.
    private func finish(_ stop: Stop) -> StopEvent {
        if !running.isEmpty { stopOthers(except: stop.tid) }
        vms_emergency_set_running(0)
        target.removeAllBreakpointBytes()
        for tid in ownTraps.sorted() where target.threads[tid]?.stop == .interrupted {
            target.parkInEventStop(tid)
        }
        ownTraps = []
        if case .signal = stop.reason { TestCrash.at(.pending) }
        _ = vms_take_interrupt()
        let pc = target.isAttached ? (try? target.registers(tid: stop.tid))?.rip : nil
        return StopEvent(reason: stop.reason, tid: stop.tid, pc: pc, events: events)
    }

    // MARK: waiting

    /// Blocks until one of the target's threads changes state. Children of
    /// vmscope that are not the target's (the test suite's own children)
    /// are never collected: once one shows up, the target's threads are
    /// polled one by one instead.
    func waitForAnyThread() throws -> (Int32, Int32)? {
        while true {
            if target.threads.isEmpty { return nil }
            if !pollOnly {
                let peeked = vms_wait_peek(1)
                if peeked < 0 {
                    if errno == EINTR { continue }
                    if errno == ECHILD { return nil }
                    throw VMScopeError.system(operation: "wait for the target", errno: errno)
                }
                if isTargetThread(peeked) {
                    var status: Int32 = 0
                    if waitpid(peeked, &status, VMS_WALL) == peeked { return (peeked, status) }
                    continue
                }
                pollOnly = true
            }
            for tid in target.threadIDs {
                var status: Int32 = 0
                if waitpid(tid, &status, VMS_WALL | WNOHANG) == tid { return (tid, status) }
            }
            // New threads not yet known reveal themselves through /proc.
            if let tids = try? ProcFS.threadIDs(pid: target.pid) {
                for tid in tids where target.threads[tid] == nil {
                    var status: Int32 = 0
                    if waitpid(tid, &status, VMS_WALL | WNOHANG) == tid { return (tid, status) }
                }
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
    }

    private func isTargetThread(_ tid: Int32) -> Bool {
        if target.threads[tid] != nil { return true }
        return ProcFS.status(pid: tid)?["Tgid"].flatMap { Int32($0) } == target.pid
    }
}
