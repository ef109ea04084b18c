import Foundation
import XCTest

/// Text from the target goes through sanitized() before it is printed
/// (issue #2's rule): a program whose name and path hold a terminal escape
/// cannot drive the user's terminal through any command's text or JSON.
/// Found untested by the audit.
final class SanitizedOutputTests: XCTestCase {
    func testAProgramNamedWithAnEscapeSequenceCannotReachTheTerminal() throws {
        let dir = NSTemporaryDirectory() + "vmscope-escape-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "ev\u{1B}[31mil\u{7}"
        let path = dir + "/" + name
        try FileManager.default.copyItem(atPath: TestTarget.path("threads"), toPath: path)
        let program = try TestTarget(path, ["1"])
        let commands = ["threads", "maps", "bt all", "stack", "telescope $rsp 8", "libs", "layout --full", "whereis $rip",
                        "frame 1", "explain threads"]
        for json in [false, true] {
            let run = try VMScope.run((json ? ["--json"] : []) + ["--pid", "\(program.pid)", "--batch"]
                                      + commands.flatMap { ["-ex", $0] })
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertFalse(run.stdout.contains("\u{1B}"), "a raw ESC reached the output (json: \(json))")
            XCTAssertFalse(run.stdout.contains("\u{7}"), "a raw BEL reached the output (json: \(json))")
            XCTAssertTrue(run.stdout.contains(json ? "ev\\\\x1b[31mil" : "ev\\x1b[31mil"), "the name is shown escaped (json: \(json))")
        }
    }
}
