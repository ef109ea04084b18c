import Foundation
import XCTest
@testable import VMScopeCore

/// Issue #8, case 6b: text from the target (its name, mapping paths) can
/// hold ESC, BEL and newlines, and a file can be named to look deleted;
/// every byte that is not printable is escaped and lengths are capped. A
/// self-looping rbp chain in code without unwind info ends the walk fast.
final class ReliabilityHostileInputTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try Reliability.temporaryDirectory("hostile")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Control characters a terminal acts on: C0 other than newline, DEL, C1.
    private func controlCharacters(_ text: String) -> [UInt32] {
        text.unicodeScalars.map(\.value).filter { $0 < 0x20 && $0 != 0x0a || (0x7f...0x9f).contains($0) }
    }

    private static let commands = ["threads", "maps", "libs", "layout", "bt all", "stack", "regs",
                                   "whereis $rip", "explain threads", "auxv", "aslr", "brk", "telescope $rsp 8"]

    func testNothingTheTargetNamesReachesTheTerminalUnescaped() throws {
        let program = try TestTarget("hostile", [directory])
        let esc = try XCTUnwrap(program.fact("esc"))
        let steps = (Self.commands + ["whereis \(esc)", "x \(esc) 16"]).flatMap { ["-ex", $0] }
        let run = try VMScope.run(["--pid", String(program.pid), "--batch", "-ex", "set on-error continue"] + steps,
                                  timeout: 60)
        XCTAssertLessThan(run.status, 128, run.stderr)
        let output = run.stdout + run.stderr
        XCTAssertEqual(controlCharacters(output), [], "raw control bytes reached the terminal")
        XCTAssertTrue(output.contains("\\x1b[31m\\x07\\nevil"), "the name, escaped: \(output.prefix(300))")
        XCTAssertTrue(output.contains("esc\\x1b]0;pwned\\x07\\x1b[2J name"))
        XCTAssertTrue(output.contains("new\\012line file"))
        let longest = output.split(separator: "\n").map(\.count).max() ?? 0
        XCTAssertLessThan(longest, 2000, "a line of \(longest) characters: string lengths are not capped")
        XCTAssertEqual(Reliability.tracedThreads(program.pid), [])
    }

    func testJSONCarriesTheRawNameEscapedAsJSON() throws {
        let program = try TestTarget("hostile", [directory])
        let run = try VMScope.json(["--pid", String(program.pid), "--batch", "-ex", "threads", "-ex", "maps"], timeout: 30)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.lines.count, 3, "one JSON object a line (attach, threads, maps)")
        let attach = try XCTUnwrap(run.lines.first?["result"] as? [String: Any])
        XCTAssertEqual(attach["name"] as? String, "\u{1b}[31m\u{07}\nevil")
    }

    func testAFileNamedLikeADeletedOneIsNotTakenForDeleted() throws {
        let program = try TestTarget("hostile", [directory])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let maps = try target.maps()
        let lookalike = try XCTUnwrap(maps.first { $0.path.hasSuffix("/fake (deleted)") })
        XCTAssertFalse(lookalike.isDeleted, "the file exists under that very name")
        // Really deleted now: the kernel appends " (deleted)" to the name.
        XCTAssertEqual(unlink(directory + "/fake (deleted)"), 0)
        let again = try XCTUnwrap(try target.maps().first { $0.start == lookalike.start })
        XCTAssertEqual(again.path, directory + "/fake (deleted) (deleted)")
        XCTAssertTrue(again.isDeleted)
    }

    func testASelfLoopingFramePointerChainWithoutUnwindInfoEndsAtOnce() throws {
        let program = try TestTarget("hostile", [directory])
        let loop = try XCTUnwrap(program.fact("loop_tid").flatMap { Int32($0) })
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        var started = Reliability.now()
        let trace = try target.unwinder().backtrace(tid: loop)
        let unwindTime = Reliability.now() - started
        XCTAssertLessThan(unwindTime, 1)
        XCTAssertLessThan(trace.frames.count, 10, "\(trace.frames.map(\.ip))")
        XCTAssertNotEqual(trace.stop, .timeout)
        XCTAssertNotEqual(trace.stop, .maxFrames)
        XCTAssertNotEqual(trace.stop, .end, "the walk cannot honestly reach the end of this stack")
        // The rbp chain: the saved rbp is the frame's own address.
        started = Reliability.now()
        let walk = try target.framePointerWalk(tid: loop, maps: try target.maps(), memory: MemoryWindow(target: target))
        XCTAssertLessThan(Reliability.now() - started, 1)
        XCTAssertLessThan(walk.frames.count, 10)
        if case .notIncreasing = walk.stop {} else { XCTFail("rbp walk stopped with \(walk.stop)") }
        Reliability.report("self-looping-stack", ["frames": trace.frames.count, "stop": "\(trace.stop)".replacingOccurrences(of: " ", with: "_"),
                                                   "unwind_ms": Reliability.ms(unwindTime),
                                                   "rbp_frames": walk.frames.count])
    }

    /// The walker's other bounds: a frame cap and a time box, each named as
    /// the reason the walk stopped.
    func testTheWalkIsCappedInFramesAndTime() throws {
        let program = try TestTarget("recurse", ["10000"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        let capped = try unwinder.backtrace(maxFrames: 100)
        XCTAssertEqual(capped.frames.count, 100)
        XCTAssertEqual(capped.stop, .maxFrames)
        unwinder.flushAll()
        let boxed = try unwinder.backtrace(timeLimit: 0)
        XCTAssertEqual(boxed.stop, .timeout)
        XCTAssertLessThan(boxed.frames.count, 10005)
    }

    func testBtAllInTheShellSurvivesTheLoopingThread() throws {
        let program = try TestTarget("hostile", [directory])
        let run = try VMScope.run(["--pid", String(program.pid), "--batch", "-ex", "bt all", "-ex", "stack"], timeout: 20)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("noinfo_park"), run.stdout)
    }
}
