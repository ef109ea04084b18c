import Foundation
import XCTest

/// The real executable, driven the way users and scripts drive it (issue #2).
final class CommandLineTests: XCTestCase {
    func testBatchJSONGivesRegistersMapsAndThreadsAndLeavesTheTargetRunning() throws {
        let program = try TestTarget("threads", ["2"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "regs", "-ex", "maps", "-ex", "threads"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.lines.count, 4)
        let regs = try XCTUnwrap(run.lines[1]["result"] as? [String: Any])
        for key in ["rip", "rsp", "rbp", "rax", "rflags", "fs_base"] { XCTAssertNotNil(hexValue(regs[key]), key) }
        let maps = try XCTUnwrap((run.lines[2]["result"] as? [String: Any])?["maps"] as? [[String: Any]])
        let procLines = try procMapsLines(program.pid)
        XCTAssertEqual(maps.count, procLines.count)
        for (entry, line) in zip(maps, procLines) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            let range = fields[0].split(separator: "-")
            XCTAssertEqual(hexValue(entry["start"]), UInt64(range[0], radix: 16))
            XCTAssertEqual(hexValue(entry["end"]), UInt64(range[1], radix: 16))
            XCTAssertEqual(entry["perms"] as? String, String(fields[1]))
            XCTAssertEqual(hexValue(entry["offset"]), UInt64(fields[2], radix: 16))
            XCTAssertEqual(entry["path"] as? String, fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : "")
        }
        let threads = try XCTUnwrap((run.lines[3]["result"] as? [String: Any])?["threads"] as? [[String: Any]])
        let reported = program.startupLines.compactMap { program.fields($0)["tid"].flatMap { Int($0) } }
        XCTAssertEqual(Set(threads.compactMap { $0["tid"] as? Int }), Set(reported + [Int(program.pid)]))
        for thread in threads { XCTAssertNotNil(hexValue(thread["rsp"])); XCTAssertNotNil(thread["state"]) }
        XCTAssertNotEqual(program.state(), "t")
        XCTAssertEqual(tracerPid(program.pid), 0)
    }

    func testExamineShowsThePrintedString() throws {
        let program = try TestTarget("recurse", ["2"])
        let address = try XCTUnwrap(program.fact("string"))
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "x \(address) 16", "-ex", "x \(address)+16 3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("|vmscope-test-str|"), run.stdout)
        XCTAssertTrue(run.stdout.contains("|ing|"), run.stdout)
    }

