import Foundation
import XCTest
@testable import VMScopeCore

/// The core's target control against real processes: attach, registers,
/// memory, maps, detach (issue #2).
final class TargetControlTests: XCTestCase {
    func testRegistersOfAStoppedTargetPointIntoItsStackAndCode() throws {
        let program = try TestTarget("recurse", ["5"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let regs = try target.registers()
        let maps = try target.maps()
        let stack = try XCTUnwrap(maps.first { $0.path == "[stack]" })
        let innermost = try XCTUnwrap(program.startupLines.first { $0.hasPrefix("innermost ") })
        let innermostLocal = try XCTUnwrap(program.fields(innermost)["local"].flatMap(program.parseHex))
        XCTAssertTrue(stack.contains(regs.rsp), "rsp \(String(regs.rsp, radix: 16)) outside [stack]")
        XCTAssertLessThan(regs.rsp, innermostLocal, "the parked callee's rsp lies below the local it printed")
        let code = try XCTUnwrap(maps.mapping(containing: regs.rip))
        XCTAssertTrue(code.isExecutable, "rip is in \(code.perms) \(code.path)")
        XCTAssertEqual(try regs.value(named: "rsp"), regs.rsp)
        XCTAssertEqual(try regs.value(named: "esp"), regs.rsp & 0xffff_ffff)
    }

    func testReadingThePrintedStringReturnsIt() throws {
        let program = try TestTarget("recurse", ["3"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let address = try XCTUnwrap(program.address("string"))
        let read = try target.read(address, count: 19)
        XCTAssertTrue(read.isComplete)
        XCTAssertEqual(String(decoding: read.bytes, as: UTF8.self), "vmscope-test-string")
    }

    func testAReadCrossingIntoAnUnmappedPageReturnsWhatExists() throws {
        let program = try TestTarget("recurse", ["3"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let maps = try target.maps()
        // The end of a mapping with nothing right after it.
        let lone = try XCTUnwrap(maps.enumerated().first { i, m in
            m.isReadable && (i + 1 == maps.count || maps[i + 1].start != m.end) && m.end < 0x8000_0000_0000
        }?.element)
        let read = try target.read(lone.end - 16, count: 64)
        XCTAssertEqual(read.bytes.count, 16)
        XCTAssertEqual(read.firstBadAddress, lone.end)
        XCTAssertEqual(try target.read(0, count: 8).firstBadAddress, 0)
        XCTAssertEqual(try target.read(0xffff_ffff_ffff_fff0, count: Int.max).bytes.count, 0)
    }

    func testWritingMemoryChangesWhatTheTargetSees() throws {
        let program = try TestTarget("heapgrow")
        let ptr = try XCTUnwrap(program.fields(try program.request("malloc 64"))["ptr"].flatMap(program.parseHex))
        let again = try Target.attach(pid: program.pid)
        try again.write(ptr, bytes: Array("written by vmscope".utf8))
        XCTAssertEqual(String(decoding: try again.read(ptr, count: 18).bytes, as: UTF8.self), "written by vmscope")
        try again.detach()
    }

    func testMapsEqualProcMapsLineForLine() throws {
        let program = try TestTarget("threads", ["3"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let lines = try procMapsLines(program.pid)
        let parsed = try target.maps()
        XCTAssertEqual(parsed.count, lines.count)
        for (line, mapping) in zip(lines, parsed) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            XCTAssertEqual(String(fields[0]), String(mapping.start, radix: 16) + "-" + String(mapping.end, radix: 16))
            XCTAssertEqual(String(fields[1]), mapping.perms)
            XCTAssertEqual(UInt64(fields[2], radix: 16), mapping.offset)
            XCTAssertEqual(String(fields[3]), mapping.device)
            XCTAssertEqual(UInt64(fields[4]), mapping.inode)
            XCTAssertEqual(fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : "", mapping.path)
        }
    }

    func testParsesPathsWithSpacesDeletedFilesAndNamedAnonymousMappings() {
        let text = """
        7f0000000000-7f0000001000 r-xp 00001000 08:01 1234                       /tmp/a dir/lib x.so (deleted)
        7f0000001000-7f0000002000 rw-p 00000000 00:00 0                          [anon:my arena]
        7f0000002000-7f0000003000 r--p 00000000 00:00 0                          [vvar_vclock]
        7f0000003000-7f0000004000 rw-p 00000000 00:00 0
        """
        let maps = MapsParser.parse(text)
        XCTAssertEqual(maps.map(\.path), ["/tmp/a dir/lib x.so (deleted)", "[anon:my arena]", "[vvar_vclock]", ""])
        XCTAssertTrue(maps[0].isDeleted)
        XCTAssertEqual(maps[0].offset, 0x1000)
        XCTAssertEqual(maps.mapping(containing: 0x7f0000002800)?.path, "[vvar_vclock]")
        XCTAssertNil(maps.mapping(containing: 0x7f0000004000))
    }

    func testAttachStopsEveryThreadAndDetachLetsThemRun() throws {
        let program = try TestTarget("threads", ["4"])
        let reported = program.startupLines.compactMap { program.fields($0)["tid"].flatMap { Int32($0) } }
        let target = try Target.attach(pid: program.pid)
        XCTAssertEqual(Set(target.threadIDs), Set(reported + [program.pid]))
        for tid in target.threadIDs {
            XCTAssertEqual(TestTarget.state(of: tid), "t", "thread \(tid) is not in a ptrace-stop")
        }
        try target.detach()
        for tid in reported + [program.pid] {
            XCTAssertNotEqual(TestTarget.state(of: tid), "t")
            XCTAssertNotEqual(TestTarget.state(of: tid), "T")
            XCTAssertEqual(tracerPid(tid), 0)
        }
    }

    func testSettingARegisterIsSeenByTheNextRead() throws {
        let program = try TestTarget("recurse", ["2"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        var regs = try target.registers()
        let saved = regs
        try regs.set("r12", to: 0x1234_5678)
        try regs.set("al", to: 0xff)
        try target.setRegisters(regs)
        let back = try target.registers()
        XCTAssertEqual(back.raw.r12, 0x1234_5678)
        XCTAssertEqual(back.raw.rax & 0xff, 0xff)
        XCTAssertEqual(back.raw.rax >> 8, saved.raw.rax >> 8)
        try target.setRegisters(saved)  // leave it as it was
    }

    func testATargetKilledWhileStoppedIsReportedAsExited() throws {
        let program = try TestTarget("recurse", ["2"])
        let target = try Target.attach(pid: program.pid)
        kill(program.pid, SIGKILL)
        XCTAssertThrowsError(try target.registers()) { error in
            XCTAssertEqual(error as? VMScopeError, .targetExited(pid: program.pid, status: .killed(signal: SIGKILL)))
        }
        XCTAssertThrowsError(try target.maps())
    }

    func testAttachRefusalsNameTheReason() throws {
        XCTAssertThrowsError(try Target.attach(pid: getpid())) {
            XCTAssertEqual($0 as? VMScopeError, .isSelf(pid: getpid()))
        }
        XCTAssertThrowsError(try Target.attach(pid: 999_999_99)) {
            XCTAssertEqual($0 as? VMScopeError, .noSuchProcess(pid: 999_999_99))
        }
        if let stat = try? String(contentsOfFile: "/proc/2/stat", encoding: .utf8), stat.contains("(kthreadd)") {
            XCTAssertThrowsError(try Target.attach(pid: 2)) {
                XCTAssertEqual($0 as? VMScopeError, .kernelThread(pid: 2))
            }
        }
        let program = try TestTarget("recurse", ["2"])
        let first = try Target.attach(pid: program.pid)
        defer { try? first.detach() }
        XCTAssertThrowsError(try Target.attach(pid: program.pid)) { error in
            guard case .alreadyTraced(let pid, let tracer, _)? = error as? VMScopeError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(pid, program.pid)
            XCTAssertEqual(tracer, first.tracerTID)  // the tracer is a thread: this one
        }
    }

    func testLaunchStopsAtTheFirstInstructionWithoutASLR() throws {
        let path = TestTarget.path("recurse")
        let target = try Target.launch(path: path, arguments: ["2"], environment: [], disableASLR: true)
        defer { try? target.kill() }
        let maps = try target.maps()
        let regs = try target.registers()
        let loader = try XCTUnwrap(maps.mapping(containing: regs.rip))
        XCTAssertTrue(loader.path.hasSuffix("ld-linux-x86-64.so.2"), "first instruction is in \(loader.path)")
        XCTAssertEqual(maps.first { $0.path == path }?.start, 0x5555_5555_4000)
        XCTAssertEqual(maps.first { $0.path == "[stack]" }?.end, 0x7fff_ffff_f000)
        let pid = target.pid
        try target.kill()
        XCTAssertNil(TestTarget.state(of: pid))
    }

    func testLaunchingAMissingProgramSaysSo() {
        XCTAssertThrowsError(try Target.launch(path: "/nonexistent/program", arguments: [], environment: [])) {
            XCTAssertEqual($0 as? VMScopeError, .launchFailed(path: "/nonexistent/program", errno: ENOENT))
        }
    }
}

func tracerPid(_ tid: pid_t) -> Int32? {
    guard let status = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
    return status.split(separator: "\n").first { $0.hasPrefix("TracerPid:") }
        .flatMap { Int32($0.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces)) }
}
