import CVMScopeShims
import Glibc

/// Walks the stacks of a traced process with libunwind's remote unwinder.
///
/// One per Target (`target.unwinder()`), kept across stops: libunwind's
/// parsed unwind info (UNW_CACHE_GLOBAL) stays valid while the code does
/// not change, and the page cache that serves its memory reads is flushed
/// whenever the target runs (`Target.willResume()`). Only the tracer thread
/// may use it.
public final class Unwinder {
    public static let defaultMaxFrames = 100_000
    /// Wall-clock budget of one walk: a damaged stack must not hang the shell.
    public static let defaultTimeLimit = 10.0

    private var space: OpaquePointer?
    private let target: Target
    /// Reused between walks: a 100,000-frame buffer is 10 MB.
    private var buffer: UnsafeMutableBufferPointer<vms_unw_frame>?
    /// libdwfl state for file:line, made on first use: [own DWARF only, with debug files].
    private var lines: [Bool: SourceLines?] = [:]

    init(target: Target) throws {
        self.target = target
        guard let space = vms_unw_space_create(target.memory.pid) else {
            throw VMScopeError.system(operation: "create a libunwind address space", errno: errno)
        }
        self.space = space
    }

    deinit { close() }

    func close() {
        lines = [:]
        if let space { vms_unw_space_destroy(space) }
        space = nil
        buffer?.deallocate()
        buffer = nil
    }

    /// Forgets cached target memory (the stack changes when threads run).
    func flushMemory() {
        if let space { vms_unw_space_flush_memory(space) }
    }

    /// Forgets libunwind's parsed unwind info as well (after exec, or when
    /// libraries were loaded or unloaded).
    public func flushAll() {
        if let space { vms_unw_space_flush_all(space) }
        lines = [:]
        modulesGiven = false
    }

    /// The source file and line of a code address, when DWARF line info
    /// exists. Without `separateDebugFiles` only DWARF inside the mapped
    /// files is used (cheap); with it, installed debug files too (libc6-dbg:
    /// loading libc's line table costs tens of milliseconds once).
    public func sourceLocation(of address: UInt64, separateDebugFiles: Bool = false) -> SourceLocation? {
        lineTables(separateDebugFiles: separateDebugFiles)?.location(of: address)
    }

    /// The first code address of FILE:LINE, from the same line tables.
    public func codeAddress(file: String, line: Int, separateDebugFiles: Bool = false) -> UInt64? {
        lineTables(separateDebugFiles: separateDebugFiles)?.address(file: file, line: line)
    }

    /// File:line tables made before the attach (`prepareSourceLines`),
    /// waiting for the Unwinder of that process.
    nonisolated(unsafe) private static var prepared: (pid: Int32, lines: SourceLines?)?

    /// Loads libdw and reports the modules of `pid` to libdwfl now, before
    /// vmscope attaches: both read only files and /proc/PID/maps, and cost
    /// ~0.4 ms that the target would otherwise spend stopped during the
    /// first `bt` (issue #7). The next Unwinder of `pid` takes them over.
    public static func prepareSourceLines(pid: Int32) {
        prepared = (pid, SourceLines(pid: pid, separateDebugFiles: false))
    }

    private func lineTables(separateDebugFiles: Bool) -> SourceLines? {
        if !separateDebugFiles, lines[false] == nil, let ready = Unwinder.prepared, ready.pid == target.pid {
            Unwinder.prepared = nil
            lines[false] = .some(ready.lines)
        }
        if lines[separateDebugFiles] == nil {
            lines[separateDebugFiles] = .some(SourceLines(pid: target.pid, separateDebugFiles: separateDebugFiles))
        }
        return lines[separateDebugFiles] ?? nil
    }

    /// What the code looked like at the last walk: file-backed mappings.
    private var codeSignature: [UInt64] = []
    /// Whether the C side has this layout's file extents (`noteMaps`).
    private var modulesGiven = false

    /// Tells the unwinder the current maps. When the set of mapped files
    /// changed (exec, dlopen, dlclose), libunwind's parsed unwind info is
    /// dropped: it is keyed by address, and the code at an address changed.
    public func noteMaps(_ maps: [Mapping]) {
        var signature: [UInt64] = []
        signature.reserveCapacity(maps.count * 2)
        for mapping in maps where mapping.isExecutable {
            signature.append(mapping.start)
            signature.append(mapping.inode)
        }
        if !codeSignature.isEmpty && signature != codeSignature { flushAll() }
        codeSignature = signature
        // Each file's whole extent (all its mappings), for libunwind's
        // per-module ELF images: once per code layout (bt all walks 51 threads).
        guard !modulesGiven else { return }
        modulesGiven = true
        var extents: [String: (start: UInt64, end: UInt64)] = [:]
        for mapping in maps where mapping.inode != 0 {
            let key = mapping.device + ":" + String(mapping.inode)
            let known = extents[key]
            extents[key] = (min(known?.start ?? mapping.start, mapping.start), max(known?.end ?? mapping.end, mapping.end))
        }
        let ranges = extents.values.sorted { $0.start < $1.start }.flatMap { [$0.start, $0.end] }
        if let space, !ranges.isEmpty { vms_unw_space_set_modules(space, ranges, ranges.count / 2) }
    }

