import CVMScopeShims

/// Everything that decides where the kernel put the target's bands.
public struct ASLRState: Sendable {
    /// /proc/sys/kernel/randomize_va_space: 0 off, 1 stack/mmap/vdso, 2 also brk.
    public let randomizeVASpace: Int?
    /// /proc/PID/personality (nil when unreadable).
    public let personality: UInt64?
    /// The executable's ELF e_type read from its first page in memory: 2 EXEC, 3 DYN (PIE).
    public let elfType: UInt16?
    public let geometry: AddressGeometry
    /// /proc/sys/vm/mmap_min_addr: the lowest address a mapping may have.
    public let mmapMinAddr: UInt64?

    public var addrNoRandomize: Bool { (personality ?? 0) & UInt64(VMS_ADDR_NO_RANDOMIZE) != 0 }
    public var isPIE: Bool? { elfType.map { $0 == 3 } }
    /// Randomisation applies to this process: the system allows it and its
    /// personality does not opt out.
    public var randomized: Bool { (randomizeVASpace ?? 0) > 0 && !addrNoRandomize }

    public static func read(target: Target, maps: [Mapping]) -> ASLRState {
        let personality = readTextFile("/proc/\(target.pid)/personality").flatMap { UInt64($0.trimmingNewline, radix: 16) }
        var elfType: UInt16?
        if let exe = ProcFS.executablePath(pid: target.pid),
           let first = maps.first(where: { $0.path == exe && $0.offset == 0 }),
           let header = try? target.read(first.start, count: 18), header.bytes.count == 18,
           header.bytes[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) {
            elfType = UInt16(header.bytes[16]) | UInt16(header.bytes[17]) << 8
        }
        return ASLRState(randomizeVASpace: ProcFS.integer("/proc/sys/kernel/randomize_va_space"),
                         personality: personality, elfType: elfType, geometry: AddressGeometry.current(),
                         mmapMinAddr: ProcFS.integer("/proc/sys/vm/mmap_min_addr").map { UInt64(max($0, 0)) })
    }
}
