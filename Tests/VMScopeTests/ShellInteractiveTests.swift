import Foundation
import XCTest
@testable import VMScopeShell

/// The real interactive shell driven through a pseudo-terminal (tmux), the
/// way a person uses it (issue #6): completion, history across sessions,
/// Ctrl-C at the prompt, Ctrl-D detaching cleanly.
final class ShellInteractiveTests: XCTestCase {
    /// One tmux server of our own (its own socket), one pane running vmscope.
    final class Terminal {
        let socket = "vmscope-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmux: String

        init(_ arguments: [String], environment: [String: String]) throws {
            guard let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first(where: FileManager.default.isExecutableFile)
            else { throw XCTSkip("tmux is not installed") }
            self.tmux = tmux
            let exports = environment.map { "\($0.key)=\(Terminal.quote($0.value))" }.joined(separator: " ")
            // The pane stays after vmscope exits, so its last words can be read.
            // NO_COLOR from the test runner's own environment must not leak in.
            let command = "env -u NO_COLOR \(exports) \(([VMScope.binary] + arguments).map(Terminal.quote).joined(separator: " "))"
                + "; echo \"[vmscope exited $?]\"; sleep 60"
            try run(["new-session", "-d", "-s", "t", "-x", "160", "-y", "50", command])
        }

        deinit { _ = try? runCommand(tmux, ["-L", socket, "kill-server"]) }

        static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            let result = try runCommand(tmux, ["-L", socket] + arguments, timeout: 10)
            guard result.status == 0 else { throw TestTargetError("tmux \(arguments): \(result.stderr)") }
            return result.stdout
        }

        /// Keys as tmux names them ("Tab", "C-c", "Enter") or literal text.
        func keys(_ keys: String...) throws { try run(["send-keys", "-t", "t"] + keys) }
        func type(_ text: String) throws { try run(["send-keys", "-t", "t", "-l", text]) }

        var screen: String { (try? run(["capture-pane", "-p", "-t", "t", "-S", "-200"])) ?? "" }
        /// The screen with its colour escapes.
        var colouredScreen: String { (try? run(["capture-pane", "-p", "-e", "-t", "t", "-S", "-200"])) ?? "" }

