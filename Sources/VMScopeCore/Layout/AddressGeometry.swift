import Glibc

/// Which part of the 64-bit space an address falls in.
public enum CanonicalPart: String, Sendable {
    /// The lower canonical half: user space.
    case user
    /// Bits 63..N-1 are not all equal: no page table can map it.
    case nonCanonical = "non-canonical"
    /// The upper canonical half: the kernel's.
    case kernel
}

/// The limits of the 64-bit space under the paging mode this machine runs:
/// 4-level paging gives 48-bit virtual addresses, 5-level (la57) 57-bit.
/// Measured, never assumed.
public struct AddressGeometry: Sendable, Equatable {
    /// Virtual address bits the kernel uses for user space (48 or 57).
    public let virtualBits: Int
    /// The CPU advertises la57 (5-level paging) in /proc/cpuinfo.
    public let cpuHasLA57: Bool
    /// The `address sizes` line's virtual bits (what the CPU supports).
    public let cpuVirtualBits: Int?
    public let pageSize: UInt64

    /// First non-canonical address: 0x0000800000000000 with 48 bits.
    public var userLimit: UInt64 { 1 << UInt64(virtualBits - 1) }
    /// First address of the kernel half: 0xffff800000000000 with 48 bits.
    public var kernelStart: UInt64 { ~(userLimit - 1) }
    /// The kernel's TASK_SIZE: the last user page below userLimit is never mapped.
    public var taskSize: UInt64 { userLimit - pageSize }
    public var usesFiveLevelPaging: Bool { virtualBits == 57 }

    public init(virtualBits: Int, cpuHasLA57: Bool, cpuVirtualBits: Int?, pageSize: UInt64) {
        self.virtualBits = virtualBits; self.cpuHasLA57 = cpuHasLA57
        self.cpuVirtualBits = cpuVirtualBits; self.pageSize = pageSize
    }

    /// Canonical means bits 63..(bits-1) all equal bit (bits-1).
    public func classify(_ address: UInt64) -> CanonicalPart {
        if address < userLimit { return .user }
        if address >= kernelStart { return .kernel }
        return .nonCanonical
    }

    /// This machine's geometry, measured once (it cannot change while we run).
    public static func current() -> AddressGeometry { measured }

    private static let measured = measure()

    /// Reads /proc/cpuinfo (la57 flag, `address sizes`). A CPU with la57 may
    /// still run a 4-level kernel, so that case is settled by asking the
    /// kernel for a mapping above 2^47: it only places one there under
    /// 5-level paging.
    static func measure() -> AddressGeometry {
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        var la57 = false
        var cpuBits: Int?
        if let text = readTextFile("/proc/cpuinfo") {
            for line in text.split(separator: "\n") {
                if cpuBits == nil, line.hasPrefix("address sizes") {
                    // "address sizes\t: 46 bits physical, 48 bits virtual"
                    let words = line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ":" || $0 == "\t" })
                    if let v = words.firstIndex(of: "virtual"), v >= 2 { cpuBits = Int(words[v - 2]) }
                }
                if !la57, line.hasPrefix("flags") {
                    la57 = line.split(separator: " ").contains("la57")
                }
                if la57 && cpuBits != nil { break }
            }
        }
        var bits = 48
        if la57 && kernelMapsAbove47Bits(pageSize: page) { bits = 57 }
        return AddressGeometry(virtualBits: bits, cpuHasLA57: la57, cpuVirtualBits: cpuBits, pageSize: page)
    }

    /// mmap with a hint at 2^50 (no MAP_FIXED): a 5-level kernel honours it,
    /// a 4-level one places the mapping below 2^47.
    private static func kernelMapsAbove47Bits(pageSize: UInt64) -> Bool {
        let hint = UnsafeMutableRawPointer(bitPattern: UInt(1) << 50)
        guard let p = mmap(hint, Int(pageSize), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { return false }
        defer { munmap(p, Int(pageSize)) }
        return UInt(bitPattern: p) >= UInt(1) << 47
    }
}
