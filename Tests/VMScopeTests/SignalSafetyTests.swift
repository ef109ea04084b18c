import Foundation
import XCTest
@testable import VMScopeCore

/// Attaching and detaching must never lose, add or hold a signal (issue #2).
final class SignalSafetyTests: XCTestCase {
    /// What the sender thread and the test share.
    final class Sender: @unchecked Sendable {
        let lock = NSLock()
        var running = true
        var sent = 0
    }

    /// Bit of `signal` in a /proc/PID/status pending mask.
    static func isPending(_ signal: Int32, pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            (line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:"))
                && (UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0) & bit != 0
        }
    }

    func testTwoHundredAttachDetachCyclesUnderSIGUSR1LoseNoSignal() throws {
        let program = try TestTarget("signals")
        let pid = program.pid
        let shared = Sender()
        let sender = Thread {
            while shared.lock.withLock({ shared.running }) {
                kill(pid, SIGUSR1)
                shared.lock.withLock { shared.sent += 1 }
                // Standard signals merge while pending: send the next one
                // only once this one has left the kernel's pending set.
                let deadline = Date().addingTimeInterval(2)
                while SignalSafetyTests.isPending(SIGUSR1, pid: pid) && Date() < deadline { usleep(50) }
            }
        }
        sender.start()
        var leftStopped = 0
        for _ in 0..<200 {
            let target = try Target.attach(pid: pid)
            _ = try target.registers()
            try target.detach()
            if let state = TestTarget.state(of: pid), state == "t" || state == "T" {
                // A just-detached thread may still be on its way out of the stop.
                usleep(2000)
                if let again = TestTarget.state(of: pid), again == "t" || again == "T" { leftStopped += 1 }
            }
        }
        shared.lock.withLock { shared.running = false }
        while !sender.isFinished { usleep(1000) }
        let total = shared.lock.withLock { shared.sent }
        XCTAssertGreaterThan(total, 20, "the sender should have sent signals during the cycles")
        XCTAssertEqual(leftStopped, 0)
        // Let the last signal be handled, then ask the target what it counted.
        let deadline = Date().addingTimeInterval(5)
        var counted = -1
        repeat {
            counted = Int(program.fields(try program.request("count"))["usr1"] ?? "") ?? -1
            if counted == total { break }
            usleep(10_000)
        } while Date() < deadline
        XCTAssertEqual(counted, total, "signals sent \(total), counted \(counted)")
        XCTAssertEqual(tracerPid(pid), 0)
    }

    func testASignalTakenDuringTheStopIsHandedBackAtDetach() throws {
        let program = try TestTarget("signals")
        let target = try Target.attach(pid: program.pid)
        // Sent while the process is stopped: it stays pending in the kernel.
        kill(program.pid, SIGUSR2)
        try target.detach()
        let deadline = Date().addingTimeInterval(5)
        var usr2 = ""
        repeat {
            usr2 = program.fields(try program.request("count"))["usr2"] ?? ""
            if usr2 == "1" { break }
            usleep(10_000)
        } while Date() < deadline
        XCTAssertEqual(usr2, "1")
    }

    func testAGroupStoppedTargetStaysStoppedAfterDetach() throws {
        let program = try TestTarget("signals")
        kill(program.pid, SIGSTOP)
        var deadline = Date().addingTimeInterval(5)
        while TestTarget.state(of: program.pid) != "T" && Date() < deadline { usleep(1000) }
        let target = try Target.attach(pid: program.pid)
        XCTAssertEqual(target.threads[program.pid]?.stop, .groupStop(signal: SIGSTOP))
        try target.detach()
        usleep(20_000)
        XCTAssertEqual(TestTarget.state(of: program.pid), "T", "still job-control stopped after detach")
        kill(program.pid, SIGCONT)
        deadline = Date().addingTimeInterval(5)
        while TestTarget.state(of: program.pid) == "T" && Date() < deadline { usleep(1000) }
        XCTAssertEqual(program.fields(try program.request("count"))["cont"], "1", "its SIGCONT handler ran once")
    }
}