    /// Page-cache statistics: word reads served from cache, pages read.
    public var statistics: (hits: UInt64, pageReads: UInt64) {
        var hits: UInt64 = 0, reads: UInt64 = 0
        if let space { vms_unw_space_stats(space, &hits, &reads) }
        return (hits, reads)
    }

    /// The frames of thread `tid` (default: the main thread), innermost first.
    public func backtrace(tid: Int32? = nil, maxFrames: Int = defaultMaxFrames,
                          timeLimit: Double = defaultTimeLimit) throws -> Backtrace {
        let registers = try target.registers(tid: tid)
        let thread = tid ?? target.pid
        guard let space else { throw VMScopeError.notAttached }
        let limit = max(1, maxFrames)
        if (buffer?.count ?? 0) < limit {
            buffer?.deallocate()
            buffer = UnsafeMutableBufferPointer<vms_unw_frame>.allocate(capacity: limit)
        }
        guard let frames = buffer, let base = frames.baseAddress else { throw VMScopeError.notAttached }
        var reason: Int32 = 0
        var unwError: Int32 = 0
        var raw = registers.raw
        let started = monotonicSeconds()
        let count = Int(vms_unw_walk(space, &raw, base, limit, timeLimit, &reason, &unwError))
        let seconds = monotonicSeconds() - started
        var result: [Frame] = []
        result.reserveCapacity(count)
        // Plain bit tests rather than a closure per frame: this loop runs
        // while the target is stopped, 10,000 times for a deep stack.
        let bitCFA = UInt32(VMS_UNW_HAS_CFA), bitRBP = UInt32(VMS_UNW_HAS_RBP), bitRBX = UInt32(VMS_UNW_HAS_RBX)
        let bitR12 = UInt32(VMS_UNW_HAS_R12), bitR13 = UInt32(VMS_UNW_HAS_R13)
        let bitR14 = UInt32(VMS_UNW_HAS_R14), bitR15 = UInt32(VMS_UNW_HAS_R15)
        var nextIsSignalFrame = count > 0 && frames[0].is_signal_frame != 0
        for index in 0..<count {
            let f = frames[index]
            let valid = f.valid
            // libunwind flags the frame its step reached through a signal
            // frame (the interrupted one); the trampoline is the frame before.
            let interrupted = nextIsSignalFrame
            nextIsSignalFrame = index + 1 < count && frames[index + 1].is_signal_frame != 0
            let trampoline = nextIsSignalFrame
            result.append(Frame(
                index: index, ip: f.ip, sp: f.sp, cfa: valid & bitCFA != 0 ? f.cfa : nil,
                registers: FrameRegisters(rbp: valid & bitRBP != 0 ? f.rbp : nil, rbx: valid & bitRBX != 0 ? f.rbx : nil,
                                          r12: valid & bitR12 != 0 ? f.r12 : nil, r13: valid & bitR13 != 0 ? f.r13 : nil,
                                          r14: valid & bitR14 != 0 ? f.r14 : nil, r15: valid & bitR15 != 0 ? f.r15 : nil),
                rbpSavedAt: f.rbp_location == 0 ? nil : f.rbp_location,
                isSignalFrame: trampoline, wasInterrupted: interrupted,
                ipIsReturnAddress: index > 0 && !interrupted && !trampoline))
        }
        let stop: UnwindStop
        switch reason {
        case Int32(VMS_UNW_STOP_END): stop = .end
        case Int32(VMS_UNW_STOP_MAX_FRAMES): stop = .maxFrames
        case Int32(VMS_UNW_STOP_CFA_NOT_UP): stop = .cfaNotIncreasing
        case Int32(VMS_UNW_STOP_REPEATED): stop = .repeatedFrame
        case Int32(VMS_UNW_STOP_TIMEOUT): stop = .timeout
        default: stop = .failed(String(cString: vms_unw_strerror(unwError)))
        }
        return Backtrace(tid: thread, frames: result, stop: stop, seconds: seconds)
    }
}

extension Target {
    /// The process's unwinder, created on first use.
    public func unwinder() throws -> Unwinder {
        try ensureLive()
        if let unwinderStorage { return unwinderStorage }
        let made = try Unwinder(target: self)
        unwinderStorage = made
        return made
    }

    /// Drops every cache of target memory. Whatever lets the target's
    /// threads run (continue, step, detach) must call this first.
    public func willResume() {
        unwinderStorage?.flushMemory()
        memory.forgetLayout()
    }

    /// On detach or kill: the address space and its caches go.
    func releaseUnwinder() {
        unwinderStorage?.close()
        unwinderStorage = nil
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
