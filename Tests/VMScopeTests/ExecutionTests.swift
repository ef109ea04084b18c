import Foundation
import XCTest
@testable import VMScopeCore
@testable import VMScopeShell

/// Execution control in the core, in-process against real targets (issue
/// #5): breakpoints, signals, system calls, threads, fork and exec.
final class ExecutionTests: XCTestCase {
    /// The runtime address of `symbol` in the live target.
    private func address(of symbol: String, in target: Target) throws -> UInt64 {
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try target.maps())
        return try XCTUnwrap(cache.address(ofSymbol: symbol, modules: modules), "no symbol \(symbol)")
    }

    func testCatchSyscallBrkReportsTheBreakTheTargetThenPrints() throws {
        let program = try TestTarget("heapgrow")
        let target = try Target.attach(pid: program.pid)
        target.caughtSyscalls = [12]  // brk
        try program.send("sbrk 65536")
        let entry = try target.continueExecution()
        guard case .syscallEntry(12, let arguments) = entry.reason else { return XCTFail("\(entry.reason)") }
        let exit = try target.continueExecution()
        guard case .syscallExit(12, let result) = exit.reason else { return XCTFail("\(exit.reason)") }
        XCTAssertEqual(UInt64(bitPattern: result), arguments[0], "brk(addr) returns addr when it succeeds")
        try target.detach()
        let printed = program.fields(try program.readLine())["brk"].flatMap(program.parseHex)
        XCTAssertEqual(printed, UInt64(bitPattern: result))
    }

    func testDetachWithBreakpointsLeavesTheCodeAsOnDiskAndTheTargetRunsToItsExit() throws {
        let program = try TestTarget("heapgrow")
        let target = try Target.attach(pid: program.pid)
        let sbrk = try address(of: "sbrk", in: target)
        let before = try target.read(sbrk, count: 16).bytes
        try target.addBreakpoint(at: sbrk, location: "sbrk")
        try program.send("sbrk 4096")
        let stop = try target.continueExecution()
        XCTAssertEqual(stop.reason, .breakpoint(ids: [1], address: sbrk))
        XCTAssertEqual(stop.pc, sbrk, "rip is rewound onto the breakpoint")
        XCTAssertEqual(try target.read(sbrk, count: 16).bytes, before, "a stopped target never shows an int3")
        try target.detach()
        XCTAssertEqual(try codeBytes(pid: program.pid, address: sbrk, count: 16), try fileBytes(of: sbrk, pid: program.pid, count: 16))
        XCTAssertTrue(try program.readLine().hasPrefix("brk=0x"), "the interrupted sbrk completed")
        try program.send("exit 3")
        let status = try XCTUnwrap(program.waitForExit(timeout: 10))
        XCTAssertEqual(TestTarget.exitCode(status: status), 3, TestTarget.describe(status: status))
    }

    func testANullWriteIsReportedAtAddressZeroAndTheSignalIsHandedBackAtDetach() throws {
        let program = try TestTarget("segv", ["null"])
        let target = try Target.attach(pid: program.pid)
        try program.send("go")
        let stop = try target.continueExecution()
        XCTAssertEqual(stop.reason, .signal(number: SIGSEGV, code: 1 /* SEGV_MAPERR */, faultAddress: 0))
        XCTAssertTrue(FaultClassifier.explain(0, maps: try target.maps(), sp: nil).contains("null pointer"))
        try target.detach()
        let status = try XCTUnwrap(program.waitForExit(timeout: 10))
        XCTAssertEqual(TestTarget.terminatingSignal(status: status), SIGSEGV, TestTarget.describe(status: status))
    }

    func testAnEndlessRecursionIsClassifiedAsAStackOverflow() throws {
        let program = try TestTarget("segv", ["overflow"])
        let target = try Target.attach(pid: program.pid)
        try program.send("go")
        let stop = try target.continueExecution()
        guard case .signal(SIGSEGV, _, let fault?) = stop.reason else { return XCTFail("\(stop.reason)") }
        let maps = try target.maps()
        let stack = try XCTUnwrap(maps.first { $0.path == "[stack]" })
        XCTAssertLessThan(fault, stack.start, "the fault lies below the lowest stack page")
        let sp = try target.registers(tid: stop.tid).rsp
        XCTAssertTrue(FaultClassifier.explain(fault, maps: maps, sp: sp).hasSuffix("stack overflow"))
        try target.kill()
        program.terminate()
    }

    func testAThreadStartedAfterAttachIsTracedAndStopsAtItsBreakpoint() throws {
        let program = try TestTarget("spawner")
        let target = try Target.attach(pid: program.pid)
        XCTAssertEqual(target.threadIDs, [program.pid])
        try target.addBreakpoint(at: try address(of: "new_thread_ready", in: target), location: "new_thread_ready")
        try program.send("thread")
        let stop = try target.continueExecution()
        guard case .breakpoint = stop.reason else { return XCTFail("\(stop.reason)") }
        XCTAssertNotEqual(stop.tid, program.pid)
        XCTAssertTrue(stop.events.contains(.threadStarted(tid: stop.tid)))
        XCTAssertEqual(target.threadIDs, [program.pid, stop.tid].sorted())
        XCTAssertEqual(try target.registers(tid: stop.tid).raw.rdi, UInt64(stop.tid), "the thread's own tid, its argument")
        try target.detach()
        XCTAssertEqual(try program.readLine(), "thread tid=\(stop.tid)")
    }

    func testForkedChildrenAreCleanedOfBreakpointsAndLetGo() throws {
        let program = try TestTarget("forker")
        let target = try Target.attach(pid: program.pid)
        // Only the children call _exit: an int3 left in their copy of
        // memory would kill them with SIGTRAP, and the parent would count it.
        try target.addBreakpoint(at: try address(of: "_exit", in: target), location: "_exit")
        target.caughtSyscalls = [1]  // write: the parent's report
        try program.send("fork 3")
        let stop = try target.continueExecution()
        guard case .syscallEntry(1, let arguments) = stop.reason else { return XCTFail("\(stop.reason)") }
        XCTAssertEqual(stop.events.filter { if case .childReleased = $0 { return true } else { return false } }.count, 3)
        let text = String(decoding: try target.read(arguments[1], count: Int(arguments[2])).bytes, as: UTF8.self)
        XCTAssertEqual(text, "forked=3 ok=3\n")
        try target.detach()
        XCTAssertEqual(try program.readLine(), "forked=3 ok=3")
    }

    func testAfterExecTheMapsAreTheNewProgramsAndTheOldBreakpointsAreGone() throws {
        let newProgram = TestTarget.path("recurse-nopie")
        let program = try TestTarget("execer", [newProgram, "2"])
        let target = try Target.attach(pid: program.pid)
        try target.addBreakpoint(at: try address(of: "exit", in: target), location: "exit")
        try program.send("go")
        let stop = try target.continueExecution()
        XCTAssertEqual(stop.reason, .exec(path: newProgram))
        XCTAssertTrue(target.breakpoints.isEmpty)
        XCTAssertTrue(try target.maps().contains { $0.path == newProgram })
        XCTAssertFalse(try target.maps().contains { $0.path.hasSuffix("/execer") })
        let regs = try target.registers()
        XCTAssertTrue(try target.maps().mapping(containing: regs.rip)?.path.contains("ld-linux") ?? false,
                      "a new program starts in the dynamic loader")
        try target.detach()
        XCTAssertTrue(try program.readLine().hasPrefix("frame depth=1"))
    }

    func testStepiExecutesExactlyOneInstruction() throws {
        let program = try TestTarget("heapgrow")
        let target = try Target.attach(pid: program.pid)
        let sbrk = try address(of: "sbrk", in: target)
        try target.addBreakpoint(at: sbrk, location: "sbrk")
        try program.send("sbrk 4096")
        XCTAssertEqual(try target.continueExecution().pc, sbrk)
        try target.deleteBreakpoint(id: 1)
        let disassembler = Disassembler()
        // sbrk opens with straight-line code (endbr64, pushes): each stepi
        // moves rip by exactly the length of the instruction it ran.
        var rip = sbrk
        for _ in 0..<3 {
            let insn = try XCTUnwrap(target.instructions(at: rip, count: 1, using: disassembler).first)
            XCTAssertFalse(insn.isCall || insn.isReturn || insn.mnemonic.hasPrefix("j"), "\(insn.mnemonic) at \(hex(rip))")
            let stop = try target.stepInstruction(tid: program.pid)
            XCTAssertEqual(stop.reason, .stepped)
            XCTAssertEqual(stop.pc, rip + UInt64(insn.length))
            XCTAssertEqual(try target.registers().rip, rip + UInt64(insn.length))
            rip += UInt64(insn.length)
        }
        try target.detach()
        XCTAssertTrue(try program.readLine().hasPrefix("brk=0x"), "sbrk completed after the steps")
    }
}

