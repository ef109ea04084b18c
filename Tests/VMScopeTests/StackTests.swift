import Foundation
import XCTest
@testable import VMScopeCore

/// bt, frame/up/down, stack and telescope through the real executable,
/// against the frame addresses the targets print about themselves.
final class StackTests: XCTestCase {
    private func result(_ line: [String: Any]) throws -> [String: Any] {
        try XCTUnwrap(line["result"] as? [String: Any], "\(line)")
    }

    /// depth -> (fp, local) from "frame depth=D fp= local=" lines.
    private func recorded(_ program: TestTarget) -> [Int: (fp: UInt64, local: UInt64)] {
        var result: [Int: (UInt64, UInt64)] = [:]
        for line in program.startupLines where line.hasPrefix("frame ") {
            let f = program.fields(line)
            if let depth = f["depth"].flatMap({ Int($0) }), let fp = f["fp"].flatMap(program.parseHex),
               let local = f["local"].flatMap(program.parseHex) { result[depth] = (fp, local) }
        }
        return result
    }

    func testBacktraceJSONMatchesTheTargetsOwnRecord() throws {
        let program = try TestTarget("recurse", ["6"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "bt", "-ex", "bt -n 3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let bt = try result(run.lines[1])
        XCTAssertEqual(bt["tid"] as? Int, Int(program.pid))
        let frames = try XCTUnwrap(bt["frames"] as? [[String: Any]])
        XCTAssertEqual(frames.map { $0["index"] as? Int }, Array(0..<frames.count).map { $0 })
        let recurseFrames = frames.filter { $0["function"] as? String == "recurse" }
        XCTAssertEqual(recurseFrames.count, 6)
        let record = recorded(program)
        for (offset, frame) in recurseFrames.enumerated() {
            let depth = 6 - offset
            let cfa = try XCTUnwrap(hexValue(frame["cfa"]))
            XCTAssertEqual(cfa - 16, record[depth]?.fp, "depth \(depth)")
            XCTAssertEqual(frame["module"] as? String, "recurse")
        }
        let cfas = frames.compactMap { hexValue($0["cfa"]) }
        XCTAssertEqual(cfas.count, frames.count - 1)
        XCTAssertTrue(zip(cfas, cfas.dropFirst()).allSatisfy { $0 < $1 }, "CFAs increase from frame 0 outward")
        let names = frames.compactMap { $0["function"] as? String }
        XCTAssertTrue(names.contains("__libc_start_call_main"), "\(names)")
        XCTAssertEqual(names.last, "_start")
        XCTAssertEqual(bt["stop"] as? String, "end")
        let limited = try result(run.lines[2])
        XCTAssertEqual((limited["frames"] as? [Any])?.count, 3)
        XCTAssertEqual(limited["stop"] as? String, "max_frames")
    }

    /// File:line from the target's own DWARF (built with -g), and from
    /// libc's installed debug file with -s.
    func testBacktraceSourceLines() throws {
        let program = try TestTarget("recurse", ["3"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "bt", "-ex", "bt -s -n 1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let source = try String(contentsOfFile: TestTarget.packageRoot + "/TestTargets/recurse.c", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        func line(containing text: String) -> Int? { source.firstIndex { $0.contains(text) }.map { $0 + 1 } }
        let frames = try XCTUnwrap(try result(run.lines[1])["frames"] as? [[String: Any]])
        XCTAssertTrue((frames[1]["file"] as? String)?.hasSuffix("recurse.c") ?? false, "\(frames[1])")
        XCTAssertEqual(frames[1]["line"] as? Int, line(containing: "pause();"))
        XCTAssertEqual(frames[2]["line"] as? Int, line(containing: "int r = recurse(depth + 1);"))
        let main = try XCTUnwrap(frames.first { $0["function"] as? String == "main" })
        XCTAssertEqual(main["line"] as? Int, line(containing: "return recurse(1) == 0;"))
        XCTAssertTrue(frames[0]["file"] is NSNull, "libc's lines need -s")
        let withDebugFiles = try XCTUnwrap(try result(run.lines[2])["frames"] as? [[String: Any]])
        XCTAssertTrue((withDebugFiles[0]["file"] as? String)?.hasSuffix("pause.c") ?? false, "\(withDebugFiles[0])")
    }

    func testBacktraceAllCoversEveryThread() throws {
        let program = try TestTarget("threads", ["2"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "bt all"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let threads = try XCTUnwrap(try result(run.lines[1])["threads"] as? [[String: Any]])
        XCTAssertEqual(threads.count, 3)
        for thread in threads {
            let names = (thread["frames"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
            if thread["tid"] as? Int == Int(program.pid) {
                XCTAssertTrue(names.contains("main"), "\(names)")
            } else {
                XCTAssertTrue(names.starts(with: ["pause", "worker_park", "worker", "start_thread"]), "\(names)")
            }
        }
    }

    func testFrameUpAndDownShowTheSavedSlots() throws {
        let program = try TestTarget("recurse", ["4"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch",
                                    "-ex", "bt", "-ex", "frame 1", "-ex", "up", "-ex", "down 2", "-ex", "down"])
        XCTAssertEqual(run.lines.count, 6, run.stderr)
        let frames = try XCTUnwrap(try result(run.lines[1])["frames"] as? [[String: Any]])
        let record = recorded(program)
        // frame 1 is recurse at depth 4: its rbp is the frame base it printed.
        let one = try result(run.lines[2])
        XCTAssertEqual(one["index"] as? Int, 1)
        XCTAssertEqual(one["function"] as? String, "recurse")
        let cfa = try XCTUnwrap(hexValue(one["cfa"]))
        XCTAssertEqual(hexValue(one["return_address_slot"]), cfa - 8)
        XCTAssertEqual(hexValue(one["return_address"]), hexValue(frames[2]["ip"]), "the saved return address is the caller's ip")
        XCTAssertEqual(hexValue(one["saved_rbp_slot"]), record[4]?.fp, "push rbp stored the caller's rbp at the frame base")
        XCTAssertEqual(hexValue(one["saved_rbp"]), record[3]?.fp)
        XCTAssertEqual(hexValue((one["registers"] as? [String: Any])?["rbp"]), record[4]?.fp)
        let bytes = try XCTUnwrap(one["bytes"] as? String)
        XCTAssertEqual(UInt64(bytes.count / 2), cfa - (hexValue(one["sp"]) ?? 0))
        XCTAssertEqual(try result(run.lines[3])["index"] as? Int, 2)
        XCTAssertEqual(try result(run.lines[4])["index"] as? Int, 0)
        // Below frame 0 there is nothing: one sentence, not a crash.
        let error = try XCTUnwrap(run.lines.last?["error"] as? String, "\(run.lines)")
        XCTAssertTrue(error.contains("frame 0 is the innermost"), error)
        XCTAssertEqual(run.status, 1)
    }

    func testStackViewShowsTheStackGrowingDown() throws {
        let program = try TestTarget("recurse", ["5"])
        let text = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "stack"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let json = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "stack", "-ex", "regs rsp"])
        let stack = try result(json.lines[1])
        let rsp = try XCTUnwrap(hexValue(try result(json.lines[2])["rsp"]))
        XCTAssertEqual(hexValue(stack["rsp"]), rsp)
        XCTAssertEqual(stack["grows_down"] as? Bool, true)
        let frames = try XCTUnwrap(stack["frames"] as? [[String: Any]])
        let top = try XCTUnwrap(frames.first.flatMap { hexValue($0["cfa"]) })
        XCTAssertEqual(stack["used"] as? Int, Int(top - rsp))
        let limits = try String(contentsOfFile: "/proc/\(program.pid)/limits", encoding: .utf8)
        let soft = limits.split(separator: "\n").first { $0.hasPrefix("Max stack size") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap { Int($0) }
        XCTAssertEqual(stack["limit"] as? Int, soft)
        XCTAssertTrue(text.stdout.contains("each callee's CFA below its caller's: the stack grows down (from \(String(format: "0x%lx", top)) to \(String(format: "0x%lx", rsp)), \(top - rsp) bytes used"), text.stdout)
        XCTAssertTrue(text.stdout.contains("==== top of [stack]"), text.stdout)
        // exec's argc/argv/envp/auxv block sits above every frame.
        let statText = try String(contentsOfFile: "/proc/\(program.pid)/stat", encoding: .utf8)
        let afterName = statText[statText.index(after: try XCTUnwrap(statText.lastIndex(of: ")")))...]
        let startStack = afterName.split(separator: " ").dropFirst(25).first.flatMap { UInt64($0) }
        XCTAssertEqual(hexValue(stack["start_stack"]), startStack)
        XCTAssertGreaterThan(try XCTUnwrap(startStack), top)
        XCTAssertTrue(text.stdout.contains("red zone"), text.stdout)
        // High addresses first: the boxes' CFAs decrease down the page.
        let cfas = frames.compactMap { hexValue($0["cfa"]) }
        XCTAssertEqual(cfas, cfas.sorted(by: >))
    }

    func testStackFPShowsTheRbpChainBreakingWithoutFramePointers() throws {
        let program = try TestTarget("recurse-O2", ["8"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "stack --fp"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let comparison = try XCTUnwrap(try result(run.lines[1])["frame_pointer_walk"] as? [String: Any])
        let unwound = (comparison["libunwind"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        let chained = (comparison["rbp_chain"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        XCTAssertEqual(unwound.filter { $0 == "recurse" }.count, 8)
        XCTAssertLessThan(chained.filter { $0 == "recurse" }.count, 8, "\(chained)")
        XCTAssertEqual(comparison["complete"] as? Bool, false)
        XCTAssertTrue((comparison["summary"] as? String)?.contains("without frame pointers") ?? false)
        let text = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "stack --fp"])
        XCTAssertTrue(text.stdout.contains("the rbp chain found"), text.stdout)
    }

    func testTelescopeMarksSavedReturnAddresses() throws {
        let program = try TestTarget("recurse", ["3"])
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "bt", "-ex", "telescope $rsp 200"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let frames = try XCTUnwrap(try result(run.lines[1])["frames"] as? [[String: Any]])
        let words = try XCTUnwrap(try result(run.lines[2])["words"] as? [[String: Any]])
        XCTAssertEqual(words.count, 200)
        XCTAssertTrue((words[0]["marks"] as? [String])?.contains("rsp") ?? false)
        for index in 0..<3 {
            let slot = try XCTUnwrap(hexValue(frames[index]["cfa"])) - 8
            let word = try XCTUnwrap(words.first { hexValue($0["address"]) == slot }, "frame \(index)")
            XCTAssertEqual(hexValue(word["value"]), hexValue(frames[index + 1]["ip"]))
            XCTAssertTrue((word["marks"] as? [String])?.contains { $0.hasPrefix("return address of #\(index) ") } ?? false, "\(word)")
            XCTAssertEqual(word["function"] as? String, frames[index + 1]["function"] as? String)
        }
        // The argv and environment pointers near the top point at strings.
        XCTAssertTrue(words.contains { ($0["points_to"] as? String)?.hasPrefix("stack \"") ?? false }, "\(words.suffix(20))")
        // Return addresses point into the executable's text.
        let returnSlot = try XCTUnwrap(hexValue(frames[1]["cfa"])) - 8
        let word = try XCTUnwrap(words.first { hexValue($0["address"]) == returnSlot })
        XCTAssertEqual(word["band"] as? String, "text")
        XCTAssertTrue((word["points_to"] as? String)?.hasSuffix("(recurse)") ?? false, "\(word)")
    }

    /// A damaged stack (a saved rbp pointing back down): the walk stops at
    /// the broken frame instead of wandering, and `stack` says the rule broke.
    func testADamagedStackStopsTheWalkAndIsReported() throws {
        let program = try TestTarget("recurse", ["6"])
        do {
            let target = try Target.attach(pid: program.pid)
            defer { try? target.detach() }
            let before = try target.unwinder().backtrace()
            // Frame 2 saved its caller's rbp at its frame base; make it name frame 1's base instead.
            let slot = try XCTUnwrap(before.savedRBPSlot(of: 2))
            let lower = try XCTUnwrap(before.frames[1].cfa) - 16
            try target.write(slot, bytes: (0..<8).map { UInt8(truncatingIfNeeded: lower >> (8 * UInt64($0))) })
            target.willResume()  // the memory changed behind the unwinder's cache
            let after = try target.unwinder().backtrace()
            XCTAssertEqual(after.stop, .cfaNotIncreasing)
            XCTAssertEqual(after.frames.count, 4)
            XCTAssertEqual(Array(after.frames.prefix(3)), Array(before.frames.prefix(3)))
        }
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "stack", "-ex", "bt"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let stack = try result(run.lines[1])
        XCTAssertEqual(stack["grows_down"] as? Bool, false)
        XCTAssertTrue((stack["evidence"] as? String)?.contains("breaks the rule") ?? false, "\(stack["evidence"] ?? "")")
        XCTAssertEqual(try result(run.lines[2])["stop"] as? String, "cfa_not_increasing")
    }

    /// Bad input to the stack commands: one sentence each, and the shell goes on.
    func testBadInputGetsOneSentence() throws {
        let program = try TestTarget("recurse", ["3"])
        let bad = ["bt abc", "bt -n 0", "bt -n", "bt 1", "frame 99", "frame x", "up 100", "down 5",
                   "telescope 0x10", "telescope $rsp 0", "telescope", "stack 1", "stack --bogus"]
        var arguments = ["--pid", "\(program.pid)", "--batch", "-ex", "set on-error continue"]
        for command in bad { arguments += ["-ex", command] }
        arguments += ["-ex", "bt -n 2"]
        let run = try VMScope.json(arguments)
        XCTAssertEqual(run.lines.count, 2 + bad.count + 1, run.stderr)
        for (index, command) in bad.enumerated() {
            let line = run.lines[2 + index]
            XCTAssertEqual(line["command"] as? String, command)
            let error = try XCTUnwrap(line["error"] as? String, "\(command): \(line)")
            XCTAssertTrue(error.hasSuffix(".") || error.contains("Usage"), error)
            XCTAssertFalse(error.contains("\n"), error)
        }
        XCTAssertEqual((try result(run.lines.last ?? [:])["frames"] as? [Any])?.count, 2, "the shell went on")
    }
}
