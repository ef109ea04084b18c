// Measurements inside one process, with VMScopeCore linked in: what the
// shell's commands cost once the session is open (no start-up, no attach),
// and the floors (seize + getregs + detach; memcpy).
import Glibc
import VMScopeCore

enum InSession {
    struct Unwind {
        let frames: Int
        let firstWalk: Double
        let steadyWalk: Double
        let steadyNamed: Double
        var microsecondsPerFrame: Double { steadyWalk / Double(max(frames, 1)) * 1e6 }
        var namedMicrosecondsPerFrame: Double { steadyNamed / Double(max(frames, 1)) * 1e6 }
    }

    /// Walks the main thread's stack `repeats` times in one stop: the first
    /// walk parses unwind info (cold), the rest show the steady cost. The
    /// named walks also name every frame as `bt` does (per-module symbol
    /// tables, each distinct address looked up once per walk).
    static func unwind(pid: pid_t, repeats: Int) throws -> Unwind {
        let target = try Target.attach(pid: pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        let maps = try target.maps()
        unwinder.noteMaps(maps)
        var started = monotonicNow()
        let first = try unwinder.backtrace()
        let firstWalk = monotonicNow() - started
        var plain: [Double] = []
        var named: [Double] = []
        let cache = ModuleCache()
        let modules = cache.modules(pid: pid, maps: maps)
        _ = modules.isEmpty ? nil : cache.symbolize(first.frames.first?.ip ?? 0, modules: modules)
        for _ in 0..<repeats {
            started = monotonicNow()
            _ = try unwinder.backtrace()
            plain.append(monotonicNow() - started)
            started = monotonicNow()
            let walk = try unwinder.backtrace()
            // As `bt` does: each distinct address is named once, one lookup a frame.
            var memo: [UInt64: String?] = [:]
            var namedCount = 0
            for frame in walk.frames {
                let address = frame.lookupAddress
                let name: String?
                if let known = memo[address] {
                    name = known
                } else {
                    name = cache.symbolize(address, modules: modules)?.function
                    memo[address] = .some(name)
                }
                if name != nil { namedCount += 1 }
            }
            named.append(monotonicNow() - started)
            if namedCount == 0 { throw SpawnError(description: "no frame of process \(pid) got a name") }
        }
        return Unwind(frames: first.frames.count, firstWalk: firstWalk,
                      steadyWalk: median(plain) ?? 0, steadyNamed: median(named) ?? 0)
    }

    /// In-process floor of a one-shot backtrace: seize and stop every
    /// thread, read each thread's registers, detach.
    static func attachFloor(pid: pid_t, repeats: Int) throws -> Double {
        var times: [Double] = []
        for _ in 0..<repeats {
            let started = monotonicNow()
            let target = try Target.attach(pid: pid)
            for tid in target.threadIDs { _ = try target.registers(tid: tid) }
            try target.detach()
            times.append(monotonicNow() - started)
        }
        return median(times) ?? 0
    }

    struct Bulk {
        let bytes: Int
        let reusedBuffer: Double   // seconds per read into one reused buffer
        let freshArray: Double     // seconds per Target.read (a new array each time)
        let memcpy: Double         // seconds per in-process memcpy of the same size
    }

    /// Reads `size` bytes at `address` of process `pid` and checks them
    /// against the pattern bigheap wrote ((offset * 31 + 7) & 0xff).
    static func bulkRead(pid: pid_t, address: UInt64, size: Int, repeats: Int) throws -> Bulk {
        let target = try Target.attach(pid: pid)
        defer { try? target.detach() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { source.deallocate() }
        guard let into = buffer.baseAddress, let from = source.baseAddress else {
            throw SpawnError(description: "cannot allocate \(size) bytes")
        }
        memset(from, 1, size)
        memset(into, 0, size)  // fault the pages in before timing
        var reused: [Double] = []
        var fresh: [Double] = []
        var copies: [Double] = []
        for _ in 0..<repeats {
            var started = monotonicNow()
            let got = try target.read(address, into: buffer)
            reused.append(monotonicNow() - started)
            guard got.count == size else {
                throw SpawnError(description: "read \(got.count) of \(size) bytes of process \(pid)")
            }
            for offset in stride(from: 0, to: size, by: 4093) where buffer[offset] != UInt8((offset &* 31 &+ 7) & 0xff) {
                throw SpawnError(description: "byte \(offset) of the heap block read wrong")
            }
            started = monotonicNow()
            let array = try target.read(address, count: size)
            fresh.append(monotonicNow() - started)
            guard array.bytes.count == size else { throw SpawnError(description: "short read of process \(pid)") }
            started = monotonicNow()
            memcpy(into, from, size)
            copies.append(monotonicNow() - started)
        }
        return Bulk(bytes: size, reusedBuffer: median(reused) ?? 0, freshArray: median(fresh) ?? 0,
                    memcpy: median(copies) ?? 0)
    }
}
