// Shared by the Reliability*Tests (issue #8): quick counts for `make test`,
// full counts under `make stress` (VMSCOPE_STRESS=1), and one parsable
// line of figures per case for the README's reliability table.
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

enum Reliability {
    /// `make stress` sets VMSCOPE_STRESS=1: the issue's full counts.
    static var stress: Bool { ProcessInfo.processInfo.environment["VMSCOPE_STRESS"] == "1" }

    /// `quick` in `make test`, `full` under `make stress`.
    static func count(quick: Int, full: Int) -> Int { stress ? full : quick }

    /// Prints `RELIABILITY case=NAME key=value ...` (keys in the given order),
    /// the line the README's table is filled from.
    static func report(_ name: String, _ figures: KeyValuePairs<String, Any>) {
        let fields = figures.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("RELIABILITY case=\(name) mode=\(stress ? "stress" : "quick") \(fields)")
    }

    /// The p-th percentile (0...100) of `values`, nearest rank.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// Milliseconds with two decimals, for the figures line.
    static func ms(_ seconds: Double) -> String { String(format: "%.2f", seconds * 1000) }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits until `condition` holds or `timeout` seconds pass; returns whether it held.
    @discardableResult
    static func wait(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = now() + timeout
        while !condition() {
            if now() >= deadline { return false }
            usleep(1000)
        }
        return true
    }

    /// Threads of `pid` (or the process itself) in a stop: `t` (ptrace) or
    /// `T` (job control), after a short grace for a thread on its way out of
    /// a ptrace-stop.
    static func stoppedThreads(_ pid: pid_t) -> [pid_t] {
        let tids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [])
            .compactMap { pid_t($0) }
        let stopped = { (tid: pid_t) -> Bool in
            guard let state = TestTarget.state(of: tid) else { return false }
            return state == "t" || state == "T"
        }
        let first = tids.filter(stopped)
        if first.isEmpty { return [] }
        usleep(2000)
        return first.filter(stopped)
    }

    /// Threads of `pid` whose TracerPid is not 0.
    static func tracedThreads(_ pid: pid_t) -> [pid_t] {
        let tids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [])
            .compactMap { pid_t($0) }
        return tids.filter { (tracerPid($0) ?? 0) != 0 }
    }

    /// Bit of `signal` in the pending masks (thread or shared) of /proc/PID/status.
    static func isPending(_ signal: Int32, pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            (line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:"))
                && (UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0) & bit != 0
        }
    }

    /// A fresh empty directory under /tmp (removed by the caller).
    static func temporaryDirectory(_ tag: String) throws -> String {
        let path = NSTemporaryDirectory() + "vmscope-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A flag and counters shared by a test and its helper thread.
final class SharedCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]
    private var stopped = false

    var running: Bool { lock.withLock { !stopped } }
    func stop() { lock.withLock { stopped = true } }
    func add(_ key: String, _ n: Int = 1) { lock.withLock { values[key, default: 0] += n } }
    subscript(key: String) -> Int { lock.withLock { values[key, default: 0] } }
}

/// A value shared between a test and a helper thread.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Runs `body` on a thread of its own (which becomes the tracer) and
/// fails instead of hanging the whole suite if it does not finish.
func runOnOwnThread(timeout: Double, _ what: String, _ body: @escaping @Sendable () throws -> Void) {
    let finished = SharedCounters()
    let failure = LockedBox<Error?>(nil)
    let thread = Thread {
        do { try body() } catch { failure.value = error }
        finished.add("done")
    }
    thread.stackSize = 8 << 20
    thread.start()
    if !Reliability.wait(timeout: timeout, { finished["done"] == 1 }) {
        XCTFail("\(what): still running after \(timeout) s (a hang)")
    }
    if let error = failure.value { XCTFail("\(what): \(error)") }
}
