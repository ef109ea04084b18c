import Glibc

/// A parsed 64-bit little-endian ELF file (x86-64 executables, shared
/// libraries, the vdso, MiniDebugInfo).
///
/// Files are mmap'ed read-only rather than copied (libc is 2 MB and only a
/// few pages of it are ever touched); the mapping lives as long as the
/// object. Everything read from the file is bounds-checked: a truncated or
/// damaged file gives whatever parts can be read (no section table -> no
/// sections), and only a file without a usable ELF header throws.
public final class ELFFile {
    public let path: String
    public let type: UInt16
    public let machine: UInt16
    public let entry: UInt64
    public let programHeaders: [ELFProgramHeader]
    public let sections: [ELFSection]

    let bytes: ELFBytes
    /// How to give the image back: munmap for files, deallocate for copies.
    private let release: () -> Void
    private var cachedSymbols: SymbolTable?
    /// Device, inode, size and modification time of a file opened by path
    /// (nil for images in memory): what the on-disk symbol cache is keyed by.
    private(set) var fileIdentity: String?

    /// Maps the file at `path`. Open/mmap failures throw `.system`; a file
    /// that is not a 64-bit little-endian ELF throws `.malformedELF`.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw VMScopeError.system(operation: "open \(path)", errno: errno) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw VMScopeError.system(operation: "stat \(path)", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw VMScopeError.malformedELF(path: path, reason: "it is not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= Int(ELFConstants.headerSize) else {
            throw VMScopeError.malformedELF(path: path, reason: "it is \(size) bytes long, shorter than an ELF header")
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw VMScopeError.system(operation: "map \(path)", errno: errno)
        }
        let buffer = UnsafeRawBufferPointer(start: address, count: size)
        try self.init(buffer: buffer, name: path) { munmap(address, size) }
        fileIdentity = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// Parses an image held in memory (decompressed MiniDebugInfo, the vdso
    /// read from a process, tests). The bytes are copied once.
    public convenience init(bytes: [UInt8], name: String) throws {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { source in
            if let from = source.baseAddress, let to = storage.baseAddress { to.copyMemory(from: from, byteCount: source.count) }
        }
        let buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<bytes.count])
        try self.init(buffer: buffer, name: name) { storage.deallocate() }
    }

    /// Takes ownership of `buffer`: `release` runs in deinit, or right away
    /// if parsing throws.
    init(buffer: UnsafeRawBufferPointer, name: String, release: @escaping () -> Void) throws {
        let data = ELFBytes(base: buffer)
        func malformed(_ reason: String) -> VMScopeError {
            release()
            return .malformedELF(path: name, reason: reason)
        }
        guard data.count >= Int(ELFConstants.headerSize) else { throw malformed("it is shorter than an ELF header") }
        guard data.u32(0) == 0x464c_457f else { throw malformed("it does not start with the ELF magic number") }
        guard data.u8(4) == 2 else { throw malformed("it is not a 64-bit ELF file") }
        guard data.u8(5) == 1 else { throw malformed("it is not little-endian") }
        self.path = name
        self.bytes = data
        self.release = release
        self.type = data.u16(16) ?? 0
        self.machine = data.u16(18) ?? 0
        self.entry = data.u64(24) ?? 0
        self.programHeaders = Self.readProgramHeaders(data)
        self.sections = Self.readSections(data)
    }

    deinit { release() }

    // MARK: tables

    private static func readProgramHeaders(_ data: ELFBytes) -> [ELFProgramHeader] {
        guard let offset = data.u64(32), let entrySize = data.u16(54), let count = data.u16(56),
              UInt64(entrySize) >= ELFConstants.programHeaderSize, offset != 0 else { return [] }
        var headers: [ELFProgramHeader] = []
        for i in 0..<min(Int(count), ELFConstants.maxProgramHeaders) {
            let (at, overflow) = offset.addingReportingOverflow(UInt64(i) * UInt64(entrySize))
            guard !overflow, data.contains(offset: at, size: ELFConstants.programHeaderSize),
                  let type = data.u32(at), let flags = data.u32(at + 4), let off = data.u64(at + 8),
                  let vaddr = data.u64(at + 16), let filesz = data.u64(at + 32),
                  let memsz = data.u64(at + 40), let align = data.u64(at + 48) else { break }
            headers.append(ELFProgramHeader(type: type, flags: flags, offset: off, virtualAddress: vaddr,
                                            fileSize: filesz, memorySize: memsz, alignment: align))
        }
        return headers
    }

    /// The section header table, with names from .shstrtab. Handles the
    /// extended numbering (e_shnum 0 / e_shstrndx SHN_XINDEX: the real
    /// values are in section 0).
    private static func readSections(_ data: ELFBytes) -> [ELFSection] {
        guard let offset = data.u64(40), offset != 0, let entrySize = data.u16(58),
              UInt64(entrySize) >= ELFConstants.sectionHeaderSize,
              var count = data.u16(60).map(UInt64.init), var nameIndex = data.u16(62).map(UInt64.init),
              data.contains(offset: offset, size: ELFConstants.sectionHeaderSize) else { return [] }
        if count == 0 { count = data.u64(offset + 32) ?? 0 }
        if nameIndex == 0xffff { nameIndex = UInt64(data.u32(offset + 40) ?? 0) }
        struct Raw { let nameOffset: UInt32; let type: UInt32; let flags, address, offset, size: UInt64; let link: UInt32; let entrySize: UInt64 }
        var raws: [Raw] = []
        for i in 0..<min(count, UInt64(ELFConstants.maxSections)) {
            let (at, overflow) = offset.addingReportingOverflow(i * UInt64(entrySize))
            guard !overflow, data.contains(offset: at, size: ELFConstants.sectionHeaderSize),
                  let name = data.u32(at), let type = data.u32(at + 4), let flags = data.u64(at + 8),
                  let addr = data.u64(at + 16), let off = data.u64(at + 24), let size = data.u64(at + 32),
                  let link = data.u32(at + 40), let entsize = data.u64(at + 56) else { break }
            raws.append(Raw(nameOffset: name, type: type, flags: flags, address: addr, offset: off,
                            size: size, link: link, entrySize: entsize))
        }
        var names: (start: UInt64, end: UInt64)?
        if nameIndex < UInt64(raws.count) {
            let table = raws[Int(nameIndex)]
            let (end, overflow) = table.offset.addingReportingOverflow(table.size)
            if !overflow { names = (table.offset, end) }
        }
        return raws.map { raw in
            var name = ""
            if let names, UInt64(raw.nameOffset) < names.end - min(names.end, names.start) {
                name = data.cString(at: names.start + UInt64(raw.nameOffset), end: names.end, limit: 256) ?? ""
            }
            return ELFSection(name: name, type: raw.type, flags: raw.flags, address: raw.address,
                              offset: raw.offset, size: raw.size, link: raw.link, entrySize: raw.entrySize)
        }
    }

    // MARK: questions

    public func section(named name: String) -> ELFSection? {
        sections.first { $0.name == name }
    }

    /// The SHF_ALLOC sections whose link-time addresses overlap `range`,
    /// in address order.
    public func sections(overlapping range: Range<UInt64>) -> [ELFSection] {
        sections.filter { section in
            guard section.isAllocated, section.size > 0 else { return false }
            let end = section.address.addingReportingOverflow(section.size)
            let sectionEnd = end.overflow ? UInt64.max : end.partialValue
            return section.address < range.upperBound && range.lowerBound < sectionEnd
        }.sorted { $0.address < $1.address }
    }

    /// The bytes of a section as they are in the file (nil for NOBITS or
    /// when it lies outside the file; clipped when the file is truncated).
    func contents(of section: ELFSection) -> UnsafeRawBufferPointer? {
        guard !section.hasNoBits else { return nil }
        return bytes.slice(offset: section.offset, size: section.size)
    }

    /// The program interpreter (PT_INTERP), e.g. "/lib64/ld-linux-x86-64.so.2".
    public var interpreter: String? {
        guard let header = programHeaders.first(where: { $0.type == ELFConstants.ptInterp }) else { return nil }
        let (end, overflow) = header.offset.addingReportingOverflow(header.fileSize)
        return bytes.cString(at: header.offset, end: overflow ? UInt64.max : end, limit: 4096)
    }

    /// ET_DYN with an interpreter or DF_1_PIE: a position-independent
    /// executable. A plain shared library is ET_DYN too, and is not one.
    public var isPositionIndependent: Bool {
        guard type == ELFConstants.etDyn else { return false }
        if interpreter != nil { return true }
        return (dynamicEntry(ELFConstants.dtFlags1) ?? 0) & ELFConstants.df1PIE != 0
    }

    public var isSharedLibrary: Bool { type == ELFConstants.etDyn && !isPositionIndependent }

    /// The value of the first PT_DYNAMIC entry with tag `tag`.
    func dynamicEntry(_ tag: UInt64) -> UInt64? {
        guard let header = programHeaders.first(where: { $0.type == ELFConstants.ptDynamic }) else { return nil }
        var at = header.offset
        let count = min(header.fileSize / 16, 4096)
        for _ in 0..<count {
            guard let entryTag = bytes.u64(at), let value = bytes.u64(at + 8) else { return nil }
            if entryTag == ELFConstants.dtNull { return nil }
            if entryTag == tag { return value }
            at += 16
        }
        return nil
    }

    /// The GNU build ID (NT_GNU_BUILD_ID note), from PT_NOTE segments or,
    /// when there are none, SHT_NOTE sections.
    public var buildID: [UInt8]? {
        var areas: [(UInt64, UInt64)] = programHeaders.filter { $0.type == ELFConstants.ptNote }.map { ($0.offset, $0.fileSize) }
        if areas.isEmpty { areas = sections.filter { $0.type == ELFConstants.shtNote }.map { ($0.offset, $0.size) } }
        for (offset, size) in areas {
            if let id = buildIDNote(offset: offset, size: size) { return id }
        }
        return nil
    }

    private func buildIDNote(offset: UInt64, size: UInt64) -> [UInt8]? {
        guard bytes.contains(offset: offset, size: 0) else { return nil }
        let end = offset + min(size, UInt64(bytes.count) - offset)
        var at = offset
        func aligned(_ n: UInt64) -> UInt64 { (n + 3) & ~3 }
        while at + 12 <= end {
            guard let nameSize = bytes.u32(at).map(UInt64.init), let descSize = bytes.u32(at + 4).map(UInt64.init),
                  let noteType = bytes.u32(at + 8) else { return nil }
            let nameAt = at + 12
            let descAt = nameAt + aligned(nameSize)
            guard nameSize < 1 << 20, descSize < 1 << 20, descAt + descSize <= end else { return nil }
            if noteType == ELFConstants.ntGNUBuildID, nameSize == 4,
               bytes.cString(at: nameAt, end: nameAt + 4, limit: 4) == "GNU",
               let desc = bytes.slice(offset: descAt, size: descSize) {
                return Array(desc)
            }
            at = descAt + aligned(descSize)
        }
        return nil
    }

    /// .symtab + .dynsym + the MiniDebugInfo .symtab, built once on first
    /// use. A stripped file (no .symtab) also gets the .symtab of its
    /// separate debug file when one is installed (/usr/lib/debug, found by
    /// build ID or .gnu_debuglink: Debian's libc6-dbg names libc's static
    /// functions this way, since bookworm's libc has no MiniDebugInfo).
    public var symbols: SymbolTable {
        if let cachedSymbols { return cachedSymbols }
        // Built once per file and kept on disk (SymbolTableCache): libc's
        // table with libc6-dbg takes 1.5-2 ms to build, longer than a
        // whole eu-stack backtrace of a small program.
        let cacheKey = symbolCacheKey()
        if let cacheKey, let table = SymbolTableCache.load(key: cacheKey) {
            cachedSymbols = table
            return table
        }
        var builder = SymbolTable.Builder()
        collectSymbols(types: [ELFConstants.shtSymtab, ELFConstants.shtDynsym], into: &builder)
        if let debugData = section(named: ".gnu_debugdata"), let compressed = contents(of: debugData),
           let image = decompressXZ(compressed, limit: MiniDebugInfo.maxSize),
           let inner = try? ELFFile(bytes: image, name: path + " [.gnu_debugdata]") {
            inner.collectSymbols(types: [ELFConstants.shtSymtab], into: &builder)
        }
        if section(named: ".symtab") == nil, let debugFile = separateDebugFile() {
            debugFile.collectSymbols(types: [ELFConstants.shtSymtab], into: &builder)
        }
        let table = builder.build()
        cachedSymbols = table
        if let cacheKey { SymbolTableCache.store(table, key: cacheKey) }
        return table
    }

    /// What the table depends on: this file and, for a stripped file, the
    /// separate debug file found now (installing libc6-dbg changes the key).
    private func symbolCacheKey() -> String? {
        guard let fileIdentity, path.hasPrefix("/") else { return nil }
        var key = "\(path)\n\(fileIdentity)\n"
        if section(named: ".symtab") == nil, let debugFile = separateDebugFile() {
            guard let debugIdentity = debugFile.fileIdentity else { return nil }
            key += "\(debugFile.path)\n\(debugIdentity)\n"
        }
        return key
    }

    /// Where debuggers look for separate debug files.
    public static let debugDirectory = "/usr/lib/debug"

    /// The installed separate debug file of this file, if any, checked to
    /// carry the same build ID.
    func separateDebugFile() -> ELFFile? {
        var candidates: [String] = []
        let id = buildID
        if let id, id.count >= 2 {
            let hex = id.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
            candidates.append("\(Self.debugDirectory)/.build-id/\(hex[0])/\(hex.dropFirst().joined()).debug")
        }
        if let link = section(named: ".gnu_debuglink"), let name = bytes.cString(at: link.offset, end: link.offset &+ link.size, limit: 256),
           !name.isEmpty, !name.contains("/") {
            let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            candidates += ["\(directory)/.debug/\(name)", "\(Self.debugDirectory)\(directory)/\(name)"]
        }
        for candidate in candidates where access(candidate, R_OK) == 0 {
            guard let file = try? ELFFile(path: candidate) else { continue }
            if id == nil || file.buildID == id { return file }
        }
        return nil
    }
}

enum MiniDebugInfo {
    /// Decompressed MiniDebugInfo is a few hundred KiB; anything past this is damage.
    static let maxSize = 64 << 20
}
