import Foundation
import XCTest
@testable import VMScopeShell
import VMScopeCore

/// Command files, -ex, --json, --transcript and explain, through the real
/// executable against real processes (issue #6).
final class ShellScriptTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vmscope-scripts-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Runs vmscope in the scripts' folder, so locations read `name:LINE:`.
    func vmscope(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runCommand("/bin/sh", ["-c", "cd \"$1\" && shift && exec \"$@\"", "sh", folder.path, VMScope.binary] + arguments)
    }

    func testAnErrorOnLineThreeReportsNameAndLineAndLeavesTheTargetRunning() throws {
        let program = try TestTarget("signals")
        try write("lesson.vms", "# line 1: a comment\necho line two ran\nregs no_such_register\necho line four never runs\n")
        let run = try vmscope(["--pid", "\(program.pid)", "--batch", "-x", "lesson.vms"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.hasPrefix("lesson.vms:3: There is no register named 'no_such_register'; "), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        XCTAssertEqual(run.stdout, "Attached to process \(program.pid) (signals): 1 thread, all stopped.\nline two ran\n")
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
    }

    func testOnErrorContinueRunsEveryLineAndStillExitsOne() throws {
        let program = try TestTarget("signals")
        try write("lenient.vms", "set on-error continue\nfrobnicate\necho after the first error\nx 0 8\necho the end\n")
        let run = try vmscope(["--pid", "\(program.pid)", "--batch", "-x", "lenient.vms"])
        XCTAssertEqual(run.status, 1)
        let errors = run.stderr.split(separator: "\n")
        XCTAssertEqual(errors.count, 2, run.stderr)
        XCTAssertTrue(errors.first?.hasPrefix("lenient.vms:2: Unknown command 'frobnicate'") == true, run.stderr)
        XCTAssertTrue(errors.last?.hasPrefix("lenient.vms:4: Address 0x0 is not mapped") == true, run.stderr)
        XCTAssertTrue(run.stdout.hasSuffix("after the first error\nthe end\n"), run.stdout)
        XCTAssertEqual(tracerPid(program.pid), 0)
    }

    func testANestedScriptErrorNamesTheInnerFileAndStopsTheOuterOne() throws {
        let program = try TestTarget("signals")
        try write("inner.vms", "echo inner starts\nx nonsense\necho inner never ends\n")
        try write("outer.vms", "echo outer starts\nsource inner.vms\necho outer never ends\n")
        let run = try vmscope(["--pid", "\(program.pid)", "--batch", "-x", "outer.vms", "-ex", "echo not reached"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.hasPrefix("inner.vms:2: "), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "reported once, not again by outer.vms")
        XCTAssertTrue(run.stdout.hasSuffix("outer starts\ninner starts\n"), run.stdout)
    }

    func testJSONGivesOneObjectALineWithTheCommandAndItsResultOrError() throws {
        let program = try TestTarget("signals")
        try write("mixed.vms", "set on-error continue\necho hello\nregs rip\nfrobnicate\nexplain canonical\n")
        let run = try vmscope(["--json", "--pid", "\(program.pid)", "--batch", "-x", "mixed.vms"])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr, "", "errors are JSON lines on stdout too")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let objects = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0) }
        XCTAssertEqual(objects.map { $0["command"] as? String },
                       ["attach \(program.pid)", "set on-error continue", "echo hello", "regs rip", "frobnicate", "explain canonical"])
        for object in objects {
            XCTAssertTrue((object["result"] == nil) != (object["error"] == nil), "\(object)")
        }
        XCTAssertEqual((objects[2]["result"] as? [String: Any])?["echo"] as? String, "hello")
        XCTAssertNotNil(hexValue((objects[3]["result"] as? [String: Any])?["rip"]))
        XCTAssertEqual(objects[4]["location"] as? String, "mixed.vms:4")
        XCTAssertTrue((objects[4]["error"] as? String)?.hasPrefix("Unknown command 'frobnicate'") == true)
        let explain = try XCTUnwrap(objects[5]["result"] as? [String: Any])
        XCTAssertEqual(explain["topic"] as? String, "canonical")
        XCTAssertEqual((explain["facts"] as? [String: Any])?["virtual_bits"] as? Int, 48)
    }

    func testSymbolicJSONStaysValidJSONWithNumericIds() throws {
        let run = try VMScope.json(["--symbolic", "--batch", "-ex", "threads", "-ex", "thread 1", "--", TestTarget.path("recurse"), "2"])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.lines.count, 3, "every line parses")
        let pid = try XCTUnwrap((run.lines[0]["result"] as? [String: Any])?["pid"] as? Int)
        let threads = try XCTUnwrap((run.lines[1]["result"] as? [String: Any])?["threads"] as? [[String: Any]])
        XCTAssertEqual(threads.first?["tid"] as? Int, pid)
    }

    func testTranscriptIsMarkdownWithEachCommandItsOutputAndErrors() throws {
        let program = try TestTarget("signals")
        try write("handout.vms", "set on-error continue\necho The registers:\nregs rip\nx 0 8\n")
        let run = try vmscope(["--pid", "\(program.pid)", "--batch", "--no-color", "--transcript", "out.md", "-x", "handout.vms"])
        XCTAssertEqual(run.status, 1)
        let markdown = try String(contentsOf: folder.appendingPathComponent("out.md"), encoding: .utf8)
        let ripLine = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("rip ") })
        XCTAssertEqual(markdown, """
            ```
            (vmscope) attach \(program.pid)
            Attached to process \(program.pid) (signals): 1 thread, all stopped.
            ```

            ```
            (vmscope) set on-error continue
            on-error is continue.
            ```

            The registers:

            ```
            (vmscope) regs rip
            \(ripLine)
            ```

            ```
            (vmscope) x 0 8
            handout.vms:4: Address 0x0 is not mapped in the target (see 'maps').
            ```


            """)
    }

    func testTranscriptHasNoColourEvenWhenTheOutputHas() throws {
        let program = try TestTarget("signals")
        let run = try vmscope(["--pid", "\(program.pid)", "--batch", "--transcript", "colour.md", "-ex", "set color on", "-ex", "regs rip"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("\u{1B}["), "the output is painted")
        let markdown = try String(contentsOf: folder.appendingPathComponent("colour.md"), encoding: .utf8)
        XCTAssertFalse(markdown.contains("\u{1B}"), markdown)
        XCTAssertTrue(markdown.contains("(vmscope) regs rip\nrip  0x"), markdown)
    }

    func testStableNamesReplaceWholeIdsOnlyAndTheWorkingDirectory() throws {
        let program = try TestTarget("threads", ["1"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        var names = StableNames()
        names.enabled = true
        names.learn(target)
        let pid = program.pid
        let worker = try XCTUnwrap(target.threadIDs.first { $0 != pid })
        XCTAssertEqual(names.apply("process \(pid), thread \(worker)."), "process PID, thread TID1.")
        XCTAssertEqual(names.apply("0x\(pid) x\(pid) \(pid)0 $\(pid) a\(pid)"), "0x\(pid) x\(pid) \(pid)0 $\(pid) a\(pid)",
                       "digits inside hex, names and longer numbers stay")
        XCTAssertEqual(names.style(.plain).id(worker), "TID1", "table cells use the same names")
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertEqual(names.apply("Started \(cwd)/prog as process \(pid)"), "Started ./prog as process PID")
        names.enabled = false
        XCTAssertEqual(names.apply("process \(pid)"), "process \(pid)", "off without --symbolic")
    }

    func testTranscriptFenceOutgrowsBackticksInTheOutput() {
        let block = Transcript.block(command: "echo ```", output: "```")
        XCTAssertEqual(block, "````\n(vmscope) echo ```\n```\n````\n\n")
    }

    func testExplainQuotesTheProcessOwnNumbers() throws {
        let program = try TestTarget("heapgrow")
        _ = try program.request("sbrk 65536")
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "explain stack", "-ex", "explain heap",
                                    "-ex", "explain brk", "-ex", "explain red zone"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let facts = run.lines.dropFirst().map { ($0["result"] as? [String: Any])?["facts"] as? [String: Any] ?? [:] }
        XCTAssertEqual(facts.count, 4)
        let maps = try procMapsLines(program.pid)
        func range(of name: String) throws -> (UInt64, UInt64) {
            let line = try XCTUnwrap(maps.first { $0.hasSuffix(" " + name) }, name)
            let bounds = line.split(separator: " ")[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            return (bounds[0], bounds[1])
        }
        let stack = try range(of: "[stack]")
        XCTAssertEqual(hexValue(facts[0]["stack_start"]), stack.0)
        XCTAssertEqual(hexValue(facts[0]["stack_end"]), stack.1)
        let heap = try range(of: "[heap]")
        XCTAssertEqual(hexValue(facts[1]["heap_start"]), heap.0)
        XCTAssertEqual(hexValue(facts[1]["heap_end"]), heap.1)
        let stat = try String(contentsOfFile: "/proc/\(program.pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
        XCTAssertEqual(hexValue(facts[1]["start_brk"]), UInt64(fields[47 - 3]), "field 47 of /proc/PID/stat")
        XCTAssertEqual(hexValue(facts[2]["start_brk"]), program.address("sbrk0"), "the break the program saw first")
        let rsp = try XCTUnwrap(hexValue(facts[3]["rsp"]))
        XCTAssertEqual(hexValue(facts[3]["red_zone_start"]), rsp - 128)
        XCTAssertTrue(stack.0 <= rsp && rsp < stack.1)
    }

    func testExplainDataAndThreadsPlaceTheProgramsOwnVariablesAndStacks() throws {
        let program = try TestTarget("demo")
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "explain data", "-ex", "explain threads"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let data = try XCTUnwrap((run.lines[1]["result"] as? [String: Any])?["facts"] as? [String: Any])
        let global = try XCTUnwrap(program.address("global"))
        let bss = try XCTUnwrap(program.address("bss"))
        let dataStart = try XCTUnwrap(hexValue(data["data_start"]))
        let bssStart = try XCTUnwrap(hexValue(data["bss_start"]))
        let bssEnd = try XCTUnwrap(hexValue(data["bss_end"]))
        XCTAssertTrue(dataStart <= global && global < bssStart, "demo_global lies in .data")
        XCTAssertTrue(bssStart <= bss && bss + 4096 <= bssEnd, "demo_bss[4096] lies in .bss")
        let threads = try XCTUnwrap((run.lines[2]["result"] as? [String: Any])?["facts"] as? [String: Any])
        XCTAssertEqual(threads.keys.filter { $0.hasPrefix("rsp") }.count, 3, "the main thread and two workers")
        let text = try XCTUnwrap((run.lines[2]["result"] as? [String: Any])?["text"] as? String)
        XCTAssertEqual(text.components(separatedBy: "in an anonymous mapping").count - 1, 2, text)
        XCTAssertTrue(text.contains("Thread \(program.pid): rsp "), text)
    }

    func testExplainWithoutAProcessTeachesAndAnUnknownTopicListsTheTopics() throws {
        let run = try VMScope.run(["--batch", "-ex", "explain pie", "-ex", "explain nonsense"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.hasPrefix("PIE and non-PIE executables\n"), run.stdout)
        XCTAssertTrue(run.stdout.contains("Attach a process"), run.stdout)
        XCTAssertTrue(run.stderr.hasPrefix("error: There is no topic 'nonsense'; the topics are stack, heap, brk"), run.stderr)
    }

    func testUniquePrefixesOfNamesAndAliasesFindTheirCommand() throws {
        for command in CommandTable.all {
            for word in [command.spec.name] + command.spec.aliases where !word.contains(" ") {
                XCTAssertTrue(try CommandTable.lookup(word) == command, word)
            }
        }
        XCTAssertTrue(try CommandTable.lookup("regi") == RegsCommand.self, "a prefix of the alias 'registers'")
        XCTAssertTrue(try CommandTable.lookup("expl") == ExplainCommand.self)
        if let bt = CommandTable.all.first(where: { $0.spec.aliases.contains("backtrace") }) {
            XCTAssertTrue(try CommandTable.lookup("bac") == bt, "bac = backtrace")
        }
        XCTAssertThrowsError(try CommandTable.lookup("e")) { error in
            guard case ShellError.ambiguousCommand(_, let candidates)? = error as? ShellError else { return XCTFail("\(error)") }
            XCTAssertTrue(candidates.contains("echo") && candidates.contains("explain"), "\(candidates)")
        }
    }

    func testDocsJSONHasASchemaForEveryCommand() throws {
        let doc = try String(contentsOfFile: TestTarget.packageRoot + "/docs/json.md", encoding: .utf8)
        let sections = Set(doc.split(separator: "\n").filter { $0.hasPrefix("### ") }.map { String($0.dropFirst(4)) })
        let missing = CommandTable.all.map { $0.spec.name }.filter { !sections.contains($0) }
        XCTAssertEqual(missing, [], "docs/json.md needs a '### NAME' section with the JSON schema of each command")
    }

    func testSymbolCompletionOffersTheTargetsOwnFunctionNames() throws {
        let program = try TestTarget("recurse", ["2"])
        let session = Session(settings: Session.Settings(), output: DiscardOutput())
        session.target = try Target.attach(pid: program.pid)
        defer { session.release() }
        let names = Set(Interactive.symbolNames(session))
        XCTAssertTrue(names.contains("main") && names.contains("recurse"), "the executable's own functions")
        XCTAssertTrue(names.contains("printf"), "libc's, from the loaded library")
        if let command = CommandTable.all.first(where: { spec in
            spec.spec.arguments.contains { if case .symbol = $0 { return true }; return false } }) {
            guard case .words(let words) = Interactive.completion(before: command.spec.name + " ", session: session)
            else { return XCTFail("symbols expected for \(command.spec.name)") }
            XCTAssertTrue(words.contains("recurse"))
        }
    }

    func testCompletionFollowsTheCommandTable() {
        func words(_ before: String) -> [String] {
            guard case .words(let list) = Interactive.completion(before: before, session: nil) else { return [] }
            return list
        }
        XCTAssertTrue(words("").contains("explain"))
        XCTAssertTrue(words("").contains("regs"))
        XCTAssertTrue(words("regs ").contains("rip"))
        XCTAssertTrue(words("regs ").contains("$rsp"))
        XCTAssertTrue(words("explain ").contains("redzone"))
        XCTAssertTrue(words("set ").contains("on-error"))
        XCTAssertTrue(words("help ").contains("quit"))
        XCTAssertTrue(words("info ").contains("registers"), "the second words of two-word aliases")
        XCTAssertTrue(words("i r ").contains("rflags"), "arguments after a two-word alias")
        XCTAssertEqual(Interactive.completion(before: "source ", session: nil), .file)
        XCTAssertEqual(Interactive.completion(before: "run ", session: nil), .file)
        XCTAssertEqual(words("frobnicate "), [])
    }
}

/// Results go nowhere: the in-process tests look at return values.
final class DiscardOutput: OutputSink {
    func write(_ text: String) {}
    func writeError(_ text: String) {}
}
