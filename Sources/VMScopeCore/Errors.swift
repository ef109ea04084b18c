import Glibc

/// Every failure the core reports. Each case carries the facts a sentence
/// needs; the shell turns a case into one sentence (the core never prints).
public enum VMScopeError: Error, Equatable, Sendable {
    /// A system call failed: what was attempted, and errno.
    case system(operation: String, errno: Int32)
    case noSuchProcess(pid: Int32)
    case zombie(pid: Int32)
    case isSelf(pid: Int32)
    case kernelThread(pid: Int32)
    case alreadyTraced(pid: Int32, tracer: Int32, tracerName: String?)
    /// EPERM from ptrace with the most likely reason already worked out.
    case notPermitted(pid: Int32, reason: PermissionReason)
    /// The target exited or was killed while vmscope was working on it.
    case targetExited(pid: Int32, status: ExitStatus)
    case notAttached
    case alreadyAttached(pid: Int32)
    case noSuchThread(tid: Int32)
    // Execution control.
    case notExecutable(address: UInt64)
    case noSuchBreakpoint(id: Int)
    case tooManyBreakpoints
    case unknownSignal(name: String)
    case unknownSyscall(name: String)
    /// `finish` in the outermost frame, or `until` with nowhere to go.
    case noReturnAddress
    case unmapped(address: UInt64)
    case unknownRegister(name: String)
    case launchFailed(path: String, errno: Int32)
    case wrongThread(expected: Int32, actual: Int32)
    /// A file that is not a usable 64-bit little-endian ELF file.
    case malformedELF(path: String, reason: String)
    /// A library loaded on first use (LazyLibrary) could not be opened.
    case libraryUnavailable(soname: String, purpose: String)
}

/// Why the kernel refused to let vmscope trace a process.
public enum PermissionReason: Equatable, Sendable {
    /// /proc/sys/kernel/yama/ptrace_scope forbids it at this level.
    case yamaScope(level: Int)
    /// The target belongs to another user and vmscope lacks CAP_SYS_PTRACE.
    case otherUser(targetUID: UInt32, ourUID: UInt32)
    /// The target is not dumpable (setuid, or it called prctl(PR_SET_DUMPABLE, 0)).
    case notDumpable
    case unknown
}

/// How a process ended.
public enum ExitStatus: Equatable, Sendable {
    case exited(code: Int32)
    case killed(signal: Int32)
    case unknown
}

extension VMScopeError {
    /// The errno behind the error, when there is one.
    public var errnoValue: Int32? {
        switch self {
        case .system(_, let e), .launchFailed(_, let e): return e
        default: return nil
        }
    }
}