/// Reads code through /proc/PID/mem, outside any tracer.
private func codeBytes(pid: pid_t, address: UInt64, count: Int) throws -> [UInt8] {
    let fd = open("/proc/\(pid)/mem", O_RDONLY)
    guard fd >= 0 else { throw TestTargetError("open /proc/\(pid)/mem: errno \(errno)") }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let n = pread(fd, &bytes, count, off_t(address))
    guard n == count else { throw TestTargetError("pread: \(n)") }
    return bytes
}

/// The bytes the file on disk holds for a runtime code address of `pid`.
private func fileBytes(of address: UInt64, pid: pid_t, count: Int) throws -> [UInt8] {
    let maps = try MapsParser.read(pid: pid)
    let cache = ModuleCache()
    let module = try XCTUnwrap(cache.modules(pid: pid, maps: maps).module(containing: address))
    let elf = try XCTUnwrap(cache.elf(for: module))
    let linkTime = module.linkTimeAddress(address)
    let segment = try XCTUnwrap(elf.programHeaders.first {
        $0.isLoad && linkTime >= $0.virtualAddress && linkTime < $0.virtualAddress + $0.fileSize
    })
    let data = try Data(contentsOf: URL(fileURLWithPath: module.path))
    let offset = Int(segment.offset + (linkTime - segment.virtualAddress))
    return Array(data[offset..<offset + count])
}
