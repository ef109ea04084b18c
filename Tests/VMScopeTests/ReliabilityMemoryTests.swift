import Foundation
import XCTest
@testable import VMScopeCore

/// Issue #8, case 6: reads and writes anywhere (unmapped, PROT_NONE, guard
/// pages, [vvar], a userfaultfd page no one serves, non-canonical and
/// kernel addresses, across the end of a mapping, lengths 0 and 2^64-1)
/// give exact partial results or a clear error within a second.
final class ReliabilityMemoryTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try Reliability.temporaryDirectory("memory")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` (attach, reads) on a watched thread: a read that blocks
    /// fails the test instead of hanging the suite.
    private func withHostileTarget(_ body: @escaping @Sendable (Target, TestTarget) throws -> Void) throws {
        let program = try TestTarget("hostile", [directory])
        runOnOwnThread(timeout: 20, "hostile memory") {
            let target = try Target.attach(pid: program.pid)
            defer { try? target.detach() }
            try body(target, program)
        }
        XCTAssertEqual(Reliability.tracedThreads(program.pid), [])
    }

    /// Reads and checks the time a read took.
    private static func timedRead(_ target: Target, _ address: UInt64, _ count: Int, _ what: String,
                                  times: LockedBox<[String: Double]>) throws -> MemoryRead {
        let started = Reliability.now()
        let read = try target.read(address, count: count)
        let took = Reliability.now() - started
        times.value[what] = took
        XCTAssertLessThan(took, 1.0, "\(what): a read took \(took) s")
        return read
    }

    func testEveryHostileAddressAnswersExactlyAndWithinASecond() throws {
        let times = LockedBox<[String: Double]>([:])
        let checked = SharedCounters()
        try withHostileTarget { target, program in
            let read = { (address: UInt64, count: Int, what: String) throws -> MemoryRead in
                checked.add("reads")
                return try Self.timedRead(target, address, count, what, times: times)
            }
            let uffd = try XCTUnwrap(program.address("uffd"))
            // The userfaultfd page: process_vm_readv would block for ever.
            let u = try read(uffd, 16, "uffd page")
            XCTAssertEqual(u.bytes.count, 0, "uffd_mode=\(program.fact("uffd_mode") ?? "?")")
            XCTAssertEqual(u.firstBadAddress, uffd)
            // From the page below (read-write? no: the uffd page is alone) across into it.
            let none = try XCTUnwrap(program.address("none"))
            let rw = try XCTUnwrap(program.address("rw"))
            let guardPage = try XCTUnwrap(program.address("guard"))
            // PROT_NONE, never touched: /proc/PID/mem may read it (zeros) or not at all.
            let n = try read(none, 4096, "PROT_NONE")
            XCTAssertTrue(n.bytes.allSatisfy { $0 == 0 })
            XCTAssertTrue(n.isComplete || n.firstBadAddress == none + UInt64(n.bytes.count))
            // rw page, then the guard page, then rw again: every byte read is 0x5a.
            let g = try read(rw, 3 * 4096, "across a guard page")
            XCTAssertGreaterThanOrEqual(g.bytes.count, 4096)
            XCTAssertTrue(g.bytes.allSatisfy { $0 == 0x5a })
            XCTAssertTrue(g.isComplete || g.firstBadAddress == guardPage, "stopped at \(String(describing: g.firstBadAddress))")
            // The end of a mapping with nothing after it: exactly what exists.
            let maps = try target.maps()
            let lone = try XCTUnwrap(maps.enumerated().first { i, m in
                m.isReadable && (i + 1 == maps.count || maps[i + 1].start != m.end) && m.path == "[stack]"
            }?.element)
            let tail = try read(lone.end - 8, 64, "across the end of [stack]")
            XCTAssertEqual(tail.bytes.count, 8)
            XCTAssertEqual(tail.firstBadAddress, lone.end)
            if let vvar = maps.first(where: { $0.path.hasPrefix("[vvar") }) {
                let v = try read(vvar.start, 64, "[vvar]")
                XCTAssertTrue(v.isComplete || v.firstBadAddress.map { vvar.start...vvar.end ~= $0 } == true)
            }
            let lowest = UInt64(ProcFS.integer("/proc/sys/vm/mmap_min_addr") ?? 4096)
            for (address, what) in [(UInt64(0), "null"), (lowest, "mmap_min_addr"),
                                    (0x0000_8000_0000_0000, "first non-canonical"),
                                    (0x1234_5678_9abc_def0, "non-canonical"),
                                    (0xffff_8000_0000_0000, "kernel half"),
                                    (0xffff_ffff_ff60_0000, "[vsyscall]"),
                                    (UInt64.max, "last byte")] {
                let r = try read(address, 16, what)
                XCTAssertEqual(r.bytes.count, 0, what)
                XCTAssertEqual(r.firstBadAddress, address, what)
                XCTAssertThrowsError(try target.write(address, bytes: [1, 2, 3]), what) { error in
                    XCTAssertEqual(error as? VMScopeError, .unmapped(address: address), what)
                }
            }
            // Lengths 0 and the largest: nothing, and only what exists.
            let zero = try read(rw, 0, "length 0")
            XCTAssertTrue(zero.isComplete && zero.bytes.isEmpty)
            let huge = try read(lone.end - 8, Int.max, "length 2^63-1")
            XCTAssertEqual(huge.bytes.count, 8)
            XCTAssertThrowsError(try target.write(UInt64.max - 1, bytes: [1, 2, 3]))
            // Writes to the userfaultfd page and to [vvar]: an error, at once.
            for (address, what) in [(uffd, "uffd page"), (maps.first { $0.path == "[vvar]" }?.start ?? 0, "[vvar]")]
            where address != 0 {
                let started = Reliability.now()
                XCTAssertThrowsError(try target.write(address, bytes: [1]), what) { error in
                    XCTAssertEqual(error as? VMScopeError, .unmapped(address: address), what)
                }
                XCTAssertLessThan(Reliability.now() - started, 1, "writing to \(what)")
                checked.add("reads")
            }
            // A write to a PROT_NONE page is forced through, as a debugger's poke is.
            try target.write(none, bytes: [0xaa])
            XCTAssertEqual(try read(none, 1, "PROT_NONE after write").bytes, [0xaa])
        }
        let slowest = times.value.max { $0.value < $1.value }
        Reliability.report("memory", ["accesses": checked["reads"], "failures": 0,
                                       "slowest_ms": Reliability.ms(slowest?.value ?? 0),
                                       "slowest": (slowest?.key ?? "-").replacingOccurrences(of: " ", with: "_")])
    }

    func testTheShellAnswersEveryHostileAddressInOneLine() throws {
        let program = try TestTarget("hostile", [directory])
        var steps = ["-ex", "set on-error continue"]
        let addresses = ["0", "0x1000", "0x800000000000", "0xffff800000000000", "0xffffffffff600000",
                         "0xffffffffffffffff", program.fact("uffd") ?? "0", program.fact("none") ?? "0",
                         program.fact("guard") ?? "0", "$rsp-0x100000000"]
        for address in addresses { steps += ["-ex", "x \(address) 32"] }
        steps += ["-ex", "x $rsp 0xffffffffffffffff", "-ex", "x $rsp 0", "-ex", "x 0x10 +", "-ex", "echo alive"]
        let started = Reliability.now()
        let run = try VMScope.run(["--pid", String(program.pid), "--batch"] + steps, timeout: 30)
        XCTAssertLessThan(Reliability.now() - started, 10)
        XCTAssertLessThan(run.status, 128, run.stderr)
        XCTAssertTrue(run.stdout.contains("alive"))
        let errors = run.stderr.split(separator: "\n")
        for line in errors { XCTAssertTrue(line.hasPrefix("error: ") && line.hasSuffix("."), String(line)) }
        XCTAssertTrue(run.stderr.contains("is not mapped in the target"), run.stderr)
        XCTAssertTrue(run.stderr.contains("expected a count of at most"), run.stderr)
        XCTAssertEqual(Reliability.tracedThreads(program.pid), [])
    }

    /// The stack walker follows %rbp into the userfaultfd page (the code has
    /// no unwind info): its reads must not block either.
    func testAWalkIntoAUserfaultPageAnswers() throws {
        let times = LockedBox<[String: Double]>([:])
        try withHostileTarget { target, program in
            let tid = try XCTUnwrap(program.fact("uffd_tid").flatMap { Int32($0) })
            let started = Reliability.now()
            let trace = try target.unwinder().backtrace(tid: tid, maxFrames: 64, timeLimit: 2)
            times.value["walk"] = Reliability.now() - started
            XCTAssertGreaterThan(trace.frames.count, 0)
            let walk = try target.framePointerWalk(tid: tid, maps: try target.maps(), memory: MemoryWindow(target: target))
            XCTAssertGreaterThan(walk.frames.count, 0)
        }
        XCTAssertLessThan(times.value["walk"] ?? 99, 1)
        let program = try TestTarget("hostile", [directory])
        let run = try VMScope.run(["--pid", String(program.pid), "--batch", "-ex", "bt all", "-ex", "stack"], timeout: 20)
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    func testSmapsFlagsOfUserfaultRangesAreParsed() {
        let text = """
        7f0000000000-7f0000001000 rw-p 00000000 00:00 0
        Size:                  4 kB
        VmFlags: rd wr mr mw me ac um
        7f0000001000-7f0000002000 rw-p 00000000 00:00 0
        VmFlags: rd wr mr mw me ac
        7f0000003000-7f0000005000 rw-p 00000000 00:00 0 \tnamed um file
        VmFlags: rd wr mr mw me ac uw

        """
        XCTAssertEqual(UserfaultRanges.parse(Array(text.utf8)),
                       [0x7f00_0000_0000..<0x7f00_0000_1000, 0x7f00_0000_3000..<0x7f00_0000_5000])
    }
}
