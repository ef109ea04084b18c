import Foundation
import XCTest
@testable import VMScopeShell

/// With --symbolic, ids are named (PID, TID1...) before tables size their
/// columns and before `explain` wraps its lines (found by the audit: the
/// golden threads.md changed with the number of digits in the tids, because
/// "thread 12345" was measured and "thread TID1" printed).
final class StableNameLayoutTests: XCTestCase {
    func testTablesAreLaidOutWithTheNamesNotTheIds() {
        func render(_ tid: Int32) -> String {
            var style = Style(enabled: false)
            style.idNames = [tid: "TID1"]
            return table([["OWNER", "PATH"], [style.namingIDs("thread \(tid)"), ""]])
        }
        XCTAssertEqual(render(123), render(1_234_567))
        XCTAssertEqual(render(123), "OWNER        PATH\nthread TID1  ")
        var plain = Style(enabled: false)
        plain.idNames = [42: "PID"]
        XCTAssertEqual(plain.namingIDs("pid 42, 0x42, r42, $42, 420"), "pid PID, 0x42, r42, $42, 420")
    }

    func testMapsOfThreadStacksIsLaidOutForTheNamedIds() throws {
        let program = try TestTarget("threads", ["2"])
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "--symbolic", "-ex", "maps thread", "-ex", "explain threads"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = run.stdout.split(separator: "\n").filter { $0.contains("thread stack") && $0.contains("rw-p") }
        XCTAssertEqual(rows.count, 2, run.stdout)
        // OWNER is as wide as "thread TID1", then the two spaces before the (empty) PATH.
        for row in rows { XCTAssertTrue(row.hasSuffix("thread TID1  ") || row.hasSuffix("thread TID2  "), "'\(row)'") }
        XCTAssertFalse(run.stdout.contains("\(program.pid)"))
        for line in run.stdout.split(separator: "\n") where line.hasPrefix("Thread ") {
            XCTAssertLessThanOrEqual(line.count, 78, String(line))
        }
    }
}
