import Foundation
import XCTest
@testable import VMScopeCore

/// Issue #8, case 2: job control through vmscope is what it would be
/// without it. The `signals` target counts its SIGCONT handler's runs, so a
/// blind SIGCONT (or a lost one) shows as a wrong count.
final class ReliabilityJobControlTests: XCTestCase {
    private func waitForState(_ pid: pid_t, _ state: Character) -> Bool {
        Reliability.wait(timeout: 5) { TestTarget.state(of: pid) == state }
    }

    private func contCount(_ program: TestTarget) throws -> String? {
        program.fields(try program.request("count"))["cont"]
    }

    func testAStoppedTargetStaysStoppedThroughManyAttachesAndResumesOnceOnSIGCONT() throws {
        let program = try TestTarget("signals")
        kill(program.pid, SIGSTOP)
        XCTAssertTrue(waitForState(program.pid, "T"))
        let cycles = Reliability.count(quick: 20, full: 200)
        var leftRunning = 0
        for _ in 0..<cycles {
            let target = try Target.attach(pid: program.pid)
            XCTAssertEqual(target.threads[program.pid]?.stop, .groupStop(signal: SIGSTOP))
            _ = try target.registers()
            try target.detach()
            usleep(1000)
            if TestTarget.state(of: program.pid) != "T" { leftRunning += 1 }
        }
        XCTAssertEqual(leftRunning, 0, "a detach let a job-control-stopped process run")
        kill(program.pid, SIGCONT)
        XCTAssertTrue(Reliability.Wait.notState(program.pid, "T"))
        let runs = try contCount(program)
        XCTAssertEqual(runs, "1", "its SIGCONT handler ran once")
        Reliability.report("job-control-stopped-before-attach", ["cycles": cycles, "left_running": leftRunning,
                                                                  "cont_handler_runs": runs ?? "?"])
    }

    func testSIGSTOPSentWhileAttachedStopsTheProcessAfterDetach() throws {
        let program = try TestTarget("signals")
        let target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGSTOP)
        _ = try target.registers()
        try target.detach()
        XCTAssertTrue(waitForState(program.pid, "T"), "SIGSTOP sent while attached was lost")
        usleep(20_000)
        XCTAssertEqual(TestTarget.state(of: program.pid), "T")
        kill(program.pid, SIGCONT)
        XCTAssertTrue(Reliability.Wait.notState(program.pid, "T"))
        XCTAssertEqual(try contCount(program), "1")
    }

    func testEveryThreadOfABusyProcessFollowsSIGSTOPAndSIGCONTSentWhileAttached() throws {
        let program = try TestTarget("storm", ["4"])
        let tids = program.startupLines.compactMap { program.fields($0)["tid"].flatMap { pid_t($0) } } + [program.pid]
        let allIn = { (states: Set<Character>) in tids.allSatisfy { TestTarget.state(of: $0).map(states.contains) == true } }
        var target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGSTOP)
        try target.detach()
        XCTAssertTrue(Reliability.wait(timeout: 5) { allIn(["T"]) }, "every thread job-control stopped")
        target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGCONT)
        try target.detach()
        XCTAssertTrue(Reliability.wait(timeout: 5) { allIn(["R", "S"]) }, "every thread running again")
        let before = program.fields(try program.request("checksum"))["rounds"].flatMap { Int($0) } ?? 0
        usleep(50_000)
        let after = program.fields(try program.request("checksum"))
        XCTAssertGreaterThan(after["rounds"].flatMap { Int($0) } ?? 0, before, "the workers compute again")
        XCTAssertEqual(after["checksum_ok"], "1")
    }

    func testSIGCONTSentWhileAttachedResumesAStoppedProcessOnce() throws {
        let program = try TestTarget("signals")
        kill(program.pid, SIGSTOP)
        XCTAssertTrue(waitForState(program.pid, "T"))
        let target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGCONT)
        _ = try target.registers()
        try target.detach()
        XCTAssertTrue(Reliability.Wait.notState(program.pid, "T"), "SIGCONT sent while attached was lost")
        XCTAssertEqual(try contCount(program), "1", "the SIGCONT handler must run exactly once")
        XCTAssertEqual(tracerPid(program.pid), 0)
    }

    func testSIGSTOPThenSIGCONTWhileAttachedLeavesItRunningWithOneHandlerRun() throws {
        let program = try TestTarget("signals")
        let target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGSTOP)
        kill(program.pid, SIGCONT)  // discards the pending SIGSTOP, as without a tracer
        try target.detach()
        usleep(20_000)
        XCTAssertNotEqual(TestTarget.state(of: program.pid), "T")
        XCTAssertEqual(try contCount(program), "1")
    }

    func testARunningTargetGetsNoSIGCONTFromAttachAndDetach() throws {
        let program = try TestTarget("signals")
        for _ in 0..<10 {
            let target = try Target.attach(pid: program.pid)
            try target.detach()
        }
        XCTAssertEqual(try contCount(program), "0", "vmscope sent a SIGCONT of its own")
    }

    func testTheShellLeavesAStoppedProcessStopped() throws {
        let program = try TestTarget("signals")
        kill(program.pid, SIGSTOP)
        XCTAssertTrue(waitForState(program.pid, "T"))
        let run = try VMScope.run(["--pid", String(program.pid), "--batch", "-ex", "regs", "-ex", "bt", "-ex", "maps"],
                                  timeout: 30)
        XCTAssertEqual(run.status, 0, run.stderr)
        usleep(20_000)
        XCTAssertEqual(TestTarget.state(of: program.pid), "T")
        XCTAssertEqual(tracerPid(program.pid), 0)
        kill(program.pid, SIGCONT)
        XCTAssertTrue(Reliability.Wait.notState(program.pid, "T"))
        XCTAssertEqual(try contCount(program), "1")
    }
}

extension Reliability {
    enum Wait {
        /// Waits (5 s) until `pid` has left state `state`.
        static func notState(_ pid: pid_t, _ state: Character) -> Bool {
            Reliability.wait(timeout: 5) { TestTarget.state(of: pid) != state }
        }
    }
}
