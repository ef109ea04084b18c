import Foundation
import XCTest
@testable import VMScopeCore

/// The libunwind walk and the rbp walk against real processes, checked
/// against the frame addresses the targets print themselves.
final class StackUnwindTests: XCTestCase {
    /// depth -> (fp, local) from the recursion target's "frame depth=D fp= local=" lines.
    private func recordedFrames(_ program: TestTarget) -> [Int: (fp: UInt64, local: UInt64)] {
        var result: [Int: (UInt64, UInt64)] = [:]
        for line in program.startupLines where line.hasPrefix("frame ") {
            let f = program.fields(line)
            if let depth = f["depth"].flatMap({ Int($0) }), let fp = f["fp"].flatMap(program.parseHex),
               let local = f["local"].flatMap(program.parseHex) { result[depth] = (fp, local) }
        }
        return result
    }

    private func names(_ backtrace: Backtrace, _ target: Target, _ cache: ModuleCache) throws -> [String] {
        let modules = cache.modules(pid: target.pid, maps: try target.maps())
        return backtrace.frames.map { cache.symbolize($0.lookupAddress, modules: modules)?.function ?? "?" }
    }

    func testEveryRecursionFrameMatchesTheTargetsRecord() throws {
        for (binary, depth) in [("recurse", 10), ("recurse-O2", 12)] {
            let program = try TestTarget(binary, [String(depth)])
            let target = try Target.attach(pid: program.pid)
            defer { try? target.detach() }
            let backtrace = try target.unwinder().backtrace()
            XCTAssertEqual(backtrace.stop, .end, binary)
            let names = try names(backtrace, target, ModuleCache())
            let recurseFrames = backtrace.frames.filter { names[$0.index] == "recurse" }
            XCTAssertEqual(recurseFrames.count, depth, "\(binary): \(names)")
            let recorded = recordedFrames(program)
            XCTAssertEqual(recorded.count, depth)
            // Innermost first: depth N, N-1, ... 1.
            for (offset, frame) in recurseFrames.enumerated() {
                let level = depth - offset
                guard let record = recorded[level], let cfa = frame.cfa else { return XCTFail("\(binary) depth \(level)") }
                XCTAssertEqual(cfa - 16, record.fp, "\(binary) depth \(level): CFA-16 is the frame base the target printed")
                XCTAssertTrue(frame.sp <= record.local && record.local < cfa, "\(binary) depth \(level): its local lies in the frame")
            }
            // Each callee's CFA is below its caller's.
            let cfas = backtrace.frames.compactMap(\.cfa)
            XCTAssertEqual(cfas.count, backtrace.frames.count - 1)
            XCTAssertEqual(cfas, cfas.sorted())
            XCTAssertEqual(Set(cfas).count, cfas.count)
            // Frame 0 is where the thread is; the walk ends in _start.
            XCTAssertEqual(backtrace.frames.first?.ip, try target.registers().rip)
            XCTAssertEqual(backtrace.frames.first?.sp, try target.registers().rsp)
            XCTAssertEqual(names.last, "_start", "\(names)")
            let mainIndex = try XCTUnwrap(names.firstIndex(of: "main"))
            XCTAssertEqual(names[mainIndex + 1], "__libc_start_call_main", "\(names)")
        }
    }

