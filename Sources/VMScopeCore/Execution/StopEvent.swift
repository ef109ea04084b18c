/// Why the target stopped after `continue`, `stepi` and friends.
public enum StopReason: Sendable, Equatable {
    /// An int3 of ours was hit (every breakpoint at that address is listed).
    case breakpoint(ids: [Int], address: UInt64)
    /// A single step (or a run-to-address) finished.
    case stepped
    /// A signal arrived whose policy is "stop". `faultAddress` is si_addr
    /// for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP.
    case signal(number: Int32, code: Int32, faultAddress: UInt64?)
    /// Ctrl-C (PTRACE_INTERRUPT) stopped it.
    case interrupted
    /// The whole process ended; the Target is no longer attached.
    case exited(ExitStatus)
    /// execve replaced the program: maps, symbols and breakpoints are new.
    case exec(path: String?)
    case syscallEntry(number: Int, arguments: [UInt64])
    case syscallExit(number: Int, result: Int64)
}

/// Something that happened while the target ran, without stopping it.
public enum ProcessEvent: Sendable, Equatable {
    case threadStarted(tid: Int32)
    case threadExited(tid: Int32)
    /// A fork/vfork child, cleaned of our breakpoint bytes and let go.
    case childReleased(pid: Int32)
    /// A signal delivered to the target under the "pass" policy.
    case signalPassed(tid: Int32, signal: Int32)
    case signalIgnored(tid: Int32, signal: Int32)
    /// A signal that arrived in another thread while everything was being
    /// stopped: held, and delivered when the target resumes.
    case signalHeld(tid: Int32, signal: Int32)
}

public struct StopEvent: Sendable {
    public let reason: StopReason
    /// The thread that stopped (all others are stopped too).
    public let tid: Int32
    /// rip of that thread at the stop (nil once the process has exited).
    public let pc: UInt64?
    public let events: [ProcessEvent]

    public init(reason: StopReason, tid: Int32, pc: UInt64?, events: [ProcessEvent]) {
        self.reason = reason; self.tid = tid; self.pc = pc; self.events = events
    }
}
