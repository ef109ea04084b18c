/// One entry of the program header table: how the loader maps the file.
public struct ELFProgramHeader: Sendable, Equatable {
    public let type: UInt32
    public let flags: UInt32
    public let offset: UInt64
    public let virtualAddress: UInt64
    public let fileSize: UInt64
    public let memorySize: UInt64
    public let alignment: UInt64

    public var isLoad: Bool { type == ELFConstants.ptLoad }
    public var isReadable: Bool { flags & 4 != 0 }
    public var isWritable: Bool { flags & 2 != 0 }
    public var isExecutable: Bool { flags & 1 != 0 }
}

/// One entry of the section header table.
public struct ELFSection: Sendable, Equatable {
    public let name: String
    public let type: UInt32
    public let flags: UInt64
    public let address: UInt64
    public let offset: UInt64
    public let size: UInt64
    public let link: UInt32
    public let entrySize: UInt64

    /// SHF_ALLOC: the section occupies memory in the running process.
    public var isAllocated: Bool { flags & ELFConstants.shfAlloc != 0 }
    /// SHT_NOBITS (.bss, .tbss): takes memory but no bytes in the file.
    public var hasNoBits: Bool { type == ELFConstants.shtNobits }
}

/// The ELF numbers vmscope uses (from <elf.h>, which Swift cannot import
/// as constants of the right types).
public enum ELFConstants {
    public static let etExec: UInt16 = 2
    public static let etDyn: UInt16 = 3
    public static let ptLoad: UInt32 = 1
    public static let ptDynamic: UInt32 = 2
    public static let ptInterp: UInt32 = 3
    public static let ptNote: UInt32 = 4
    public static let ptGNUStack: UInt32 = 0x6474_e551
    public static let ptGNURelro: UInt32 = 0x6474_e552
    public static let shtSymtab: UInt32 = 2
    public static let shtNote: UInt32 = 7
    public static let shtNobits: UInt32 = 8
    public static let shtDynsym: UInt32 = 11
    public static let shfAlloc: UInt64 = 2
    public static let dtNull: UInt64 = 0
    public static let dtFlags1: UInt64 = 0x6fff_fffb
    public static let df1PIE: UInt64 = 0x0800_0000
    public static let ntGNUBuildID: UInt32 = 3
    static let headerSize: UInt64 = 64
    static let programHeaderSize: UInt64 = 56
    static let sectionHeaderSize: UInt64 = 64
    static let symbolSize: UInt64 = 24
    /// Caps against absurd counts in damaged headers.
    static let maxProgramHeaders = 4096
    static let maxSections = 65536
}
