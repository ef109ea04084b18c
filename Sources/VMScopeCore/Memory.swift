import CVMScopeShims
import Glibc

/// What a read returned: the bytes that exist from `address` on, and if the
/// read stopped early, the first address that could not be read.
public struct MemoryRead: Sendable {
    public let address: UInt64
    public let bytes: [UInt8]
    public let firstBadAddress: UInt64?
    public let errno: Int32

    public var isComplete: Bool { firstBadAddress == nil }
}

/// Reads and writes a stopped target's memory.
///
/// Reads go through process_vm_readv in large chunks (no ptrace word
/// peeks); pages it cannot read (no read permission) are retried through
/// /proc/PID/mem, which the kernel serves with FOLL_FORCE. Writes go through
/// /proc/PID/mem, which also writes read-only code pages.
final class MemoryAccess {
    let pid: Int32
    private var memFD: Int32
    static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    /// /proc/PID/mem takes an off_t: addresses from 2^63 up cannot be named.
    static let highestOffset = UInt64(Int64.max)
    /// Reads are done (and their buffer grown) this much at a time.
    static let segmentSize = 16 << 20

    init(pid: Int32) throws {
        self.pid = pid
        memFD = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        if memFD < 0 { memFD = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC) }
    }

    deinit { close() }

    /// Ranges registered with userfaultfd, read once per stop (see UserfaultRanges).
    private var userfaultRanges: [Range<UInt64>]?

    /// The layout may change when the target runs: read the ranges again.
    func forgetLayout() { userfaultRanges = nil }

    /// Whether [address, address+count) touches a userfaultfd range, where
    /// process_vm_readv could block for ever.
    private func touchesUserfault(_ address: UInt64, _ count: Int) -> Bool {
        if userfaultRanges == nil { userfaultRanges = UserfaultRanges.read(pid: pid) }
        guard let ranges = userfaultRanges, !ranges.isEmpty, count > 0 else { return false }
        let end = address &+ UInt64(count) < address ? UInt64.max : address + UInt64(count)
        return ranges.contains { $0.lowerBound < end && address < $0.upperBound }
    }

    /// An open /proc/PID/mem stays bound to the address space it was opened
    /// on: after execve it must be opened again.
    func reopen() {
        close()
        forgetLayout()
        memFD = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        if memFD < 0 { memFD = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC) }
    }

    /// The open /proc/PID/mem (-1 if closed), for the emergency detach.
    var fileDescriptor: Int32 { memFD }

    func close() {
        if memFD >= 0 { Glibc.close(memFD) }
        memFD = -1
    }

    func read(_ address: UInt64, count requested: Int) -> MemoryRead {
        // Never run past the top of the 64-bit space.
        let room = UInt64.max - address
        let count = Int(min(UInt64(max(requested, 0)), room == UInt64.max ? room : room + 1, UInt64(Int.max)))
        // A huge length (up to 2^64-1) must not be allocated up front:
        // beyond one segment, only what is mapped without a gap from
        // `address` on can be read, so the buffer is sized to that.
        let wanted = count > Self.segmentSize ? mappedExtent(from: address, upTo: count) : count
        let memFileOnly = touchesUserfault(address, wanted)
        var outcome = (count: 0, errno: Int32(0))
        // Uninitialised: zero-filling first would cost a second pass over
        // the memory (a quarter of the time of a large read).
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
            outcome = fill(UnsafeMutableRawBufferPointer(buffer), from: address, memFileOnly: memFileOnly)
            initialized = outcome.count
        }
        if outcome.count < count {
            return MemoryRead(address: address, bytes: bytes, firstBadAddress: address + UInt64(outcome.count),
                              errno: outcome.count < wanted ? outcome.errno : EFAULT)
        }
        return MemoryRead(address: address, bytes: bytes, firstBadAddress: nil, errno: 0)
    }

    /// Reads `buffer.count` bytes from `address` into `buffer`: how many
    /// bytes it got (all of them unless memory from there on is unreadable)
    /// and the errno of the failure.
    /// `memFileOnly`: the range touches a userfaultfd region, where
    /// process_vm_readv could block for ever; /proc/PID/mem fails at once.
    func fill(_ buffer: UnsafeMutableRawBufferPointer, from address: UInt64,
              memFileOnly: Bool = false) -> (count: Int, errno: Int32) {
        guard let base = buffer.baseAddress else { return (0, 0) }
        let count = buffer.count
        var done = 0
        var lastErrno: Int32 = 0
        while done < count {
            if !memFileOnly {
                let n = vms_process_vm_readv(pid, base + done, count - done, address + UInt64(done))
                if n > 0 { done += n; continue }
                lastErrno = n < 0 ? errno : EFAULT
                if n < 0 && lastErrno == EINTR { continue }
            }
            // Fall back to /proc/PID/mem one page at a time.
            let got = readThroughMemFile(base + done, count - done, address + UInt64(done))
            if got.count == 0 {
                if got.errno != 0 { lastErrno = got.errno }
                break
            }
            done += got.count
        }
        return (done, done < count ? lastErrno : 0)
    }

    /// How many of `count` bytes from `address` lie in mappings that follow
    /// each other without a gap (at least one segment, so a short read
    /// still reports its own failure).
    private func mappedExtent(from address: UInt64, upTo count: Int) -> Int {
        guard let maps = try? MapsParser.read(pid: pid) else { return Self.segmentSize }
        var end = address
        for mapping in maps where mapping.end > end {
            guard mapping.start <= end else { break }
            end = mapping.end
        }
        return Int(min(UInt64(count), max(end &- address, UInt64(Self.segmentSize))))
    }

    /// Reads up to the end of the page at `address` and on through any
    /// following pages that /proc/PID/mem serves.
    private func readThroughMemFile(_ into: UnsafeMutableRawPointer, _ count: Int, _ address: UInt64)
        -> (count: Int, errno: Int32) {
        guard memFD >= 0, address <= Self.highestOffset else { return (0, EIO) }
        var done = 0
        while done < count {
            let here = address + UInt64(done)
            if here > Self.highestOffset { break }
            let pageEnd = (here | (Self.pageSize - 1)) &+ 1
            let chunk = Int(min(UInt64(count - done), pageEnd == 0 ? UInt64(count - done) : pageEnd - here))
            let n = pread(memFD, into + done, chunk, off_t(Int64(bitPattern: here)))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return (done, n < 0 ? errno : EIO) }
            done += n
            // Once the fallback has crossed into a page process_vm_readv may
            // read, hand back to the fast path.
            if n == chunk && done > 0 && here + UInt64(n) == pageEnd { return (done, 0) }
        }
        return (done, 0)
    }

    func write(_ address: UInt64, bytes: [UInt8]) throws {
        guard memFD >= 0 else { throw VMScopeError.system(operation: "open /proc/\(pid)/mem", errno: EACCES) }
        guard address <= Self.highestOffset, UInt64.max - address >= UInt64(bytes.count) else {
            throw VMScopeError.unmapped(address: address)
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                pwrite(memFD, $0.baseAddress! + done, bytes.count - done, off_t(Int64(bitPattern: address + UInt64(done))))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let err = n < 0 ? errno : EIO
                if err == EIO || err == EFAULT { throw VMScopeError.unmapped(address: address + UInt64(done)) }
                throw VMScopeError.system(operation: "write memory at 0x\(String(address + UInt64(done), radix: 16))", errno: err)
            }
            done += n
        }
    }
}
