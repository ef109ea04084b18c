import Foundation
import XCTest

/// Every teaching script in examples/ replays to its golden transcript,
/// byte for byte (issue #6). The scripts start their programs themselves
/// (ASLR off), run with --symbolic (stable names for ids and paths) and an
/// empty environment from the test programs' folder, so nothing in the
/// transcript varies from run to run.
///
/// `make golden` regenerates the golden files (VMSCOPE_UPDATE_GOLDEN=1)
/// when a change of output is intended; review the diff before committing.
final class ExampleTranscriptTests: XCTestCase {
    static var examples: String { TestTarget.packageRoot + "/examples" }
    static var updating: Bool { ProcessInfo.processInfo.environment["VMSCOPE_UPDATE_GOLDEN"] == "1" }

    /// The scripts, sorted; each has its golden file examples/golden/NAME.md.
    static func scripts() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: examples).filter { $0.hasSuffix(".vms") }.sorted()
    }

    /// Extra command-line words from a `# vmscope-args: ...` line (e.g. a
    /// program to start for a script that does not `run` one itself).
    static func extraArguments(_ script: String) throws -> [String] {
        let text = try String(contentsOfFile: examples + "/" + script, encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("# vmscope-args:") }) else { return [] }
        return line.dropFirst("# vmscope-args:".count).split(separator: " ").map(String.init)
    }

    /// The program a script looks at while it runs, from a
    /// `# vmscope-attach: PROGRAM ARGS...` line: vmscope cannot resume a
    /// process it started, so a parked stack, heap or thread is attached to.
    static func attachedProgram(_ script: String) throws -> [String]? {
        let text = try String(contentsOfFile: examples + "/" + script, encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("# vmscope-attach:") }) else { return nil }
        return line.dropFirst("# vmscope-attach:".count).split(separator: " ").map(String.init)
    }

    /// Lines a script wants the attached program to receive on its standard
    /// input before vmscope attaches (`# vmscope-send: sbrk 65536`), each
    /// answered by one line: how a program is made to allocate first.
    static func sentLines(_ script: String) throws -> [String] {
        let text = try String(contentsOfFile: examples + "/" + script, encoding: .utf8)
        return text.split(separator: "\n").filter { $0.hasPrefix("# vmscope-send:") }
            .map { $0.dropFirst("# vmscope-send:".count).trimmingCharacters(in: .whitespaces) }
    }

    /// Starts PROGRAM the way a replay needs it: from the test programs'
    /// folder, empty environment, 8 MiB stack limit and ASLR off
    /// (setarch -R sets ADDR_NO_RANDOMIZE, as vmscope's own launch does), so
    /// every address repeats; it prints `ready` once parked.
    static func startForReplay(_ program: [String]) throws -> TestTarget {
        try TestTarget("/bin/sh", ["-c", "ulimit -S -s 8192 2>/dev/null; cd \"$1\" && shift && exec env -i setarch x86_64 -R \"$@\"",
                                   "sh", TestTarget.directory] + program)
    }

    /// Runs one script the deterministic way; returns the transcript.
    static func replay(_ script: String) throws -> (transcript: String, status: Int32, stderr: String) {
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("vmscope-transcript-\(getpid())-\(UUID().uuidString).md").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var arguments = ["--batch", "--no-color", "--symbolic", "--transcript", out, "-x", examples + "/" + script]
            + (try extraArguments(script))
        // Kept alive (and stopped by deinit) until vmscope is done with it.
        let attached = try attachedProgram(script).map(startForReplay)
        if let attached {
            for line in try sentLines(script) { _ = try attached.request(line) }
            arguments += ["--pid", "\(attached.pid)"]
        }
        defer { attached?.terminate() }
        // RLIMIT_STACK places the mmap base (and an unlimited one switches to
        // the legacy bottom-up layout): fix it at the usual 8 MiB.
        let run = try runCommand("/bin/sh", ["-c", "ulimit -S -s 8192 2>/dev/null; cd \"$1\" && shift && exec env -i \"$@\"", "sh",
                                             TestTarget.directory, VMScope.binary] + arguments, timeout: 60)
        let transcript = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (transcript, run.status, run.stderr)
    }

    func testEveryExampleReplaysToItsGoldenTranscript() throws {
        let scripts = try Self.scripts()
        XCTAssertGreaterThanOrEqual(scripts.count, 3, "the teaching scripts are missing")
        for script in scripts {
            let name = String(script.dropLast(".vms".count))
            let golden = Self.examples + "/golden/" + name + ".md"
            let run = try Self.replay(script)
            XCTAssertEqual(run.status, 0, "\(script): \(run.stderr)")
            XCTAssertEqual(run.stderr, "", script)
            XCTAssertFalse(run.transcript.isEmpty, script)
            if Self.updating {
                try run.transcript.write(toFile: golden, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOfFile: golden, encoding: .utf8)
            if run.transcript != expected {
                let got = run.transcript.split(separator: "\n", omittingEmptySubsequences: false)
                let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
                let first = (0..<min(got.count, want.count)).first(where: { got[$0] != want[$0] }) ?? min(got.count, want.count)
                XCTFail("""
                    \(script) no longer replays to \(golden) (first difference at line \(first + 1));
                    run 'make golden' if the change is intended.
                    expected: \(first < want.count ? String(want[first]) : "<end>")
                    got:      \(first < got.count ? String(got[first]) : "<end>")
                    """)
            }
        }
    }

    func testTheTranscriptIsMarkdownWithOneBlockPerCommandAndIdsNamed() throws {
        let run = try Self.replay("address-space.vms")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.transcript.hasPrefix("```\n(vmscope) run ./recurse 2\nStarted ./recurse as process PID,"),
                      run.transcript)
        let fences = run.transcript.components(separatedBy: "```\n").count - 1
        XCTAssertEqual(fences, 2 * 5, "run and four explains, each one block:\n\(run.transcript)")
        XCTAssertFalse(run.transcript.contains(TestTarget.directory), "no absolute build path")
    }
}
