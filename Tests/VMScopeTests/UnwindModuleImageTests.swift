import XCTest
@testable import VMScopeCore
import VMScopeShell

/// libunwind keeps one ELF image per module (unwind.c): the module extents
/// come from `noteMaps` (the maps the stack commands read), or from
/// /proc/PID/maps in C when no one gave them. Both must give the walk the
/// target's real frames, before and after the caches are flushed.
final class UnwindModuleImageTests: XCTestCase {
    func testWalksWithAndWithoutGivenModulesAgreeAcrossModules() throws {
        let program = try TestTarget("recurse", ["6"])
        defer { program.terminate() }
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        // C reads the maps itself: libc (pause) -> recurse -> libc -> recurse (_start).
        let alone = try unwinder.backtrace()
        unwinder.flushAll()
        unwinder.noteMaps(try target.maps())
        let given = try unwinder.backtrace()
        let again = try unwinder.backtrace()
        XCTAssertEqual(alone.stop, .end)
        XCTAssertGreaterThan(alone.frames.count, 6 + 3)
        for other in [given, again] {
            XCTAssertEqual(other.frames.map(\.ip), alone.frames.map(\.ip))
            XCTAssertEqual(other.frames.map(\.cfa), alone.frames.map(\.cfa))
        }
        // The frames the target recorded (frame base = CFA - 16) are all there.
        let cfas = Set(given.frames.compactMap(\.cfa))
        var recorded = 0
        for line in program.startupLines where line.hasPrefix("frame depth=") {
            guard let fp = program.fields(line)["fp"].flatMap(program.parseHex) else { continue }
            XCTAssertTrue(cfas.contains(fp + 16), "frame base \(hex(fp)) not in the walk")
            recorded += 1
        }
        XCTAssertEqual(recorded, 6)
    }
}
