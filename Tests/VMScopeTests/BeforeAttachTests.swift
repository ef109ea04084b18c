import XCTest
@testable import VMScopeCore

/// What a one-shot `bt` reads before it attaches (SymbolPrewarm), so the
/// target is stopped for less time: the vdso's image, read without ptrace,
/// must be the bytes the target holds once stopped.
final class BeforeAttachTests: XCTestCase {
    func testTheVDSOReadBeforeTheAttachIsTheTargetsVDSO() throws {
        let program = try TestTarget("recurse", ["2"])
        defer { program.terminate() }
        let vdso = try XCTUnwrap(try MapsParser.read(pid: program.pid).first { $0.path == "[vdso]" })
        let early = try XCTUnwrap(VDSOImage.read(pid: program.pid, address: vdso.start, count: Int(vdso.size)))
        XCTAssertEqual(early.count, Int(vdso.size))
        XCTAssertEqual(Array(early.prefix(4)), [0x7f, 0x45, 0x4c, 0x46])  // "\x7fELF"
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let stopped = try target.read(vdso.start, count: Int(vdso.size))
        XCTAssertTrue(stopped.isComplete)
        XCTAssertEqual(stopped.bytes, early)
        // Nothing is read from an address outside the process, or of no size.
        XCTAssertNil(VDSOImage.read(pid: program.pid, address: 0, count: 4096))
        XCTAssertNil(VDSOImage.read(pid: program.pid, address: vdso.start, count: 0))
    }
}
