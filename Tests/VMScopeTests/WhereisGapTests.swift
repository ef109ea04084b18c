import Foundation
import XCTest

/// `whereis` on unmapped user addresses (issue #3): between two mappings it
/// names the gap and the mappings on each side; below the lowest mapping it
/// tells the model's 4 MiB reserved band apart from the empty user space
/// above it (found by the audit: 0x7000000000 was called "low reserved").
final class WhereisGapTests: XCTestCase {
    func testUnmappedAddressesNameTheirGapOrTheReservedBand() throws {
        let program = try TestTarget("heapgrow")
        _ = try program.request("sbrk 8192")
        let lines = try procMapsLines(program.pid)
        func range(_ line: String) -> (UInt64, UInt64) {
            let r = line.prefix { $0 != " " }.split(separator: "-")
            return (UInt64(r[0], radix: 16) ?? 0, UInt64(r[1], radix: 16) ?? 0)
        }
        let heapIndex = try XCTUnwrap(lines.firstIndex { $0.hasSuffix("[heap]") })
        let heapEnd = range(lines[heapIndex]).1
        let nextStart = range(lines[heapIndex + 1]).0
        let middle = heapEnd + (nextStart - heapEnd) / 2 & ~0xfff
        let lowest = range(lines[0]).0
        XCTAssertGreaterThan(lowest, 0x7000000000, "a PIE executable: nothing below 0x55...")
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch",
                                    "-ex", "whereis 0x\(String(middle, radix: 16))",
                                    "-ex", "whereis 0x7000000000", "-ex", "whereis 0x3ff000"])
        XCTAssertEqual(run.status, 0, run.stderr)
        func result(_ i: Int) throws -> [String: Any] { try XCTUnwrap(run.lines[i]["result"] as? [String: Any]) }

        let gap = try result(1)
        XCTAssertEqual(hexValue(gap["address"]), middle)
        XCTAssertTrue(gap["mapping"] is NSNull)
        XCTAssertEqual(gap["gap_below"] as? String, "[heap]")
        let text = try XCTUnwrap(gap["description"] as? String)
        XCTAssertTrue(text.contains("is not mapped: it lies in a gap"), text)
        XCTAssertTrue(text.contains("above the end of [heap]"), text)
        XCTAssertTrue(text.contains("between the heap and the mmap region"), text)

        let userSpace = try XCTUnwrap(try result(2)["description"] as? String)
        XCTAssertTrue(userSpace.contains("in user space below the lowest mapping at 0x\(String(lowest, radix: 16))"), userSpace)
        XCTAssertTrue(userSpace.contains("above the model's 4 MiB low reserved band"), userSpace)
        XCTAssertFalse(userSpace.contains("is in the model's low reserved band"), userSpace)

        let reserved = try XCTUnwrap(try result(3)["description"] as? String)
        XCTAssertTrue(reserved.contains("is in the model's low reserved band (below 0x400000)"), reserved)
        XCTAssertEqual(try result(3)["band"] as? String, "low reserved")
    }
}
