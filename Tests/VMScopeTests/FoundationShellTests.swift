import Foundation
import XCTest
@testable import VMScopeCore
import VMScopeShell

/// Requirements of issue #2 that had code but no test (found by the audit):
/// the process commands at the shell, `help CMD` with a working example,
/// threads' JSON, the emergency detach on the fatal signals a Swift trap
/// raises, and reads of pages without read permission.
final class FoundationShellTests: XCTestCase {
    /// `attach PID` and `detach` typed in the shell: the process is stopped
    /// while attached and, after `detach`, runs on and answers.
    func testAttachAndDetachCommandsLetTheProcessRunOn() throws {
        let program = try TestTarget("signals")
        let run = try VMScope.json(["--batch", "-ex", "attach \(program.pid)", "-ex", "threads",
                                    "-ex", "detach", "-ex", "echo after"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let attached = try XCTUnwrap(run.lines.first?["result"] as? [String: Any])
        XCTAssertEqual(attached["pid"] as? Int, Int(program.pid))
        XCTAssertEqual(attached["launched"] as? Bool, false)
        let threads = try XCTUnwrap((run.lines[1]["result"] as? [String: Any])?["threads"] as? [[String: Any]])
        XCTAssertEqual(threads.compactMap { $0["tid"] as? Int }, [Int(program.pid)])
        XCTAssertEqual(run.lines[2]["command"] as? String, "detach")
        XCTAssertNil(run.lines[2]["error"], "\(run.lines[2])")
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
        // Once detached, a command that needs a process says so.
        let after = try VMScope.run(["--batch", "-ex", "attach \(program.pid)", "-ex", "detach", "-ex", "regs"])
        XCTAssertEqual(after.status, 1)
        XCTAssertTrue(after.stderr.contains("No process is attached"), after.stderr)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0")
    }

    /// `kill` ends an attached process with SIGKILL and a started one too.
    func testKillCommandEndsTheProcess() throws {
        let program = try TestTarget("recurse", ["2"])
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "kill"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("Killed process \(program.pid)."), run.stdout)
        let status = try XCTUnwrap(program.waitForExit(timeout: 5))
        XCTAssertEqual(TestTarget.terminatingSignal(status: status), SIGKILL, TestTarget.describe(status: status))
    }

    /// A started program is killed when vmscope leaves, unless `detach` was
    /// asked for: then it runs on, untraced, and outlives vmscope.
    func testAStartedProgramThatWasDetachedOutlivesVMScope() throws {
        let shell = try TestTarget(VMScope.binary, ["-ex", "detach", "-ex", "echo ready", "--", TestTarget.path("recurse"), "2"])
        let started = try XCTUnwrap(shell.startupLines.first { $0.hasPrefix("Started ") })
        let child = try XCTUnwrap(started.components(separatedBy: " as process ").last.flatMap { pid_t(String($0.prefix { $0.isNumber })) })
        defer { kill(child, SIGKILL) }
        // The program shares vmscope's output and prints its own `ready`: read
        // on until vmscope's sentence, whichever came first.
        var lines = shell.startupLines
        while !lines.contains(where: { $0.hasPrefix("Detached from process") }) { lines.append(try shell.readLine(timeout: 5)) }
        XCTAssertTrue(lines.contains("Detached from process \(child): it runs on."), "\(lines)")
        shell.closeStdin()
        XCTAssertEqual(shell.waitForExit(timeout: 5).flatMap(TestTarget.exitCode), 0)
        // It ran on to its park (pause), untraced.
        let deadline = Date().addingTimeInterval(5)
        while TestTarget.state(of: child) != "S" && Date() < deadline { usleep(1000) }
        XCTAssertEqual(TestTarget.state(of: child), "S")
        XCTAssertEqual(tracerPid(child), 0)
    }

    /// `make demo`'s script without a terminal: it runs examples/demo.vms on
    /// the attached demo program, exits 0 and leaves no demo process behind.
    func testTheDemoScriptWithoutATerminalRunsTheCommandFileAndExitsZero() throws {
        let run = try runCommand("/usr/bin/env", ["VMSCOPE=\(VMScope.binary)", "DEMO=\(TestTarget.path("demo"))",
                                                   "SCRIPT=\(TestTarget.packageRoot)/examples/demo.vms",
                                                   "/bin/sh", TestTarget.packageRoot + "/scripts/demo.sh"], stdin: "", timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("(demo): 3 threads, all stopped."), run.stdout)
        XCTAssertTrue(run.stdout.contains("--- the memory map ---"), run.stdout)
        let pidText = try XCTUnwrap(run.stdout.components(separatedBy: "Attached to process ").dropFirst().first?.prefix { $0.isNumber })
        let demo = try XCTUnwrap(pid_t(String(pidText)))
        let deadline = Date().addingTimeInterval(5)
        while let state = TestTarget.state(of: demo), state != "Z", Date() < deadline { usleep(1000) }
        XCTAssertTrue([nil, "Z"].contains(TestTarget.state(of: demo)), "the demo program is stopped with the script")
    }

    /// `set reg` at the shell writes the register; `regs NAME` reads it back;
    /// the example of `help set` is the one written here.
    func testSetRegWritesTheRegisterOfAStartedProgram() throws {
        let run = try VMScope.json(["--batch", "-ex", "regs rax", "-ex", "set reg rax 0x2a", "-ex", "regs rax",
                                    "-ex", "set reg al 0xff", "-ex", "regs rax", "-ex", "set on-error continue",
                                    "-ex", "set reg cs 0", "-ex", "set reg nosuch 1",
                                    "--", TestTarget.path("recurse"), "2"])
        XCTAssertEqual(run.status, 1, "the last line is an error")
        let before = try XCTUnwrap(hexValue((run.lines[1]["result"] as? [String: Any])?["rax"]))
        XCTAssertNotEqual(before, 0x2a)
        XCTAssertEqual(hexValue((run.lines[3]["result"] as? [String: Any])?["rax"]), 0x2a)
        XCTAssertEqual(hexValue((run.lines[5]["result"] as? [String: Any])?["rax"]), 0xff, "al is rax's low byte")
        XCTAssertTrue((run.lines[7]["error"] as? String ?? "").contains("'0' is not valid here: expected a value the kernel accepts for cs"), "\(run.lines)")
        XCTAssertTrue((run.lines[8]["error"] as? String ?? "").contains("There is no register named 'nosuch'"), "\(run.lines)")
    }

    /// `help CMD` gives the syntax, a description and an example, for every
    /// command of the table; and the examples really run.
    func testHelpOfEveryCommandHasSyntaxDescriptionAndAWorkingExample() throws {
        let commands = CommandTable.all.map { $0.spec }
        let help = try VMScope.run(["--batch"] + commands.flatMap { ["-ex", "help \($0.name)"] })
        XCTAssertEqual(help.status, 0, help.stderr)
        for spec in commands {
            XCTAssertTrue(help.stdout.contains(spec.usage), "help \(spec.name): no syntax")
            XCTAssertTrue(help.stdout.contains("Example: \(spec.example)"), "help \(spec.name): no example")
        }
        // Run each example that needs no particular pid, program or file, in
        // table order in one session (so `up` and `down` follow `frame 2`), on
        // a parked recursion. The ones left out change or end the process, or
        // name a pid or a file: tested on their own above.
        // Only the groups that look without touching: commands that run or
        // stop the process (execution control, when it comes) are left out.
        let skipped: Set<String> = ["attach", "run", "thread", "source", "kill", "quit", "set", "detach"]
        let looking: Set<CommandGroup> = [.inspect, .layout, .stack, .shell]
        let runnable = commands.filter { !skipped.contains($0.name) && (looking.contains($0.group) || $0.name == "threads") }
        XCTAssertGreaterThan(runnable.count, 15)
        let program = try TestTarget("recurse", ["3"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch"] + runnable.flatMap { ["-ex", $0.example] })
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.lines.count, runnable.count + 1, run.stderr)
        for (spec, line) in zip(runnable, run.lines.dropFirst()) {
            XCTAssertEqual(line["command"] as? String, spec.example)
            XCTAssertNotNil(line["result"], "example '\(spec.example)' of \(spec.name): \(line)")
        }
        XCTAssertEqual(tracerPid(program.pid), 0)
    }

    /// threads in JSON: tid, state, rip and rsp of every thread; each worker's
    /// rsp lies below the local it printed, in the same stack mapping.
    func testThreadsJSONGivesEveryThreadsRipAndRsp() throws {
        let program = try TestTarget("threads", ["2"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "threads", "-ex", "maps"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let threads = try XCTUnwrap((run.lines[1]["result"] as? [String: Any])?["threads"] as? [[String: Any]])
        let maps = try XCTUnwrap((run.lines[2]["result"] as? [String: Any])?["maps"] as? [[String: Any]])
        func mapping(_ address: UInt64) -> [String: Any]? {
            maps.first { (hexValue($0["start"]) ?? 1) <= address && address < (hexValue($0["end"]) ?? 0) }
        }
        var locals: [Int: UInt64] = [:]
        for line in program.startupLines {
            let f = program.fields(line)
            if let tid = (f["tid"] ?? f["main_tid"]).flatMap(Int.init), let local = f["local"].flatMap(program.parseHex) {
                locals[tid] = local
            }
        }
        XCTAssertEqual(Set(threads.compactMap { $0["tid"] as? Int }), Set(locals.keys))
        for thread in threads {
            let tid = try XCTUnwrap(thread["tid"] as? Int)
            let rip = try XCTUnwrap(hexValue(thread["rip"]), "\(thread)")
            let rsp = try XCTUnwrap(hexValue(thread["rsp"]), "\(thread)")
            XCTAssertNotNil(thread["state"] as? String)
            XCTAssertTrue((mapping(rip)?["perms"] as? String ?? "").contains("x"), "rip of \(tid) in code")
            let local = try XCTUnwrap(locals[tid])
            XCTAssertLessThan(rsp, local, "thread \(tid)")
            XCTAssertEqual(mapping(rsp).flatMap { hexValue($0["start"]) }, mapping(local).flatMap { hexValue($0["start"]) },
                           "thread \(tid): rsp and its local share one stack mapping")
        }
    }

    /// The fatal signals a Swift trap raises (SIGILL from ud2, SIGTRAP, SIGABRT,
    /// SIGSEGV): the emergency detach lets an attached process run on, kills
    /// a started one, and vmscope dies of the same signal.
    func testFatalSignalsToVMScopeDetachOrKillAndReRaise() throws {
        // No core files from the deliberate crashes (children inherit the limit).
        let core = __rlimit_resource_t(RLIMIT_CORE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(core, &saved), 0)
        var none = saved
        none.rlim_cur = 0
        XCTAssertEqual(setrlimit(core, &none), 0)
        defer { _ = setrlimit(core, &saved) }

        for signal in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV] {
            let program = try TestTarget("signals")
            let shell = try TestTarget(VMScope.binary, ["--pid", "\(program.pid)", "-ex", "regs rip", "-ex", "echo ready"])
            XCTAssertEqual(tracerPid(program.pid), shell.pid)
            kill(shell.pid, signal)
            let status = try XCTUnwrap(shell.waitForExit(timeout: 5), "vmscope did not exit on \(signal)")
            XCTAssertEqual(TestTarget.terminatingSignal(status: status), signal, TestTarget.describe(status: status))
            XCTAssertEqual(tracerPid(program.pid), 0, "signal \(signal)")
            XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "signal \(signal): it runs")
        }
        // A program vmscope started dies with it.
        let shell = try TestTarget(VMScope.binary, ["-ex", "echo ready", "--", TestTarget.path("recurse"), "2"])
        let started = try XCTUnwrap(shell.startupLines.first { $0.hasPrefix("Started ") })
        let pidText = try XCTUnwrap(started.components(separatedBy: " as process ").last?.prefix { $0.isNumber })
        let child = try XCTUnwrap(pid_t(pidText))
        XCTAssertEqual(tracerPid(child), shell.pid)
        kill(shell.pid, SIGILL)
        XCTAssertNotNil(shell.waitForExit(timeout: 5))
        let deadline = Date().addingTimeInterval(5)
        while TestTarget.state(of: child) != nil && Date() < deadline { usleep(1000) }
        XCTAssertNil(TestTarget.state(of: child), "the started program is killed, not left stopped")
    }

    /// Offsets typed with spaces, as in GDB (`x ADDR + 8 11`, `whereis $rsp - 8`),
    /// mean the same as without; the count after the expression stays a count.
    func testAddressExpressionsMayBeTypedWithSpaces() throws {
        let program = try TestTarget("recurse", ["2"])
        let string = try XCTUnwrap(program.fact("string"))
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "x \(string) + 8 11",
                                    "-ex", "whereis $rsp - 8", "-ex", "whereis $rsp-8", "-ex", "telescope $rsp +8 1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let bytes = try XCTUnwrap((run.lines[1]["result"] as? [String: Any])?["bytes"] as? String, "\(run.lines[1])")
        XCTAssertEqual(hexValue((run.lines[1]["result"] as? [String: Any])?["address"]), try XCTUnwrap(program.address("string")) + 8)
        XCTAssertEqual(bytes.replacingOccurrences(of: " ", with: ""), Array("test-string".utf8).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual((run.lines[2]["result"] as? [String: Any])?["address"] as? String,
                       (run.lines[3]["result"] as? [String: Any])?["address"] as? String)
        XCTAssertNotNil(run.lines[4]["result"], "\(run.lines[4])")
    }

    /// Commands piped on standard input run like a script named <stdin>
    /// (README): an error names <stdin>:LINE, stops, and the process runs on.
    func testCommandsOnStandardInputRunAsAScriptNamedStdin() throws {
        let program = try TestTarget("signals")
        let run = try VMScope.run(["--pid", "\(program.pid)"], stdin: "regs rip\nx $rsp nonsense\necho never printed\n")
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("rip "), run.stdout)
        XCTAssertTrue(run.stderr.hasPrefix("<stdin>:2: 'nonsense' is not a number"), run.stderr)
        XCTAssertFalse(run.stdout.contains("never printed"))
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
    }

    /// A program vmscope starts gets default signal dispositions and an
    /// empty mask, whatever vmscope inherited: here a shell makes vmscope
    /// ignore SIGUSR1 and SIGTERM (ignored signals survive execve), and the
    /// started program, stopped at its first instruction, ignores nothing.
    func testAStartedProgramGetsDefaultSignalDispositions() throws {
        let shell = try TestTarget("/bin/sh", ["-c", "trap '' USR1 TERM; exec \"$0\" -ex 'echo ready' -- \"$1\"",
                                               VMScope.binary, TestTarget.path("signals")])
        func mask(_ pid: pid_t, _ key: String) -> UInt64? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            return status.split(separator: "\n").first { $0.hasPrefix(key + ":") }
                .flatMap { UInt64($0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) }
        }
        let usr1Bit = UInt64(1) << UInt64(SIGUSR1 - 1)
        XCTAssertEqual(mask(shell.pid, "SigIgn").map { $0 & usr1Bit }, usr1Bit, "vmscope itself ignores SIGUSR1")
        let started = try XCTUnwrap(shell.startupLines.first { $0.hasPrefix("Started ") }, "\(shell.startupLines)")
        let child = try XCTUnwrap(started.components(separatedBy: " as process ").last.flatMap { pid_t(String($0.prefix { $0.isNumber })) })
        XCTAssertEqual(tracerPid(child), shell.pid)
        XCTAssertEqual(mask(shell.pid, "SigIgn").map { $0 >> 31 & 1 }, 0, "the test's own children do not inherit the runner's ignored signal 32")
        XCTAssertEqual(mask(child, "SigIgn"), 0, "the started program ignores no signal")
        XCTAssertEqual(mask(child, "SigBlk"), 0, "and blocks none")
        shell.closeStdin()
        XCTAssertNotNil(shell.waitForExit(timeout: 5))
        let deadline = Date().addingTimeInterval(5)
        while TestTarget.state(of: child) != nil && Date() < deadline { usleep(1000) }
        XCTAssertNil(TestTarget.state(of: child), "killed when vmscope leaves")
    }

    /// A page without read permission (a thread's ---p guard page) is read
    /// through /proc/PID/mem, and one read runs on from it into the readable
    /// stack above: the local the worker printed holds its index.
    func testAReadStartingInAPageWithoutReadPermissionFallsBackAndContinues() throws {
        let program = try TestTarget("threads", ["2"])
        let line = try XCTUnwrap(program.startupLines.first { $0.hasPrefix("thread index=1 ") })
        let local = try XCTUnwrap(program.fields(line)["local"].flatMap(program.parseHex))
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let maps = try target.maps()
        let stack = try XCTUnwrap(maps.first { $0.start <= local && local < $0.end })
        let guardPage = try XCTUnwrap(maps.first { $0.end == stack.start }, "no mapping right below the thread stack")
        XCTAssertEqual(guardPage.perms, "---p")
        let read = try target.read(guardPage.start, count: Int(local + 4 - guardPage.start))
        XCTAssertTrue(read.isComplete, "stopped at \(read.firstBadAddress.map { String($0, radix: 16) } ?? "-")")
        let guardBytes = read.bytes.prefix(Int(guardPage.end - guardPage.start))
        XCTAssertEqual(guardBytes.count, Int(guardPage.end - guardPage.start))
        XCTAssertTrue(guardBytes.allSatisfy { $0 == 0 }, "an untouched page reads as zeros")
        let value = read.bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        XCTAssertEqual(value, 1, "worker_park's local holds its index")
    }
}
