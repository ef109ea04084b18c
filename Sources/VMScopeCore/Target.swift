import CVMScopeShims
import Glibc

/// A traced process: every one of its threads seized and stopped.
///
/// All ptrace calls must come from the OS thread that attached (the kernel
/// knows the tracer as a thread, not a process), so this class is
/// synchronous and checks the calling thread on every public entry point.
public final class Target {
    public let pid: Int32
    /// vmscope started it: it is killed on exit unless detached on purpose.
    public let launched: Bool
    /// The process's start time (field 22 of /proc/PID/stat): with the pid it
    /// identifies this process even after the pid is reused.
    public let startTime: UInt64
    /// A pidfd held from attach on: vmscope signals the process only through it.
    public let handle: ProcessHandle
    public internal(set) var threads: [Int32: TracedThread] = [:]
    /// Set once the whole process has gone (exited or killed).
    public internal(set) var exitStatus: ExitStatus?
    let tracerTID: Int32
    let memory: MemoryAccess
    /// Software breakpoints (int3 bytes) currently set.
    var breakpointTable = BreakpointTable()
    /// Threads resumed and not yet stopped again (only during continue/step).
    var running = Set<Int32>()
    /// What to do with each signal the target receives while it runs.
    public var signalPolicies = SignalPolicy.defaults
    /// System calls to stop at (entry and exit) while running; nil: none,
    /// empty: all.
    public var caughtSyscalls: Set<Int>?
    /// Internal stop points of `finish`, `nexti`, `until` (not listed).
    var runToPoints: [RunToPoint] = []
    /// The system call each thread is inside (from its entry stop).
    var syscallInProgress: [Int32: Int] = [:]
    /// Fork children let go since the last stop (reported with it).
    var releasedChildren: [Int32] = []
    /// Called before the target runs again or is let go: caches of its
    /// memory (unwinder, symbols of the stop) must be dropped then.
    private var resumeObservers: [() -> Void] = []
    /// The stack unwinder (Unwind/), made on first use and kept across stops.
    var unwinderStorage: Unwinder?

    public var threadIDs: [Int32] { threads.keys.sorted() }
    public var isAttached: Bool { exitStatus == nil && !threads.isEmpty }

    /// Fork and vfork children are traced only long enough to take our
    /// breakpoint bytes out of their copy of memory and let them go; a
    /// vfork parent stops again when its child has let go of the shared
    /// memory (VFORK_DONE), to put the bytes back.
    static let commonOptions = VMS_PTRACE_O_TRACECLONE | VMS_PTRACE_O_TRACEEXEC | VMS_PTRACE_O_TRACESYSGOOD
        | VMS_PTRACE_O_TRACEFORK | VMS_PTRACE_O_TRACEVFORK | VMS_PTRACE_O_TRACEVFORKDONE

    private init(pid: Int32, launched: Bool) throws {
        self.pid = pid
        self.launched = launched
        self.tracerTID = vms_gettid()
        self.startTime = ProcFS.stat(pid: pid)?.startTime ?? 0
        self.handle = ProcessHandle(pid: pid, startTime: startTime)
        // An exited leader's memory is reached through a live thread.
        self.memory = try MemoryAccess(pid: ProcessLiveness.addressSpaceID(pid))
        vms_emergency_set_target(pid, launched ? 1 : 0)
        vms_emergency_set_memfd(memory.fileDescriptor)
    }

    deinit {
        // A safety net only: the shell detaches explicitly.
        if exitStatus == nil && !threads.isEmpty {
            if launched { try? kill() } else { try? detach() }
        }
    }

    // MARK: attach and launch

    /// Seizes every thread of `pid` and stops it with PTRACE_INTERRUPT (no
    /// SIGSTOP is ever sent). /proc/PID/task is re-read until two scans in a
    /// row find no new thread.
    public static func attach(pid: Int32) throws -> Target {
        try AttachPreflight.check(pid: pid)
        for attempt in 1... {
            let target = try Target(pid: pid, launched: false)
            do {
                try target.seizeAllThreads()
            } catch {
                target.releaseAfterFailedAttach()
                // The leader of a process in the middle of an exec by another
                // thread is refused for a moment as a zombie would be.
                if attempt < 4, case .zombie? = error as? VMScopeError, !ProcessLiveness.isGone(pid) {
                    ProcessLiveness.waitOutExec(pid)
                    continue
                }
                throw error
            }
            // A non-leader thread exec'd during the attach and took over the
            // leader's id: what is held is stale, so attach again.
            if attempt < 4 && target.execReplacedLeader() {
                target.releaseAfterFailedAttach()
                continue
            }
            return target
        }
        throw VMScopeError.noSuchProcess(pid: pid)
    }

