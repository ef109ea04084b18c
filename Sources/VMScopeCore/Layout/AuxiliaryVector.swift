/// The auxiliary vector the kernel put at the top of the main stack at exec
/// (read from /proc/PID/auxv: pairs of 64-bit words up to AT_NULL).
public struct AuxiliaryVector: Sendable {
    public struct Entry: Sendable {
        public let type: UInt64
        public let value: UInt64
        public var name: String { AuxiliaryVector.name(of: type) }
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public subscript(_ type: UInt64) -> UInt64? { entries.first(where: { $0.type == type })?.value }

    public static func read(pid: Int32) throws -> AuxiliaryVector {
        parse(try readWholeFile("/proc/\(pid)/auxv"))
    }

    public static func parse(_ bytes: [UInt8]) -> AuxiliaryVector {
        var entries: [Entry] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let type = word(bytes, offset), value = word(bytes, offset + 8)
            if type == AT.null { break }
            entries.append(Entry(type: type, value: value))
            offset += 16
        }
        return AuxiliaryVector(entries: entries)
    }

    static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<8).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }

    /// The AT_* numbers of <elf.h> that vmscope names.
    public enum AT {
        public static let null: UInt64 = 0, phdr: UInt64 = 3, phent: UInt64 = 4, phnum: UInt64 = 5
        public static let pagesz: UInt64 = 6, base: UInt64 = 7, entry: UInt64 = 9
        public static let platform: UInt64 = 15, hwcap: UInt64 = 16, random: UInt64 = 25
        public static let basePlatform: UInt64 = 24, execfn: UInt64 = 31, sysinfoEhdr: UInt64 = 33
    }

    static let names: [UInt64: String] = [
        0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT", 5: "AT_PHNUM",
        6: "AT_PAGESZ", 7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY", 10: "AT_NOTELF", 11: "AT_UID",
        12: "AT_EUID", 13: "AT_GID", 14: "AT_EGID", 15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK",
        23: "AT_SECURE", 24: "AT_BASE_PLATFORM", 25: "AT_RANDOM", 26: "AT_HWCAP2",
        27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3", 30: "AT_HWCAP4",
        31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR", 51: "AT_MINSIGSTKSZ",
    ]

    static let meanings: [UInt64: String] = [
        3: "program headers of the executable", 4: "size of one program header",
        5: "number of program headers", 6: "page size", 7: "load address of the dynamic linker",
        8: "flags", 9: "entry point of the executable", 11: "real uid", 12: "effective uid",
        13: "real gid", 14: "effective gid", 15: "platform string", 16: "CPU feature bits",
        17: "clock ticks per second", 23: "secure mode (setuid)", 24: "base platform string",
        25: "16 random bytes (stack protector and pointer guard seeds)", 26: "more CPU feature bits",
        27: "rseq feature size", 28: "rseq alignment", 31: "file name given to execve",
        33: "vDSO ELF header", 51: "minimal signal stack size",
    ]

    public static func name(of type: UInt64) -> String { names[type] ?? "AT_\(type)" }
    public static func meaning(of type: UInt64) -> String { meanings[type] ?? "" }
    /// The entries whose value points at a NUL-terminated string in the target.
    public static let stringValued: Set<UInt64> = [AT.platform, AT.basePlatform, AT.execfn]
}