        /// Waits until the screen satisfies `condition`; returns the screen.
        @discardableResult
        func wait(timeout: Double = 10, _ what: String, until condition: (String) -> Bool) throws -> String {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let text = screen
                if condition(text) { return text }
                usleep(50_000)
            }
            throw TestTargetError("timed out waiting for \(what); the screen:\n\(screen)")
        }

        @discardableResult
        func wait(for text: String, count: Int = 1, timeout: Double = 10) throws -> String {
            try wait(timeout: timeout, "'\(text)' x\(count)") { $0.components(separatedBy: text).count - 1 >= count }
        }

        /// Lines with something on them (tmux trims trailing blanks).
        var lines: [String] {
            screen.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }

        /// The last prompt line on the screen, as tmux shows it (no trailing blanks).
        var promptLine: String {
            screen.split(separator: "\n").last(where: { $0.hasPrefix("(vmscope)") }).map(String.init) ?? ""
        }
    }

    var stateHome: URL!

    override func setUpWithError() throws {
        stateHome = FileManager.default.temporaryDirectory.appendingPathComponent("vmscope-state-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: stateHome, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: stateHome)
    }

    func shell(_ arguments: [String]) throws -> Terminal {
        let terminal = try Terminal(arguments, environment: ["XDG_STATE_HOME": stateHome.path, "TERM": "xterm"])
        try terminal.wait(for: "(vmscope)")
        return terminal
    }

    func testTabCompletesCommandNamesRegistersAndKeywords() throws {
        let program = try TestTarget("signals")
        let terminal = try shell(["--pid", "\(program.pid)"])
        // The issue's own example: `ba<TAB>` gives `backtrace` (bt's alias).
        XCTAssertTrue(CommandTable.names.contains("backtrace"))
        let (prefix, expected) = ("ba", "backtrace")
        try terminal.type(prefix)
        try terminal.keys("Tab")
        try terminal.wait("\(prefix)<TAB> -> \(expected)") { _ in terminal.promptLine == "(vmscope) \(expected)" }
        try terminal.keys("C-u")
        try terminal.type("regs rfl")
        try terminal.keys("Tab")
        try terminal.wait("register completion") { _ in terminal.promptLine == "(vmscope) regs rflags" }
        try terminal.keys("C-u")
        try terminal.type("set on-e")
        try terminal.keys("Tab")
        try terminal.wait("keyword completion") { _ in terminal.promptLine == "(vmscope) set on-error" }
        try terminal.keys("C-u")
        try terminal.type("help thread")
        try terminal.keys("Tab", "Tab")  // ambiguous: thread, threads; the second Tab lists both
        let screen = try terminal.wait("the list of candidates") { $0.contains("thread ") && $0.contains("threads") }
        XCTAssertTrue(screen.contains("threads"), screen)
    }

    func testHistoryIsKeptAcrossSessionsAndRecalledWithUpAndCtrlR() throws {
        let program = try TestTarget("signals")
        do {
            let first = try shell(["--pid", "\(program.pid)"])
            try first.type("echo from the first session")
            try first.keys("Enter")
            try first.wait(for: "\nfrom the first session")
            try first.keys("C-d")
            try first.wait(for: "[vmscope exited 0]")
        }
        let file = stateHome.appendingPathComponent("vmscope/history")
        let saved = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(saved.contains("echo from the first session"), saved)

        let second = try shell(["--pid", "\(program.pid)"])
        try second.keys("Up")
        try second.wait("Up recalls the last session's line") { _ in
            second.promptLine == "(vmscope) echo from the first session"
        }
        try second.keys("Enter")
        try second.wait(for: "\nfrom the first session")
        try second.keys("C-r")
        try second.type("first")
        try second.wait(for: "`first': echo from the first session")
        try second.keys("Enter")
        try second.wait(for: "\nfrom the first session", count: 2)
    }

    func testCtrlCClearsTheLineAndKeepsTheSessionAndCtrlDDetaches() throws {
        let program = try TestTarget("signals")
        let terminal = try shell(["--pid", "\(program.pid)"])
        let tracer = try XCTUnwrap(tracerPid(program.pid))
        XCTAssertNotEqual(tracer, 0)
        try terminal.type("regs rip")
        try terminal.keys("C-c")
        try terminal.wait(for: "regs rip^C")
        try terminal.type("echo still here")
        try terminal.keys("Enter")
        let screen = try terminal.wait(for: "\nstill here")
        XCTAssertFalse(screen.contains("\nrip "), "the interrupted line must not run:\n\(screen)")
        XCTAssertTrue(screen.contains("(vmscope) echo still here"), "a fresh, empty prompt:\n\(screen)")
        XCTAssertEqual(tracerPid(program.pid), tracer, "still attached after Ctrl-C")
        // Ctrl-C also ends a Ctrl-R search without running what it found.
        try terminal.keys("C-r")
        try terminal.type("still")
        try terminal.wait(for: "`still': echo still here")
        try terminal.keys("C-c")
        try terminal.wait(for: "(vmscope) echo still here^C")
        try terminal.type("echo done")
        try terminal.keys("Enter")
        let after = try terminal.wait(for: "\ndone")
        XCTAssertEqual(after.components(separatedBy: "\nstill here").count - 1, 1, after)

        try terminal.keys("C-d")
        try terminal.wait(for: "[vmscope exited 0]")
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
    }

    func testColourOnATerminalButNotWithNoColorOrThroughAPipe() throws {
        let program = try TestTarget("signals")
        func legendIsPainted(_ arguments: [String], environment: [String: String] = [:]) throws -> Bool {
            let terminal = try Terminal(arguments, environment: ["XDG_STATE_HOME": stateHome.path, "TERM": "xterm"]
                .merging(environment) { $1 })
            try terminal.wait(for: "(vmscope)")
            try terminal.type("help")
            try terminal.keys("Enter")
            try terminal.wait(for: "Legend", count: 1, timeout: 10)
            return terminal.colouredScreen.contains("\u{1B}[31mcode")
        }
        XCTAssertTrue(try legendIsPainted(["--pid", "\(program.pid)"]), "a terminal gets colour")
        // Without colour the legend is not printed at all; wait for the prompt after help instead.
        for (arguments, environment) in [(["--no-color"], [:]), ([], ["NO_COLOR": "1"])] {
            let terminal = try Terminal(["--pid", "\(program.pid)"] + arguments,
                                        environment: ["XDG_STATE_HOME": stateHome.path, "TERM": "xterm"].merging(environment) { $1 })
            try terminal.wait(for: "(vmscope)")
            try terminal.type("help")
            try terminal.keys("Enter")
            try terminal.wait(for: "(vmscope)", count: 2)
            XCTAssertFalse(terminal.colouredScreen.contains("\u{1B}[31m"), "\(arguments) \(environment)")
        }
        // The terminals' vmscope detaches when its tmux session goes (SIGHUP):
        // wait for that, or this attach would find the process still traced.
        let deadline = Date().addingTimeInterval(10)
        while tracerPid(program.pid) != 0 && Date() < deadline { usleep(2000) }
        let piped = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "set color on", "-ex", "help"])
        XCTAssertTrue(piped.stdout.contains("\u{1B}[31mcode"), "set color on forces it: \(piped.stderr)")
        let plain = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "help", "-ex", "maps"])
        XCTAssertFalse(plain.stdout.contains("\u{1B}"), "a pipe gets no colour")
    }

    func testAnEmptyLineRepeatsOnlyAStepCommand() throws {
        // The repeat is decided from the command table; echo never repeats.
        let program = try TestTarget("signals")
        let terminal = try shell(["--pid", "\(program.pid)"])
        try terminal.type("echo once")
        try terminal.keys("Enter")
        try terminal.wait(for: "\nonce")
        try terminal.keys("Enter")
        try terminal.wait(for: "(vmscope)", count: 3)
        XCTAssertEqual(terminal.screen.components(separatedBy: "\nonce").count - 1, 1, terminal.screen)
    }

    func testAnEmptyLineRepeatsStepi() throws {
        let terminal = try shell(["--", TestTarget.path("recurse-nopie"), "3"])
        try terminal.type("break recurse")
        try terminal.keys("Enter")
        try terminal.type("continue")
        try terminal.keys("Enter")
        try terminal.wait(for: "=> 0x")
        // recurse opens with push rbp (1 byte) then mov rbp, rsp (3 bytes).
        try terminal.type("stepi")
        try terminal.keys("Enter")
        try terminal.wait(for: "<recurse+0x1>")
        try terminal.keys("Enter")
        // Only the empty line can have run the second stepi.
        try terminal.wait(for: "<recurse+0x4>")
        try terminal.keys("C-d")
        try terminal.wait(for: "[vmscope exited 0]")
    }

    func testCtrlCWhileTheTargetRunsInterruptsItAndReturnsToThePrompt() throws {
        let program = try TestTarget("signals")
        let terminal = try shell(["--pid", "\(program.pid)"])
        try terminal.type("continue")
        try terminal.keys("Enter")
        usleep(300_000)
        try terminal.keys("C-c")
        try terminal.wait(for: "Interrupted")
        try terminal.wait(for: "(vmscope)", count: 2)
        try terminal.type("echo still attached")
        try terminal.keys("Enter")
        try terminal.wait(for: "\nstill attached")
        XCTAssertNotEqual(tracerPid(program.pid), 0)
        try terminal.keys("C-d")
        try terminal.wait(for: "[vmscope exited 0]")
        XCTAssertEqual(tracerPid(program.pid), 0)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "it answers: it runs")
    }
}