    /// Starts `path` traced and stopped at its first instruction (the exec
    /// event). ASLR is off unless asked for, so addresses repeat run to run.
    public static func launch(path: String, arguments: [String], environment: [String],
                              disableASLR: Bool = true) throws -> Target {
        let resolved = try resolveExecutable(path)
        let argv = [resolved.split(separator: "/").last.map(String.init) ?? resolved] + arguments
        let options = commonOptions | VMS_PTRACE_O_EXITKILL
        let pid = withCStrings(argv) { cArgv in
            withCStrings(environment) { cEnv in
                vms_spawn_seized(resolved, cArgv, cEnv, disableASLR ? 1 : 0, options)
            }
        }
        if pid < 0 { throw VMScopeError.launchFailed(path: resolved, errno: errno) }
        let target = try Target(pid: pid, launched: true)
        target.threads[pid] = TracedThread(tid: pid, stop: .event(VMS_PTRACE_EVENT_EXEC))
        vms_emergency_add_thread(pid)
        return target
    }

    private func seizeAllThreads() throws {
        var known = Set<Int32>()
        var toWait: [Int32] = []
        var quietScans = 0
        while quietScans < 2 {
            let tids: [Int32]
            do { tids = try ProcFS.threadIDs(pid: pid) } catch {
                throw VMScopeError.targetExited(pid: pid, status: .unknown)
            }
            var foundNew = false
            for tid in tids where known.insert(tid).inserted {
                foundNew = true
                let err = seizeThroughTransientRefusal(tid)
                if err == 0 {
                    vms_emergency_add_thread(tid)
                    _ = vms_ptrace_interrupt(tid)
                    toWait.append(tid)
                    continue
                }
                if err == ESRCH { continue }  // the thread ended meanwhile
                // An exited thread (the leader of a process whose other
                // threads live on, or one ending right now) cannot be traced.
                if err == EPERM && ProcessLiveness.isEnded(pid: pid, tid: tid) && !ProcessLiveness.isGone(pid) { continue }
                if err == EPERM && !toWait.isEmpty && tracerOf(tid) == tracerTID {
                    // Attached automatically by PTRACE_O_TRACECLONE.
                    vms_emergency_add_thread(tid)
                    toWait.append(tid)
                    continue
                }
                if toWait.isEmpty { throw AttachPreflight.explainSeizeFailure(pid: pid, errno: err) }
                throw VMScopeError.system(operation: "seize thread \(tid)", errno: err)
            }
            quietScans = foundNew ? 0 : quietScans + 1
        }
        var index = 0
        while index < toWait.count {
            let tid = toWait[index]
            index += 1
            if threads[tid] != nil { continue }
            if let newThread = try awaitStopDuringAttach(tid), !toWait.contains(newThread) {
                toWait.append(newThread)
            }
        }
        if threads[pid] == nil && threads.isEmpty {
            throw VMScopeError.targetExited(pid: pid, status: exitStatus ?? .unknown)
        }
    }

    private func tracerOf(_ tid: Int32) -> Int32? {
        ProcFS.status(pid: tid)?["TracerPid"].flatMap { Int32($0) }
    }

    /// Waits for `tid`'s next stop and records it. Returns the tid of a
    /// thread it just created (PTRACE_EVENT_CLONE), which also needs a wait.
    @discardableResult
    func collectStop(_ tid: Int32) throws -> Int32? {
        var status: Int32 = 0
        while waitpid(tid, &status, VMS_WALL) < 0 {
            let err = errno
            if err == EINTR { continue }
            if err == ECHILD { forget(tid, status: .unknown); return nil }
            throw VMScopeError.system(operation: "wait for thread \(tid)", errno: err)
        }
        if vms_wifexited(status) != 0 || vms_wifsignaled(status) != 0 {
            let how: ExitStatus = vms_wifexited(status) != 0
                ? .exited(code: vms_wexitstatus(status)) : .killed(signal: vms_wtermsig(status))
            forget(tid, status: how)
            return nil
        }
        let stop = StopKind(status: status)
        threads[tid] = TracedThread(tid: tid, stop: stop)
        if case .signal(let sig) = stop { vms_emergency_set_pending(tid, sig) }
        if case .event(let event) = stop, event == VMS_PTRACE_EVENT_FORK || event == VMS_PTRACE_EVENT_VFORK {
            var message: UInt = 0
            if vms_ptrace_geteventmsg(tid, &message) == 0, message != 0 {
                releaseForkChild(Int32(truncatingIfNeeded: message), vfork: event == VMS_PTRACE_EVENT_VFORK)
            }
        }
        if case .event(let event) = stop, event == VMS_PTRACE_EVENT_CLONE {
            var message: UInt = 0
            if vms_ptrace_geteventmsg(tid, &message) == 0, message != 0 {
                vms_emergency_add_thread(Int32(message))
                return Int32(message)
            }
        }
        return nil
    }