    /// 10,000 frames: all found, in order; the figure goes in the README.
    func testTenThousandFrames() throws {
        let program = try TestTarget("recurse", ["10000"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        let first = try unwinder.backtrace()
        let again = try unwinder.backtrace()
        XCTAssertEqual(first.stop, .end)
        XCTAssertEqual(first.frames, again.frames)
        let names = try names(first, target, ModuleCache())
        XCTAssertEqual(names.filter { $0 == "recurse" }.count, 10_000)
        let cfas = first.frames.compactMap(\.cfa)
        XCTAssertTrue(zip(cfas, cfas.dropFirst()).allSatisfy { $0 < $1 })
        print("unwind of \(first.frames.count) frames: \(String(format: "%.1f", first.seconds * 1000)) ms first, \(String(format: "%.1f", again.seconds * 1000)) ms again; cache \(unwinder.statistics)")
        // A frame limit stops early and says so.
        let limited = try unwinder.backtrace(maxFrames: 50)
        XCTAssertEqual(limited.frames.count, 50)
        XCTAssertEqual(limited.stop, .maxFrames)
        XCTAssertEqual(Array(limited.frames.prefix(49)), Array(first.frames.prefix(49)))
    }

    func testEveryThreadReachesItsStartFunction() throws {
        let program = try TestTarget("threads", ["3"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let cache = ModuleCache()
        var workers = 0
        let workerTIDs = program.startupLines.filter { $0.hasPrefix("thread ") }.compactMap { program.fields($0)["tid"].flatMap { Int32($0) } }
        XCTAssertEqual(workerTIDs.count, 3)
        for tid in target.threadIDs {
            let backtrace = try target.unwinder().backtrace(tid: tid)
            XCTAssertEqual(backtrace.tid, tid)
            XCTAssertEqual(backtrace.stop, .end)
            let names = try names(backtrace, target, cache)
            if tid == target.pid {
                XCTAssertEqual(Array(names.suffix(4)), ["main", "__libc_start_call_main", "__libc_start_main", "_start"], "\(names)")
            } else {
                workers += 1
                XCTAssertTrue(workerTIDs.contains(tid))
                let park = try XCTUnwrap(names.firstIndex(of: "worker_park"), "\(names)")
                XCTAssertEqual(Array(names[park...].prefix(3)), ["worker_park", "worker", "start_thread"], "\(names)")
                XCTAssertTrue(names.last?.contains("clone") ?? false, "\(names)")
            }
        }
        XCTAssertEqual(workers, 3)
    }

    /// Under -O2 -fomit-frame-pointer the rbp chain breaks; .eh_frame does not.
    func testFramePointerWalkFailsWithoutFramePointers() throws {
        for (binary, complete) in [("recurse", true), ("recurse-O2", false)] {
            let program = try TestTarget(binary, ["8"])
            let target = try Target.attach(pid: program.pid)
            defer { try? target.detach() }
            let maps = try target.maps()
            let walk = try target.framePointerWalk(maps: maps, memory: MemoryWindow(target: target))
            let cache = ModuleCache()
            let modules = cache.modules(pid: target.pid, maps: maps)
            let fpNames = walk.frames.map { cache.symbolize($0.index == 0 ? $0.ip : $0.ip - 1, modules: modules)?.function ?? "?" }
            let unwound = try names(try target.unwinder().backtrace(), target, cache)
            XCTAssertEqual(unwound.filter { $0 == "recurse" }.count, 8)
            if complete {
                // With frame pointers the chain holds all the way to main, but
                // it misses the innermost recurse: the thread stopped in libc's
                // pause, which keeps no frame pointer, so rbp still names
                // recurse's frame and its return address is never seen.
                XCTAssertEqual(fpNames.filter { $0 == "recurse" }.count, 7, "\(fpNames)")
                XCTAssertTrue(fpNames.contains("main"), "\(fpNames)")
            } else {
                XCTAssertLessThan(fpNames.filter { $0 == "recurse" }.count, 7, "\(fpNames) \(walk.stop)")
                XCTAssertFalse(fpNames.contains("main"), "\(fpNames)")
                XCTAssertNotEqual(walk.stop, .end)
            }
        }
    }

    /// A thread parked inside a signal handler: the walk crosses the
    /// kernel's signal frame (__restore_rt) into the interrupted code.
    func testWalkCrossesASignalFrame() throws {
        let program = try TestTarget("sighandler")
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let backtrace = try target.unwinder().backtrace()
        XCTAssertEqual(backtrace.stop, .end)
        let names = try names(backtrace, target, ModuleCache())
        let trampoline = try XCTUnwrap(names.firstIndex(of: "__restore_rt"), "\(names)")
        XCTAssertTrue(backtrace.frames[trampoline].isSignalFrame)
        XCTAssertNil(backtrace.frames[trampoline].returnAddressSlot)
        XCTAssertTrue(backtrace.frames[trampoline + 1].wasInterrupted)
        XCTAssertFalse(backtrace.frames[trampoline + 1].ipIsReturnAddress)
        XCTAssertEqual(backtrace.frames.filter(\.isSignalFrame).count, 1)
        XCTAssertEqual(Array(names[(trampoline - 2)...trampoline]), ["in_handler", "on_signal", "__restore_rt"])
        XCTAssertTrue(names[trampoline...].contains("interrupted") && names.contains("main"), "\(names)")
        let handler = backtrace.frames[trampoline - 2]
        XCTAssertEqual(handler.cfa.map { $0 - 16 }, program.fact("handler_fp").flatMap(program.parseHex))
        let cfas = backtrace.frames.compactMap(\.cfa)
        XCTAssertTrue(zip(cfas, cfas.dropFirst()).allSatisfy { $0 < $1 }, "the handler runs below the interrupted code")
    }

    /// When the mapped code changes (exec, dlopen), libunwind's cached
    /// unwind info and its _UPT handle are replaced; walks stay right.
    func testChangedCodeFlushesTheUnwindCaches() throws {
        let program = try TestTarget("recurse", ["5"])
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        let maps = try target.maps()
        unwinder.noteMaps(maps)
        let before = try unwinder.backtrace()
        let readsBefore = unwinder.statistics.pageReads
        // Pretend a library went away: the signature changes, everything is flushed.
        unwinder.noteMaps(maps.filter { !($0.isExecutable && $0.path.contains("libc")) })
        unwinder.noteMaps(maps)
        target.willResume()
        let after = try unwinder.backtrace()
        XCTAssertEqual(after.frames, before.frames)
        XCTAssertEqual(after.stop, .end)
        XCTAssertGreaterThan(unwinder.statistics.pageReads, readsBefore, "the page cache was refilled")
    }
}
