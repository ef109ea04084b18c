import Foundation
import XCTest
@testable import VMScopeCore

/// The layout core against real processes (issue #3): brk(0) injection,
/// the auxiliary vector, the dynamic linker's list.
final class LayoutCoreTests: XCTestCase {
    /// The break vmscope reads by injecting brk(0) equals the sbrk(0) the
    /// target prints, at each step, and it moves up between steps; the
    /// target's registers and code are exactly as before.
    func testInjectedBrkEqualsTheTargetsSbrkAtEveryStep() throws {
        let program = try TestTarget("heapgrow")
        var previous: UInt64 = 0
        for step in ["brk", "sbrk 4096", "sbrk 65536", "sbrk 1"] {
            let answer = try program.request(step)
            let printed = try XCTUnwrap(program.fields(answer)["brk"].flatMap(program.parseHex), answer)
            let target = try Target.attach(pid: program.pid)
            let before = try target.registers()
            let entry = try XCTUnwrap(try AuxiliaryVector.read(pid: program.pid)[AuxiliaryVector.AT.entry])
            let code = try target.read(entry, count: 16).bytes
            let brk = try target.programBreak()
            XCTAssertEqual(brk, printed, step)
            XCTAssertGreaterThan(brk, previous, step)
            previous = brk
            let after = try target.registers()
            XCTAssertTrue(withUnsafeBytes(of: before.raw) { a in withUnsafeBytes(of: after.raw) { a.elementsEqual($0) } })
            XCTAssertEqual(try target.read(entry, count: 16).bytes, code)
            XCTAssertEqual(target.threads[program.pid]?.stop, .interrupted)
            try target.detach()
        }
        // The target runs on normally: its pending read() was restarted.
        XCTAssertEqual(program.fields(try program.request("brk"))["brk"].flatMap(program.parseHex), previous)
    }

    /// A launched process at its first instruction has never called brk:
    /// the break is start_brk (field 47).
    func testBreakAtFirstInstructionIsStartBrk() throws {
        let target = try Target.launch(path: TestTarget.path("heapgrow"), arguments: [], environment: [])
        defer { try? target.kill() }
        let stat = try XCTUnwrap(ProcFS.stat(pid: target.pid))
        XCTAssertEqual(try target.programBreak(), stat.startBrk)
        XCTAssertFalse(try target.maps().contains { $0.path == "[heap]" })
        let cache = ProgramBreakCache()
        XCTAssertEqual(try cache.programBreak(of: target), stat.startBrk)
        XCTAssertEqual(try cache.programBreak(of: target), stat.startBrk)
    }

    func testAuxiliaryVectorAndLinkMapAgreeWithMaps() throws {
        let program = try TestTarget("heapgrow")
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let auxv = try AuxiliaryVector.read(pid: program.pid)
        let maps = try target.maps()
        XCTAssertEqual(auxv[AuxiliaryVector.AT.pagesz], 4096)
        let vdso = try XCTUnwrap(maps.first { $0.path == "[vdso]" })
        XCTAssertEqual(auxv[AuxiliaryVector.AT.sysinfoEhdr], vdso.start)
        let ldso = try XCTUnwrap(maps.first { $0.path.contains("/ld-linux") })
        XCTAssertEqual(auxv[AuxiliaryVector.AT.base], ldso.start)
        let list = LinkMapList.read(target: target, auxv: auxv)
        XCTAssertNil(list.problem)
        let libc = try XCTUnwrap(list.entries.first { $0.name.hasSuffix("/libc.so.6") })
        // ld.so names libraries by the path it opened (/lib/...), the kernel by
        // the resolved one (/usr/lib/... on merged-/usr systems).
        let libcMapping = try XCTUnwrap(maps.first { $0.path.hasSuffix("/libc.so.6") && $0.offset == 0 })
        XCTAssertEqual(realpath(libc.name, nil).map { String(cString: $0) }, libcMapping.path)
        XCTAssertEqual(libc.base, libcMapping.start)
        let exe = try XCTUnwrap(maps.first { $0.path.hasSuffix("/heapgrow") && $0.offset == 0 })
        XCTAssertEqual(list.executableBias, exe.start)
        XCTAssertEqual(list.entries.first?.base, exe.start)
    }

    func testCanonicalClassification() {
        let g = AddressGeometry.current()
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        XCTAssertEqual(g.pageSize, page)
        let la57 = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains(" la57")
        XCTAssertEqual(g.cpuHasLA57, la57)
        if !la57 {
            XCTAssertEqual(g.virtualBits, 48)
            XCTAssertEqual(g.classify(0x0000_7fff_ffff_ffff), .user)
            XCTAssertEqual(g.classify(0x0000_8000_0000_0000), .nonCanonical)
            XCTAssertEqual(g.classify(0xffff_7fff_ffff_ffff), .nonCanonical)
            XCTAssertEqual(g.classify(0xffff_8000_0000_0000), .kernel)
            XCTAssertEqual(g.taskSize, 0x0000_7fff_ffff_f000)
        }
        XCTAssertEqual(g.classify(0xffff_ffff_ff60_0000), .kernel)
    }
}
