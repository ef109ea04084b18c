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
        // Room for what exists only, a segment at a time: a length of 2^63
        // must not be allocated up front.
        var bytes: [UInt8] = []
        var done = 0
        var lastErrno: Int32 = 0
        let memFileOnly = touchesUserfault(address, count)
        while done < count {
            let segment = min(count - done, Self.segmentSize)
            var chunk = [UInt8](repeating: 0, count: segment)
            var got = 0
            let at = address + UInt64(done)
            chunk.withUnsafeMutableBytes { buffer in
                let base = buffer.baseAddress!
                while got < segment {
                    if !memFileOnly {
                        let n = vms_process_vm_readv(pid, base + got, segment - got, at + UInt64(got))
                        if n > 0 { got += n; continue }
                        lastErrno = n < 0 ? errno : EFAULT
                        if n < 0 && lastErrno == EINTR { continue }
                    }
                    // Fall back to /proc/PID/mem one page at a time.
                    let more = readThroughMemFile(base + got, segment - got, at + UInt64(got))
                    if more.count == 0 {
                        if more.errno != 0 { lastErrno = more.errno }
                        break
                    }
                    got += more.count
                }
            }
            done += got
            if bytes.isEmpty && got == segment { bytes = chunk } else { bytes.append(contentsOf: chunk[0..<got]) }
            if got < segment { break }
        }
        if done < count {
            return MemoryRead(address: address, bytes: bytes, firstBadAddress: address + UInt64(done),
                              errno: lastErrno)
        }
        return MemoryRead(address: address, bytes: bytes, firstBadAddress: nil, errno: 0)
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
