// Shared by the ReliabilityExecution*Tests (issue #8, execution cases):
// vmscope run as a live child that can be signalled at any moment, and the
// checks that prove a target was left exactly as it was.
import CVMScopeShims
import Foundation
import XCTest
@testable import VMScopeCore

enum ExecutionReliability {
    /// Full counts under `make stress` (VMSCOPE_STRESS=1), quick ones otherwise.
    static var stress: Bool { ProcessInfo.processInfo.environment["VMSCOPE_STRESS"] == "1" }

    static func count(quick: Int, stress full: Int) -> Int { stress ? full : quick }

    /// Starts vmscope on `pid` with `commands` (-ex each), as a child whose
    /// stdin stays open: after its commands it blocks reading stdin, the
    /// "blocking command" of the tests. `echo ready` must be among the
    /// commands: TestTarget waits for that line.
    static func vmscope(pid: pid_t, _ commands: [String], environment: [String: String]? = nil) throws -> TestTarget {
        var args = ["--pid", String(pid)]
        for command in commands { args += ["-ex", command] }
        return try TestTarget(VMScope.binary, args, environment: environment)
    }

    /// Lines vmscope prints until one equals `marker` (or `timeout` passes).
    static func lines(of vmscope: TestTarget, until marker: String, timeout: Double = 20) -> [String] {
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, let line = try? vmscope.readLine(timeout: max(0.05, deadline.timeIntervalSinceNow)) {
            seen.append(line)
            if line == marker { break }
        }
        return seen
    }

    /// TracerPid of `pid` from /proc/PID/status (nil if gone).
    static func tracer(of pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("TracerPid:") {
            return Int(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Waits up to `timeout` s for every thread of `pid` to be untraced.
    static func waitUntraced(_ pid: pid_t, timeout: Double = 2) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            if tids.allSatisfy({ tracer(of: pid_t($0) ?? pid) == 0 }) { return true }
            usleep(2000)
        } while Date() < deadline
        return false
    }

    /// Bytes of the executable's code mappings in the live process that
    /// differ from the file at the same offsets (an int3 left behind, a
    /// byte written into the wrong image). -1 if nothing could be compared.
    static func codeBytesDiffering(pid: pid_t, file: String) -> Int {
        guard let maps = try? procMapsLines(pid),
              let image = FileManager.default.contents(atPath: file),
              let mem = FileHandle(forReadingAtPath: "/proc/\(pid)/mem") else { return -1 }
        defer { try? mem.close() }
        let resolved = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
        var compared = 0, differing = 0
        for line in maps {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1].contains("x"), String(fields[5...].joined(separator: " ")) == resolved,
                  let dash = fields[0].firstIndex(of: "-"),
                  let start = UInt64(fields[0][..<dash], radix: 16),
                  let end = UInt64(fields[0][fields[0].index(after: dash)...], radix: 16),
                  let offset = Int(fields[2], radix: 16) else { continue }
            let length = min(Int(end - start), image.count - offset)
            guard length > 0, (try? mem.seek(toOffset: start)) != nil,
                  let live = try? mem.read(upToCount: length), live.count == length else { return -1 }
            let onDisk = image.subdata(in: offset..<(offset + length))
            differing += zip(live, onDisk).filter { $0 != $1 }.count
            compared += length
        }
        return compared > 0 ? differing : -1
    }

    /// Threads of `pid` whose DR7 (the debug-register enable bits) is not 0,
    /// read through an attach of our own; -1 if it cannot attach. vmscope
    /// sets no hardware breakpoint, so any bit set would be left by it.
    static func debugRegistersLeftSet(_ pid: pid_t) -> Int {
        guard let target = try? Target.attach(pid: pid) else { return -1 }
        defer { try? target.detach() }
        var set = 0
        for tid in target.threadIDs {
            var dr7: UInt64 = 0
            if vms_ptrace_peekuser(tid, VMS_DEBUGREG_OFFSET + 7 * 8, &dr7) != 0 || dr7 != 0 { set += 1 }
        }
        return set
    }

    /// `ticks=` from the looper's `count` answer.
    static func ticks(_ looper: TestTarget) -> Int? {
        (try? looper.request("count")).flatMap { Int(looper.fields($0)["ticks"] ?? "") }
    }

    /// The looper still runs its ticker: the count grows within a second.
    static func tickerRunsOn(_ looper: TestTarget) -> Bool {
        guard let first = ticks(looper) else { return false }
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline {
            usleep(5000)
            if let now = ticks(looper), now > first { return true }
        }
        return false
    }

    /// One parsable line per test, collected by `make stress` for the README.
    static func report(_ name: String, _ figures: KeyValuePairs<String, Any>) {
        let text = figures.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("RELIABILITY-EXEC case=\(name) \(text)")
    }
}
