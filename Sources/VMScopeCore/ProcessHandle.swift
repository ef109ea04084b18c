import CVMScopeShims
import Glibc

/// One process, named for good: a pid can be reused as soon as its process
/// is reaped, so vmscope keeps a pidfd (which always names the process it
/// was opened on) and the start time (field 22 of /proc/PID/stat), and
/// signals only through them.
public final class ProcessHandle {
    public let pid: Int32
    /// The start time seen when the handle was made.
    public let startTime: UInt64
    private var pidfd: Int32

    /// Why a signal was not sent.
    public enum Refusal: Error, Equatable {
        /// The process has ended (the pidfd says so).
        case ended
        /// The pid now names another process: its start time differs.
        case pidReused(was: UInt64, now: UInt64?)
    }

    /// Opens a pidfd on `pid`; nil if the process does not exist.
    public convenience init?(pid: Int32) {
        guard let stat = ProcFS.stat(pid: pid) else { return nil }
        self.init(pid: pid, startTime: stat.startTime)
    }

    /// A handle that expects `pid` to have started at `startTime` (the
    /// pidfd is opened now; a differing start time is refused at signal time).
    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
        let fd = vms_pidfd_open(pid)
        pidfd = fd
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    deinit { close() }

    public func close() {
        if pidfd >= 0 { Glibc.close(pidfd) }
        pidfd = -1
    }

    /// Whether /proc still shows the process that started at `startTime`.
    public var isSameProcess: Bool { ProcFS.stat(pid: pid)?.startTime == startTime }

    /// Sends `signal` to this process and to no other: refused when the pid
    /// now names a process with another start time, and through the pidfd
    /// (ESRCH once the process has ended, even if the pid was reused).
    public func send(_ signal: Int32) throws {
        let now = ProcFS.stat(pid: pid)?.startTime
        if now != startTime {
            if now == nil { throw Refusal.ended }
            throw Refusal.pidReused(was: startTime, now: now)
        }
        let result = pidfd >= 0 ? vms_pidfd_send_signal(pidfd, signal) : Glibc.kill(pid, signal)
        if result != 0 {
            let err = errno
            if err == ESRCH { throw Refusal.ended }
            throw VMScopeError.system(operation: "send signal \(signal) to process \(pid)", errno: err)
        }
    }
}
