import Foundation
import XCTest

/// Execution control through the real executable, as a teacher runs it:
/// every figure is compared with what the target prints about itself.
final class ExecutionShellTests: XCTestCase {
    /// `frame depth=D fp=0x...` lines the recursion prints, by depth.
    private func printedFramePointers(_ stdout: String) -> [Int: UInt64] {
        var result: [Int: UInt64] = [:]
        for line in stdout.split(separator: "\n") where line.hasPrefix("frame depth=") {
            let fields = Dictionary(line.split(separator: " ").compactMap { token -> (String, String)? in
                let parts = token.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            }, uniquingKeysWith: { first, _ in first })
            if let depth = fields["depth"].flatMap({ Int($0) }), let fp = hexValue(fields["fp"]) { result[depth] = fp }
        }
        return result
    }

    private func jsonLines(_ stdout: String) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    func testFiveStopsInTheRecursionShowRspFallingExactlyWhereTheTargetPutsItsFrames() throws {
        var args = ["--json", "-ex", "track sp brk", "-ex", "break recurse"]
        for _ in 0..<5 { args += ["-ex", "continue"] }
        args += ["-ex", "track show", "--batch", "--", TestTarget.path("recurse-nopie"), "8"]
        let result = try VMScope.run(args)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = jsonLines(result.stdout)
        let stops = lines.filter { $0["command"] as? String == "continue" }.compactMap { $0["result"] as? [String: Any] }
        XCTAssertEqual(stops.count, 5, result.stdout)
        XCTAssertEqual(stops.map { $0["location"] as? String }, Array(repeating: "recurse+0x0", count: 5))
        let rsps = stops.compactMap { hexValue($0["rsp"]) }
        XCTAssertEqual(rsps.count, 5)
        for (outer, inner) in zip(rsps, rsps.dropFirst()) {
            XCTAssertLessThan(inner, outer, "each deeper call stops with a lower rsp")
        }
        // Stop D is at the entry of recurse(D): the call has pushed the
        // return address, so rsp = the frame pointer recurse(D) then
        // prints (after `push rbp; mov rbp, rsp`) + 8. Depth 5 never
        // prints: the batch ends at its stop and kills the launched target.
        let printed = printedFramePointers(result.stdout)
        for depth in 1...4 {
            let fp = try XCTUnwrap(printed[depth], "depth \(depth) printed nothing:\n\(result.stdout)")
            XCTAssertEqual(rsps[depth - 1], fp + 8, "depth \(depth)")
        }
        // `track show`: the row `track` started with, then the five stops in order.
        let show = try XCTUnwrap(lines.last { $0["command"] as? String == "track show" }?["result"] as? [String: Any])
        let samples = try XCTUnwrap(show["samples"] as? [[String: Any]])
        XCTAssertEqual(samples.map { $0["reason"] as? String }, ["start"] + Array(repeating: "bp 1", count: 5))
        let tracked = samples.dropFirst().compactMap { ($0["rsp"] as? [String: Any])?.values.first }.compactMap(hexValue)
        XCTAssertEqual(tracked, rsps)
    }

    /// SIGINT while `continue` waits on a parked target: the target is
    /// interrupted, the script goes on, and after detach the target runs
    /// on untouched (it still answers).
    func testCtrlCWhileTheTargetRunsInterruptsItAndTheScriptGoesOn() throws {
        let program = try TestTarget("heapgrow")
        defer { program.terminate() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: VMScope.binary)
        process.arguments = ["--json", "--pid", "\(program.pid)", "-ex", "continue", "-ex", "echo after", "--batch"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until vmscope has resumed the target (it sleeps in read()).
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !(tracerPID(of: program.pid) == process.processIdentifier
                                   && TestTarget.state(of: program.pid) == "S") {
            usleep(20_000)
        }
        usleep(100_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, stdout)
        let stop = jsonLines(stdout).first { $0["command"] as? String == "continue" }?["result"] as? [String: Any]
        XCTAssertEqual(stop?["reason"] as? String, "interrupted", stdout)
        XCTAssertTrue(stdout.contains("after"))
        XCTAssertEqual(tracerPID(of: program.pid), 0)
        try program.send("sbrk 4096")
        XCTAssertTrue(try program.readLine().hasPrefix("brk=0x"), "the target runs on")
    }
}

/// TracerPid from /proc/PID/status (0: not traced).
private func tracerPID(of pid: pid_t) -> pid_t? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("TracerPid:") {
        return pid_t(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
