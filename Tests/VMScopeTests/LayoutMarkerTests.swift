import Foundation
import XCTest

/// `layout`'s markers and `brk`'s room (issue #3), found untested by the
/// audit: rip and rsp are the registers of the stopped thread, AT_ENTRY and
/// AT_BASE are what the kernel put in /proc/PID/auxv, and the room above the
/// heap reaches exactly the next mapping in /proc/PID/maps.
final class LayoutMarkerTests: XCTestCase {
    /// /proc/PID/auxv as (type, value) pairs of native 64-bit words.
    func auxv(_ pid: pid_t) throws -> [UInt64: UInt64] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/auxv"))
        var words: [UInt64] = []
        data.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count - 7, by: 8) { words.append(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) }
        }
        var result: [UInt64: UInt64] = [:]
        for i in stride(from: 0, to: words.count - 1, by: 2) where words[i] != 0 { result[words[i]] = words[i + 1] }
        return result
    }

    func testMarkersAreTheRegistersAndTheAuxiliaryVectorAndBrkRoomReachesTheNextMapping() throws {
        let program = try TestTarget("heapgrow")
        let printed = try XCTUnwrap(program.fields(try program.request("sbrk 8192"))["brk"].flatMap(program.parseHex))
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "regs", "-ex", "layout", "-ex", "brk"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let regs = try XCTUnwrap(run.lines[1]["result"] as? [String: Any])
        let layout = try XCTUnwrap(run.lines[2]["result"] as? [String: Any])
        let brk = try XCTUnwrap(run.lines[3]["result"] as? [String: Any])
        let markers = try XCTUnwrap(layout["markers"] as? [String: Any])
        XCTAssertEqual(hexValue(markers["rip"]), hexValue(regs["rip"]))
        XCTAssertEqual(hexValue(markers["rsp"]), hexValue(regs["rsp"]))
        XCTAssertEqual(hexValue(markers["break"]), printed)
        let vector = try auxv(program.pid)
        XCTAssertEqual(hexValue(markers["AT_ENTRY"]), vector[9], "AT_ENTRY")
        XCTAssertEqual(hexValue(markers["AT_BASE"]), vector[7], "AT_BASE")
        // The entry point lies in the executable's code band, AT_BASE at the start of the loader.
        let bands = try XCTUnwrap(layout["bands"] as? [[String: Any]])
        let code = try XCTUnwrap(bands.first { $0["name"] as? String == "code" })
        let entry = try XCTUnwrap(vector[9])
        XCTAssertTrue((hexValue(code["start"]) ?? .max) <= entry && entry < (hexValue(code["end"]) ?? 0))
        let loader = try XCTUnwrap(bands.first { ($0["name"] as? String)?.hasPrefix("ld-linux") == true })
        XCTAssertEqual(hexValue(loader["start"]), vector[7])

        XCTAssertEqual(hexValue(brk["brk"]), printed)
        let starts = try procMapsLines(program.pid).compactMap { UInt64($0.prefix { $0 != "-" }, radix: 16) }
        let above = try XCTUnwrap(starts.first { $0 >= printed })
        XCTAssertEqual(hexValue(brk["room_above"]), above - printed)
    }

    /// `set symbolic on` switches a session to band-relative addresses and
    /// stable ids as --symbolic does; `set symbolic off` switches back.
    func testSetSymbolicSwitchesAddressesAndIds() throws {
        let program = try TestTarget("recurse", ["2"])
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "-ex", "whereis $rsp", "-ex", "set symbolic on",
                                   "-ex", "whereis $rsp", "-ex", "set symbolic off", "-ex", "whereis $rsp"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").filter { $0.contains(" is in the stack band") }.map(String.init)
        XCTAssertEqual(lines.count, 3, run.stdout)
        XCTAssertTrue(lines[0].hasPrefix("0x7f") && lines[0].contains("thread \(program.pid)"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("stack_top-0x") && lines[1].contains("thread PID"), lines[1])
        XCTAssertFalse(lines[1].contains("\(program.pid)"), lines[1])
        XCTAssertEqual(lines[2], lines[0])
    }
}
