import CVMScopeShims
import Glibc

/// Works out, before and after a failed PTRACE_SEIZE, why a process cannot
/// be traced, so the user gets a reason instead of "Operation not permitted".
enum AttachPreflight {
    static func check(pid: Int32) throws {
        if pid <= 0 { throw VMScopeError.noSuchProcess(pid: pid) }
        if pid == getpid() { throw VMScopeError.isSelf(pid: pid) }
        guard let status = ProcFS.status(pid: pid) else { throw VMScopeError.noSuchProcess(pid: pid) }
        // A thread id of another process is listed in /proc but is not a process.
        if let tgid = status["Tgid"].flatMap({ Int32($0) }), tgid != pid {
            throw VMScopeError.noSuchProcess(pid: pid)
        }
        if status["State"]?.hasPrefix("Z") == true && !ProcessLiveness.leaderExitedWithLiveThreads(pid) {
            throw VMScopeError.zombie(pid: pid)
        }
        if let stat = ProcFS.stat(pid: pid), stat.flags & ProcFS.kernelThreadFlag != 0 {
            throw VMScopeError.kernelThread(pid: pid)
        }
        if let tracer = status["TracerPid"].flatMap({ Int32($0) }), tracer != 0 {
            throw VMScopeError.alreadyTraced(pid: pid, tracer: tracer, tracerName: ProcFS.comm(pid: tracer))
        }
    }

    static func explainSeizeFailure(pid: Int32, errno err: Int32) -> VMScopeError {
        switch err {
        case ESRCH:
            return .noSuchProcess(pid: pid)
        case EPERM:
            // The kernel refuses an exiting process with EPERM as well.
            if ProcessLiveness.isGone(pid) {
                return ProcFS.status(pid: pid) == nil ? .noSuchProcess(pid: pid) : .zombie(pid: pid)
            }
            if let status = ProcFS.status(pid: pid),
               let tracer = status["TracerPid"].flatMap({ Int32($0) }), tracer != 0 {
                return .alreadyTraced(pid: pid, tracer: tracer, tracerName: ProcFS.comm(pid: tracer))
            }
            return .notPermitted(pid: pid, reason: permissionReason(pid: pid))
        default:
            return .system(operation: "attach to process \(pid)", errno: err)
        }
    }

    static func permissionReason(pid: Int32) -> PermissionReason {
        let ourUID = geteuid()
        if let line = ProcFS.status(pid: pid)?["Uid"] {
            let uids = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
            if let real = uids.first, ourUID != 0, !uids.allSatisfy({ $0 == ourUID }) {
                return .otherUser(targetUID: real, ourUID: ourUID)
            }
        }
        if let level = ProcFS.integer("/proc/sys/kernel/yama/ptrace_scope"), level > 0 {
            return .yamaScope(level: level)
        }
        // A process that is not dumpable keeps its /proc files owned by root.
        var info = Glibc.stat()
        if lstat("/proc/\(pid)/mem", &info) == 0, info.st_uid == 0, ourUID != 0 {
            return .notDumpable
        }
        return .unknown
    }
}