    func forget(_ tid: Int32, status: ExitStatus) {
        threads[tid] = nil
        vms_emergency_remove_thread(tid)
        if tid == pid { exitStatus = status }
        // The last thread held is not the process's end while it has others
        // (a short-lived thread's exit can be the first stop collected).
        if exitStatus == nil && threads.isEmpty && ProcessLiveness.isGone(pid) { exitStatus = status }
    }

    private func releaseAfterFailedAttach() {
        let held = Set(threadIDs)
        for tid in threadIDs { _ = vms_ptrace_detach(tid, threads[tid]?.pendingSignal ?? 0) }
        threads = [:]
        detachUnlistedTracees(except: held)
        vms_emergency_clear()
    }

    // MARK: letting go

    /// Lets every thread run on exactly as before: a signal that arrived while
    /// a thread was stopped (and was taken from the kernel by its stop) is
    /// handed back; a group-stop stays a group-stop.
    public func detach() throws {
        try ensureTracerThread()
        notifyResume()
        var detached = Set<Int32>()
        var firstError: VMScopeError?
        removeAllBreakpointBytes()
        for tid in threadIDs {
            let signal = threads[tid]?.pendingSignal ?? 0
            if vms_ptrace_detach(tid, signal) == 0 {
                detached.insert(tid)
            } else {
                let err = errno
                if err != ESRCH && firstError == nil {
                    firstError = .system(operation: "detach from thread \(tid)", errno: err)
                }
                reapIfGone(tid)
            }
            threads[tid] = nil
            vms_emergency_remove_thread(tid)
        }
        // A tid whose detach failed may be back under the same number: a
        // non-leader thread that execs takes over the leader's id and, with
        // PTRACE_O_TRACEEXEC, stops traced. The sweep looks at it again.
        detachUnlistedTracees(except: detached)
        vms_emergency_clear()
        memory.close()
        handle.close()
        releaseUnwinder()
        if let firstError { throw firstError }
    }

    /// Kills the process with SIGKILL and reaps it.
    public func kill() throws {
        try ensureTracerThread()
        notifyResume()
        vms_emergency_clear()
        memory.close()
        releaseUnwinder()
        guard exitStatus == nil else { threads = [:]; return }
        _ = try? handle.send(SIGKILL)
        for tid in threadIDs where tid != pid { reapIfGone(tid, blocking: true) }
        var status: Int32 = 0
        while waitpid(pid, &status, VMS_WALL) < 0 && errno == EINTR {}
        threads = [:]
        handle.close()
        exitStatus = .killed(signal: SIGKILL)
    }

    private func reapIfGone(_ tid: Int32, blocking: Bool = false) {
        var status: Int32 = 0
        while waitpid(tid, &status, VMS_WALL | (blocking ? 0 : WNOHANG)) < 0 && errno == EINTR {}
    }

    // MARK: registers

    public func registers(tid: Int32? = nil) throws -> Registers {
        let tid = try stoppedThread(tid)
        var raw = user_regs_struct()
        if vms_ptrace_getregs(tid, &raw) != 0 { throw failure("read the registers of thread \(tid)", tid) }
        return Registers(raw: raw)
    }

    public func setRegisters(_ registers: Registers, tid: Int32? = nil) throws {
        let tid = try stoppedThread(tid)
        var raw = registers.raw
        if vms_ptrace_setregs(tid, &raw) != 0 { throw failure("write the registers of thread \(tid)", tid) }
    }

    // MARK: memory and maps

    public func read(_ address: UInt64, count: Int) throws -> MemoryRead {
        try ensureLive()
        return memory.read(address, count: count)
    }

