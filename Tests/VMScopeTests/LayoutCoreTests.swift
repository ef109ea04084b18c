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

    /// Signals that arrive while brk(0) runs are neither lost nor invented:
    /// they are handed back and delivered after detach; a busy loop's
    /// registers survive (its checksum stays right).
    func testSignalsArrivingDuringInjectionAreHandedBack() throws {
        let program = try TestTarget("signals", ["busy"])
        usleep(50_000)
        let target = try Target.attach(pid: program.pid)
        // Queued while the thread is stopped: the single-step meets them first.
        kill(program.pid, SIGUSR1)
        kill(program.pid, SIGUSR2)
        let stat = try XCTUnwrap(ProcFS.stat(pid: program.pid))
        let brk = try target.programBreak()
        XCTAssertGreaterThanOrEqual(brk, stat.startBrk)
        XCTAssertNotEqual(target.threads[program.pid]?.pendingSignal, 0)
        try target.detach()
        var counts: [String: String] = [:]
        for _ in 0..<50 {
            counts = program.fields(try program.request("count"))
            if counts["usr1"] == "1" && counts["usr2"] == "1" { break }
            usleep(20_000)
        }
        XCTAssertEqual(counts["usr1"], "1")
        XCTAssertEqual(counts["usr2"], "1")
        XCTAssertEqual(program.fields(try program.request("checksum"))["checksum_ok"], "1")
    }

    /// A group-stopped process (SIGSTOP) is not run to read its break: that
    /// would end the stop. vmscope says why and leaves it stopped.
    func testNoInjectionIntoAGroupStop() throws {
        let program = try TestTarget("recurse", ["2"])
        kill(program.pid, SIGSTOP)
        for _ in 0..<100 where program.state() != "T" { usleep(10_000) }
        XCTAssertEqual(program.state(), "T")
        let target = try Target.attach(pid: program.pid)
        XCTAssertThrowsError(try target.programBreak()) { error in
            XCTAssertEqual((error as? VMScopeError)?.errnoValue, EBUSY)
        }
        try target.detach()
        usleep(50_000)
        XCTAssertEqual(program.state(), "T")
        kill(program.pid, SIGCONT)
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
        // The second call of the same stop is served from the cache: the
        // thread does not run (its context-switch counts stay put).
        let switches = { ProcFS.status(pid: target.pid).map { ($0["voluntary_ctxt_switches"] ?? "") + "/" + ($0["nonvoluntary_ctxt_switches"] ?? "") } }
        let before = switches()
        XCTAssertEqual(try cache.programBreak(of: target), stat.startBrk)
        XCTAssertEqual(switches(), before)
        _ = try target.programBreak()
        XCTAssertNotEqual(switches(), before, "an injection does show in the counters")
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

    /// The block at the top of the main stack, read word by word from the
    /// process, counts exactly the arguments and environment it was given.
    func testArgumentBlockCountsWhatExecReceived() throws {
        let target = try Target.launch(path: TestTarget.path("recurse"), arguments: ["2", "x y"],
                                       environment: ["A=1", "B=two", "C="])
        defer { try? target.kill() }
        let space = try AddressSpace.capture(target: target, programBreak: nil, modules: nil, linkMap: false)
        let block = try XCTUnwrap(space.argumentBlock)
        XCTAssertEqual(block.argc, 3)
        XCTAssertEqual(block.environmentCount, 3)
        XCTAssertEqual(block.auxvCount, try AuxiliaryVector.read(pid: target.pid).entries.count)
        XCTAssertEqual(block.start, try target.registers().rsp, "at exec, rsp points at argc")
        let stack = try XCTUnwrap(space.mainStack)
        XCTAssertTrue(block.arraysEnd <= block.stringsStart && block.stringsEnd < stack.end)
        let names = space.bands(full: false).filter { $0.kind == "args" }.map(\.name)
        XCTAssertEqual(names.count, 4, "\(names)")
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
