import CVMScopeShims
import Glibc

/// Running one system call inside the stopped target, the way a debugger
/// makes an inferior call: the target's own thread executes a `syscall`
/// instruction we place at an executable address, then everything is put
/// back exactly as it was.
extension Target {
    /// The x86-64 `syscall` instruction.
    static let syscallInstruction: [UInt8] = [0x0f, 0x05]
    static let brkSyscall: UInt64 = 12

    /// The program break, as brk(0) returns it inside the target (the kernel's
    /// mm->brk; the end of [heap] is only this rounded up to a page).
    public func programBreak() throws -> UInt64 {
        try injectSyscall(Self.brkSyscall, arguments: [0])
    }

    /// Runs system call `number` with up to six arguments in thread `tid` (the
    /// main thread by default) and returns rax. Registers and code bytes are
    /// restored and checked afterwards; SIGINT, SIGTERM and SIGHUP are held
    /// meanwhile so an emergency detach cannot run between the two.
    public func injectSyscall(_ number: UInt64, arguments: [UInt64] = [], tid: Int32? = nil) throws -> UInt64 {
        guard arguments.count <= 6 else { throw VMScopeError.system(operation: "pass more than 6 system call arguments", errno: EINVAL) }
        try ensureLive()
        let tid = try tid ?? injectableThread()
        guard let before = threads[tid] else { throw VMScopeError.noSuchThread(tid: tid) }
        guard Self.canInject(before.stop) else {
            throw VMScopeError.system(operation: "run a system call in thread \(tid) (\(Self.whyNot(before.stop)))", errno: EBUSY)
        }

        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, sig) }
        sigprocmask(SIG_BLOCK, &blocked, &previous)
        defer { sigprocmask(SIG_SETMASK, &previous, nil) }

        let saved = try registers(tid: tid)
        let site = try injectionSite(saved)
        let original = try read(site, count: Self.syscallInstruction.count)
        guard original.isComplete else { throw VMScopeError.unmapped(address: site) }

        var call = saved
        call.raw.rax = number
        // orig_rax = -1: the kernel must not apply syscall-restart logic
        // (rax = -ERESTART..., rip -= 2) to a thread stopped inside an
        // interrupted system call.
        call.raw.orig_rax = UInt64.max
        call.raw.rip = site
        let slots: [WritableKeyPath<user_regs_struct, UInt64>] = [\.rdi, \.rsi, \.rdx, \.r10, \.r8, \.r9]
        for (slot, value) in zip(slots, arguments) { call.raw[keyPath: slot] = value }

        var caught: [Int32] = []
        var result: UInt64 = 0
        var failure: Error?
        try write(site, bytes: Self.syscallInstruction)
        do {
            try setRegisters(call, tid: tid)
            caught = try stepUntil(tid, leaves: site, length: UInt64(Self.syscallInstruction.count), registers: call)
            result = try registers(tid: tid).raw.rax
        } catch {
            failure = error
        }
        // Put everything back even after a failure (unless the process is gone).
        if isAttached && threads[tid] != nil {
            try write(site, bytes: original.bytes)
            try setRegisters(saved, tid: tid)
            threads[tid] = before
            // collectStop mirrored the step's SIGTRAP as the thread's held
            // signal for the emergency detach: put back what it really holds,
            // or a Ctrl-C detach would deliver a SIGTRAP and kill the target.
            vms_emergency_set_pending(tid, before.pendingSignal)
            handBack(caught, tid: tid)
            // The last step left the thread in a SIGTRAP stop, fatal to the
            // target if vmscope is SIGKILLed: park it in an event stop, unless
            // a held signal needs this signal-delivery-stop to be handed back.
            if threads[tid]?.pendingSignal == 0, parkInEventStop(tid) == .interrupted { threads[tid] = before }
            try verifyRestored(tid: tid, site: site, bytes: original.bytes, registers: saved)
        }
        if let failure { throw failure }
        return result
    }

    /// A thread may run an injected call from a plain stop (PTRACE_INTERRUPT,
    /// a signal-delivery-stop) or from the exec event (execve has nothing left
    /// to return). Not from a group-stop (running it would end the stop), a
    /// syscall stop or a clone/fork event: the pending system call's return
    /// value would be lost when its registers are put back.
    static func canInject(_ stop: StopKind) -> Bool {
        switch stop {
        case .interrupted, .signal: return true
        case .event(let event): return event == VMS_PTRACE_EVENT_EXEC
        case .groupStop, .syscall: return false
        }
    }

    static func whyNot(_ stop: StopKind) -> String {
        switch stop {
        case .groupStop: return "it is in a group-stop; running it would end that stop"
        case .syscall: return "it is stopped at a system call, whose result would be lost"
        default: return "it is stopped inside a system call, whose result would be lost"
        }
    }

    /// The main thread if it can run the call, else the first thread that can
    /// (every thread shares the address space, so any one will do for brk).
    func injectableThread() throws -> Int32 {
        if let main = threads[pid], Self.canInject(main.stop) { return pid }
        if let other = threadIDs.first(where: { threads[$0].map { Self.canInject($0.stop) } ?? false }) { return other }
        let stop = threads[pid]?.stop ?? threads[threadIDs[0]]?.stop ?? .interrupted
        throw VMScopeError.system(operation: "run a system call in the target (no thread can: \(Self.whyNot(stop)))", errno: EBUSY)
    }

    /// Where to place the instruction: the executable's entry point (AT_ENTRY,
    /// code that never runs again), else the current rip. Both must be
    /// mapped executable for the two bytes.
    func injectionSite(_ regs: Registers) throws -> UInt64 {
        let maps = try maps()
        let entry = (try? AuxiliaryVector.read(pid: pid))?[AuxiliaryVector.AT.entry]
        for candidate in [entry, regs.rip].compactMap({ $0 }) {
            if let m = maps.mapping(containing: candidate), m.isExecutable, candidate + 2 <= m.end { return candidate }
        }
        throw VMScopeError.system(operation: "find an executable address to run a system call at", errno: EFAULT)
    }

    /// Single-steps `tid` until its rip has moved past the instruction at
    /// `site`. Signals that arrive meanwhile are taken (not delivered now) and
    /// returned, so they can be handed back.
    ///
    /// A thread stopped inside a system call (the exec event, a clone event)
    /// first finishes that call: the kernel then writes its return value into
    /// rax and reports a step trap without running our instruction. So the
    /// call's registers are written again before every retry.
    func stepUntil(_ tid: Int32, leaves site: UInt64, length: UInt64, registers call: Registers) throws -> [Int32] {
        var caught: [Int32] = []
        for _ in 0..<64 {
            let signals = try singleStepAndWait(tid)
            caught += signals
            let rip = try registers(tid: tid).rip
            if rip == site + length { return caught }
            if rip != site {
                throw VMScopeError.system(operation: "run the injected system call (thread \(tid) went to \(hexString(rip)))", errno: EFAULT)
            }
            try setRegisters(call, tid: tid)
        }
        throw VMScopeError.system(operation: "run the injected system call (signals kept interrupting it)", errno: EINTR)
    }

    /// One PTRACE_SINGLESTEP and the wait for that thread's next stop. Returns
    /// the signals (other than the step's own SIGTRAP) that stopped it instead.
    func singleStepAndWait(_ tid: Int32) throws -> [Int32] {
        try ensureLive()
        var caught: [Int32] = []
        if vms_ptrace_singlestep(tid, 0) != 0 { throw failure("single-step thread \(tid)", tid) }
        while true {
            try collectStop(tid)
            guard let thread = threads[tid] else {
                if let exitStatus { throw VMScopeError.targetExited(pid: pid, status: exitStatus) }
                throw VMScopeError.noSuchThread(tid: tid)
            }
            switch thread.stop {
            case .signal(SIGTRAP):
                return caught
            case .signal(let sig):
                // A signal arrived before the step finished: keep it for later.
                caught.append(sig)
                return caught
            default:
                // A group-stop or event stop during the step: resume the step.
                if vms_ptrace_singlestep(tid, 0) != 0 { throw failure("single-step thread \(tid)", tid) }
            }
        }
    }

    /// Signals taken during the call: the first becomes the thread's held
    /// signal if it held none (delivered on resume or detach, like any other);
    /// the rest are queued again with tgkill.
    private func handBack(_ signals: [Int32], tid: Int32) {
        var rest = signals[...]
        if let first = rest.first, let thread = threads[tid], thread.pendingSignal == 0 {
            switch thread.stop {
            case .interrupted, .event, .syscall:
                threads[tid] = TracedThread(tid: tid, stop: .signal(first))
                vms_emergency_set_pending(tid, first)
                rest = rest.dropFirst()
            default: break
            }
        }
        for sig in rest { _ = vms_tgkill(pid, tid, sig) }
    }

    private func verifyRestored(tid: Int32, site: UInt64, bytes: [UInt8], registers saved: Registers) throws {
        let now = try registers(tid: tid)
        let same = withUnsafeBytes(of: now.raw) { a in withUnsafeBytes(of: saved.raw) { b in a.elementsEqual(b) } }
        guard same else { throw VMScopeError.system(operation: "restore thread \(tid)'s registers after a system call", errno: EIO) }
        guard try read(site, count: bytes.count).bytes == bytes else {
            throw VMScopeError.system(operation: "restore the code bytes at \(hexString(site))", errno: EIO)
        }
    }
}

func hexString(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