    func testBadInputGetsOneSentenceAndStatusOne() throws {
        let program = try TestTarget("recurse", ["2"])
        let pid = "\(program.pid)"
        let cases: [([String], String)] = [
            (["--pid", pid, "--batch", "-ex", "frobnicate"], "Unknown command 'frobnicate'"),
            (["--pid", pid, "--batch", "-ex", "x 0xZZ"], "'0xZZ' is not a number"),
            (["--pid", pid, "--batch", "-ex", "x 0 8"], "Address 0x0 is not mapped in the target"),
            (["--pid", pid, "--batch", "-ex", "regs xmm99"], "There is no register named 'xmm99'"),
            (["--pid", pid, "--batch", "-ex", "x $rsp-0xffffffffffffffff"], "the result is below zero"),
            (["--pid", pid, "--batch", "-ex", "thread 1"], "Thread 1 is not a thread of the traced process"),
            (["--pid", "99999999", "--batch", "-ex", "regs"], "No process with pid 99999999 exists."),
            (["--batch", "-ex", "regs"], "No process is attached"),
            (["--batch", "-ex", "run /nonexistent/prog"], "Cannot start '/nonexistent/prog': ENOENT"),
        ]
        for (args, expected) in cases {
            let run = try VMScope.run(args)
            XCTAssertEqual(run.status, 1, "\(args): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(expected), "\(args): expected \(expected), got \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
        XCTAssertEqual(try VMScope.run(["--frob"]).status, 2)
        XCTAssertEqual(program.state(), "S")
    }

    func testRefusalsExplainZombieAndAnotherTracer() throws {
        // A zombie: a child that exited and was never waited for.
        let zombie = try TestTarget("execer", ["/nonexistent"])
        try zombie.send("go")
        var deadline = Date().addingTimeInterval(5)
        while zombie.state() != "Z" && Date() < deadline { usleep(1000) }
        let run = try VMScope.run(["--pid", "\(zombie.pid)", "--batch"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("is a zombie"), run.stderr)

        let program = try TestTarget("recurse", ["2"])
        let holder = try TestTarget(VMScope.binary, ["--pid", "\(program.pid)", "-ex", "echo ready"])
        let second = try VMScope.run(["--pid", "\(program.pid)", "--batch"])
        XCTAssertTrue(second.stderr.contains("is already traced by process \(holder.pid) (vmscope)"), second.stderr)
        holder.closeStdin()
        deadline = Date().addingTimeInterval(5)
        XCTAssertNotNil(holder.waitForExit(timeout: 5))
        XCTAssertEqual(tracerPid(program.pid), 0)
    }

    func testPermissionDeniedNamesTheOtherUser() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to drop to nobody") }
        let program = try TestTarget("recurse", ["2"])
        let run = try runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                      VMScope.binary, "--pid", "\(program.pid)", "--batch"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("Not permitted to trace process \(program.pid): it belongs to user 0"), run.stderr)
    }

    func testAScriptErrorNamesFileAndLineAndLeavesTheTargetRunning() throws {
        let program = try TestTarget("signals")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vmscope-\(getpid())-script")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("lesson.vms")
        try "# a lesson\nregs rip\nx $rsp nonsense\necho never printed\n".write(to: script, atomically: true, encoding: .utf8)
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-x", script.path])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.hasPrefix("\(script.path):3: "), run.stderr)
        XCTAssertFalse(run.stdout.contains("never printed"))
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0")
    }

    func testSignalsToVMScopeDetachAndTheTargetRunsOn() throws {
        for signal in [SIGTERM, SIGHUP, SIGINT] {
            let program = try TestTarget("signals")
            let shell = try TestTarget(VMScope.binary, ["--pid", "\(program.pid)", "-ex", "echo ready"])
            XCTAssertEqual(tracerPid(program.pid), shell.pid)
            kill(shell.pid, signal)
            let status = try XCTUnwrap(shell.waitForExit(timeout: 5), "vmscope did not exit on \(signal)")
            XCTAssertEqual(TestTarget.terminatingSignal(status: status), signal, TestTarget.describe(status: status))
            XCTAssertEqual(tracerPid(program.pid), 0)
            XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
        }
    }

    func testLaunchedProgramStopsInTheLoaderAndIsKilledOnExit() throws {
        let run = try VMScope.json(["--batch", "-ex", "regs rip", "-ex", "maps", "--", TestTarget.path("recurse"), "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let started = try XCTUnwrap(run.lines.first?["result"] as? [String: Any])
        let pid = try XCTUnwrap(started["pid"] as? Int)
        let rip = try XCTUnwrap(hexValue((run.lines[1]["result"] as? [String: Any])?["rip"]))
        let maps = try XCTUnwrap((run.lines[2]["result"] as? [String: Any])?["maps"] as? [[String: Any]])
        let loader = maps.first { (hexValue($0["start"]) ?? 0) <= rip && rip < (hexValue($0["end"]) ?? 0) }
        XCTAssertTrue((loader?["path"] as? String)?.hasSuffix("ld-linux-x86-64.so.2") == true)
        XCTAssertEqual(maps.first.flatMap { hexValue($0["start"]) }, 0x5555_5555_4000, "ASLR is off by default")
        XCTAssertNil(TestTarget.state(of: pid_t(pid)), "the launched program is gone after the session")
    }
}
