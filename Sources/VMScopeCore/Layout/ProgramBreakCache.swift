/// Remembers the program break for as long as the target has not run:
/// injecting brk(0) costs a single-step and two register round trips, and
/// several commands of one stop (layout, brk, whereis) ask for it.
///
/// "Has not run" is judged from every thread's context-switch counters in
/// /proc/PID/task/TID/status: a thread resumed and stopped again has
/// switched at least once. (The injection itself switches too, so the
/// signature is taken after it.)
public final class ProgramBreakCache {
    private var key: (pid: Int32, startTime: UInt64, signature: [Int32: String])?
    private var value: UInt64?

    public init() {}

    public func programBreak(of target: Target) throws -> UInt64 {
        if let key, let value, key.pid == target.pid, key.startTime == target.startTime,
           key.signature == Self.signature(target) {
            return value
        }
        let result = try target.programBreak()
        key = (target.pid, target.startTime, Self.signature(target))
        value = result
        return result
    }

    public func invalidate() { key = nil; value = nil }

    static func signature(_ target: Target) -> [Int32: String] {
        var result: [Int32: String] = [:]
        for tid in target.threadIDs {
            let status = ProcFS.status(pid: tid)
            result[tid] = (status?["voluntary_ctxt_switches"] ?? "?") + "/" + (status?["nonvoluntary_ctxt_switches"] ?? "?")
        }
        return result
    }
}