    public func write(_ address: UInt64, bytes: [UInt8]) throws {
        try ensureLive()
        try memory.write(address, bytes: bytes)
    }

    public func maps() throws -> [Mapping] {
        try ensureLive()
        do {
            // The thread an exited leader's maps were read through may have gone.
            let maps = try (try? MapsParser.read(pid: memory.pid)) ?? MapsParser.read(pid: pid)
            // A process killed meanwhile shows no mappings: say it ended.
            if maps.isEmpty && ProcessLiveness.isGone(pid) {
                collectDeparture(of: pid)
                try ensureLive()
            }
            return maps
        } catch {
            try ensureLive()
            throw error
        }
    }

    /// Registers `observer` to be called whenever the target is about to
    /// run again or be let go.
    public func onResume(_ observer: @escaping () -> Void) { resumeObservers.append(observer) }

    func notifyResume() {
        willResume()
        for observer in resumeObservers { observer() }
    }

    // MARK: checks

    func ensureTracerThread() throws {
        let me = vms_gettid()
        if me != tracerTID { throw VMScopeError.wrongThread(expected: tracerTID, actual: me) }
    }

    func ensureLive() throws {
        try ensureTracerThread()
        if let exitStatus { throw VMScopeError.targetExited(pid: pid, status: exitStatus) }
        if threads.isEmpty { throw VMScopeError.notAttached }
    }

    private func stoppedThread(_ tid: Int32?) throws -> Int32 {
        try ensureLive()
        let tid = tid ?? (threads[pid] != nil ? pid : threadIDs[0])
        guard threads[tid] != nil else { throw VMScopeError.noSuchThread(tid: tid) }
        return tid
    }

    /// Turns a failed ptrace call into an error; ESRCH on a thread we hold
    /// stopped means it died (SIGKILL from outside), so collect its end.
    func failure(_ operation: String, _ tid: Int32) -> VMScopeError {
        let err = errno
        if err == ESRCH {
            collectDeparture(of: tid)
            if let exitStatus { return .targetExited(pid: pid, status: exitStatus) }
            if threads[tid] == nil { return .noSuchThread(tid: tid) }
        }
        return .system(operation: operation, errno: err)
    }
}

/// The state a traced thread was left in by its last stop.
public struct TracedThread: Sendable {
    public let tid: Int32
    public internal(set) var stop: StopKind
    /// A signal the stop took from the kernel; handed back on resume/detach.
    public var pendingSignal: Int32 {
        if case .signal(let sig) = stop { return sig }
        return 0
    }
}

/// Why a thread is in a ptrace-stop.
public enum StopKind: Equatable, Sendable {
    /// PTRACE_INTERRUPT or a new thread's first stop (PTRACE_EVENT_STOP).
    case interrupted
    /// A group-stop (SIGSTOP, SIGTSTP...): it stays stopped after detach.
    case groupStop(signal: Int32)
    /// A signal about to be delivered (signal-delivery-stop).
    case signal(Int32)
    case syscall
    /// Another PTRACE_EVENT_* (clone, exec, exit, fork).
    case event(Int32)

    init(status: Int32) {
        let event = vms_wptrace_event(status)
        let sig = vms_wstopsig(status)
        if event == VMS_PTRACE_EVENT_STOP {
            self = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(sig) ? .groupStop(signal: sig) : .interrupted
        } else if event != 0 {
            self = .event(event)
        } else if sig == SIGTRAP | 0x80 {
            self = .syscall
        } else {
            self = .signal(sig)
        }
    }
}

/// The name of a PTRACE_EVENT_* number ("clone", "exec"...).
public func ptraceEventName(_ event: Int32) -> String {
    switch event {
    case VMS_PTRACE_EVENT_FORK: return "fork"
    case VMS_PTRACE_EVENT_VFORK: return "vfork"
    case VMS_PTRACE_EVENT_CLONE: return "clone"
    case VMS_PTRACE_EVENT_EXEC: return "exec"
    case VMS_PTRACE_EVENT_EXIT: return "exit"
    default: return "event \(event)"
    }
}

/// Finds a program the way a shell would: a name without "/" is looked up in PATH.
func resolveExecutable(_ name: String) throws -> String {
    if name.contains("/") {
        if access(name, X_OK) != 0 { throw VMScopeError.launchFailed(path: name, errno: errno) }
        return name
    }
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw VMScopeError.launchFailed(path: name, errno: ENOENT)
}

/// Runs `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
