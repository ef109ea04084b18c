import Foundation
import XCTest
@testable import VMScopeShell

/// Issue #8, case 9 (command files with an error, a missing `source`, a
/// `source` loop, binary garbage: `FILE:LINE:` errors, no crash, target
/// detached) and the Security rules (root refuses a script others can
/// change; no shell escape; register writes are in the transcript; no
/// setuid bit or file capability).
final class ReliabilityScriptTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try Reliability.temporaryDirectory("scripts")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        try write(name, Data(text.utf8), mode: mode)
    }

    @discardableResult
    private func write(_ name: String, _ data: Data, mode: Int = 0o644) throws -> String {
        let path = directory + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
        return path
    }

    /// Runs vmscope on the `signals` target with `args`; checks it did not
    /// die and left the target running, untraced, with no signal lost.
    private func runAgainstTarget(_ args: [String], stdin: String? = nil)
        throws -> (status: Int32, stdout: String, stderr: String) {
        let program = try TestTarget("signals")
        let run = try VMScope.run(["--pid", String(program.pid)] + args, stdin: stdin, timeout: 30)
        XCTAssertLessThan(run.status, 128, "vmscope died of a signal: \(run.stderr)")
        XCTAssertEqual(tracerPid(program.pid), 0, "the target is still traced")
        XCTAssertEqual(Reliability.stoppedThreads(program.pid), [], "the target was left stopped")
        XCTAssertEqual(program.fields(try program.request("count"))["cont"], "0")
        return run
    }

    func testAnErrorOnALineIsReportedWithFileAndLine() throws {
        let script = try write("error.vms", "regs rip\nnot-a-command\nregs rsp\n")
        let run = try runAgainstTarget(["--batch", "-x", script])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr, "\(script):2: Unknown command 'not-a-command'; 'help' lists the commands.\n")
        XCTAssertFalse(run.stdout.contains("rsp"), "the script went on after its error")
    }

    func testAMissingSourceFileIsReportedWithFileAndLine() throws {
        let script = try write("missing.vms", "echo one\n# comment\nsource \(directory)/nowhere.vms\necho never\n")
        let run = try runAgainstTarget(["--batch", "-x", script])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr, "\(script):3: Cannot read '\(directory)/nowhere.vms': ENOENT (No such file or directory).\n")
        XCTAssertFalse(run.stdout.contains("never"))
    }

    func testASourceLoopEndsWithOneError() throws {
        let a = directory + "/a.vms", b = directory + "/b.vms"
        try write("a.vms", "echo in a\nsource \(b)\n")
        try write("b.vms", "source \(a)\n")
        let started = Reliability.now()
        let run = try runAgainstTarget(["--batch", "-x", a])
        XCTAssertLessThan(Reliability.now() - started, 10)
        XCTAssertEqual(run.status, 1)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("nests scripts more than 16 deep"), run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix(b + ":1: ") || run.stderr.hasPrefix(a + ":2: "), run.stderr)
    }

    func testBinaryGarbageGivesEscapedFileLineErrors() throws {
        var rng = ReliabilityFuzzTests.Generator(state: 0x9a7b_a9e)
        var garbage = Data((0..<4000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        garbage.append(contentsOf: Array("\necho survived\n".utf8))
        let script = try write("garbage.vms", garbage)
        let run = try runAgainstTarget(["--batch", "-ex", "set on-error continue", "-x", script])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("survived"))
        let lines = run.stderr.split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 0)
        for line in lines {
            XCTAssertTrue(line.hasPrefix(Substring(script + ":")), String(line))
            XCTAssertFalse(line.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) },
                           "raw control characters: \(line.debugDescription)")
        }
        // The same garbage piped on standard input.
        let piped = try runAgainstTarget(["-ex", "set on-error continue"],
                                         stdin: String(decoding: garbage, as: UTF8.self))
        XCTAssertTrue(piped.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("<stdin>:") }, piped.stderr)
        XCTAssertTrue(piped.stdout.contains("survived"))
    }

    // MARK: Security

    func testRootRefusesAScriptOthersCanChange() throws {
        try XCTSkipUnless(geteuid() == 0, "the rule applies to root; these tests run as user \(geteuid())")
        let open = try write("open.vms", "echo ran\n", mode: 0o666)
        var run = try runAgainstTarget(["--batch", "-x", open])
        XCTAssertEqual(run.status, 1)
        XCTAssertFalse(run.stdout.contains("ran"))
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("Refusing to run '\(open)' as root: it is writable by every user (mode 666)"),
                      run.stderr)
        // Sourced from a safe script: refused the same way, with its location.
        let outer = try write("outer.vms", "source \(open)\n")
        run = try runAgainstTarget(["--batch", "-x", outer])
        XCTAssertTrue(run.stderr.hasPrefix("\(outer):1: Refusing to run"), run.stderr)
        // Owned by another user.
        let theirs = try write("theirs.vms", "echo ran\n")
        XCTAssertEqual(chown(theirs, 65534, 65534), 0)
        run = try runAgainstTarget(["--batch", "-x", theirs])
        XCTAssertTrue(run.stderr.contains("it belongs to user 65534"), run.stderr)
        // Root's own and not writable by others: it runs.
        let safe = try write("safe.vms", "echo ran\n", mode: 0o644)
        run = try runAgainstTarget(["--batch", "-x", safe])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("ran"))
        XCTAssertEqual(ScriptSafety.unsafeReason(mode: 0o664, owner: 0, group: 0), nil)
        XCTAssertEqual(ScriptSafety.unsafeReason(mode: 0o664, owner: 0, group: 100), "it is writable by group 100 (mode 664)")
    }

    func testOutputFilesAreNeverWrittenThroughASymbolicLink() throws {
        let victim = try write("victim", "keep\n")
        for (link, args) in [("t.md", ["--transcript"]), ("l.svg", [])] {
            let path = directory + "/" + link
            XCTAssertEqual(symlink(victim, path), 0)
            let run = args.isEmpty
                ? try runAgainstTarget(["--batch", "-ex", "layout --svg \(path)"])
                : try runAgainstTarget(["--batch", "--transcript", path, "-ex", "echo hi"])
            XCTAssertEqual(run.status, 1, run.stderr)
            XCTAssertTrue(run.stderr.contains("ELOOP"), run.stderr)
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep\n", link)
        }
    }

    func testThereIsNoShellEscape() throws {
        for word in ["shell", "!", "sh", "system", "pipe", "|"] {
            XCTAssertFalse(CommandTable.names.contains(word), "'\(word)' is a command")
        }
        let run = try runAgainstTarget(["--batch", "-ex", "set on-error continue", "-ex", "shell touch \(directory)/pwned",
                                        "-ex", "!touch \(directory)/pwned"])
        XCTAssertEqual(run.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/pwned"))
    }

    func testRegisterWritesAreInTheTranscript() throws {
        let transcript = directory + "/session.md"
        let run = try runAgainstTarget(["--batch", "--transcript", transcript, "-ex", "set reg r15 0x1234",
                                        "-ex", "set reg r15 0"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let text = try String(contentsOfFile: transcript, encoding: .utf8)
        XCTAssertTrue(text.contains("(vmscope) set reg r15 0x1234"), text)
        XCTAssertTrue(text.contains("0x1234"), text)
        XCTAssertTrue(text.contains("(vmscope) set reg r15 0"), text)
    }

    func testTheExecutableHasNoSetuidBitAndNoFileCapabilities() throws {
        var info = stat()
        XCTAssertEqual(stat(VMScope.binary, &info), 0)
        XCTAssertEqual(info.st_mode & (S_ISUID | S_ISGID), 0)
        if access("/usr/sbin/getcap", X_OK) == 0 {
            let caps = try runCommand("/usr/sbin/getcap", [VMScope.binary], timeout: 10)
            XCTAssertEqual(caps.stdout, "", "file capabilities are set: \(caps.stdout)")
        }
    }
}
