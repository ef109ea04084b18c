/// The dynamic linker's own list of loaded objects (struct r_debug and its
/// link_map chain), read from the target's memory: AT_PHDR/AT_PHNUM give
/// the executable's program headers, PT_DYNAMIC its dynamic section, whose
/// DT_DEBUG entry ld.so fills with &_r_debug.
public struct LinkMapList: Sendable {
    public struct Entry: Sendable, Equatable {
        /// Address of the link_map node itself.
        public let node: UInt64
        /// l_addr: the load bias (0 for a non-PIE executable).
        public let base: UInt64
        /// l_name as the linker stored it ("" for the executable).
        public let name: String
        /// l_ld: the object's dynamic section in memory.
        public let dynamic: UInt64
    }

    /// Where _r_debug is, when DT_DEBUG has been filled in.
    public let rDebug: UInt64?
    /// r_state: 0 consistent, 1 adding, 2 deleting.
    public let state: UInt64?
    public let entries: [Entry]
    /// Why there is no list (static executable, linker not run yet...).
    public let problem: String?
    /// The executable's load bias, from AT_PHDR minus PT_PHDR's p_vaddr.
    public let executableBias: UInt64?

    static let ptDynamic: UInt32 = 2, ptPhdr: UInt32 = 6
    static let dtNull: UInt64 = 0, dtDebug: UInt64 = 21

    public static func read(target: Target, auxv: AuxiliaryVector) -> LinkMapList {
        func fail(_ why: String, bias: UInt64? = nil) -> LinkMapList {
            LinkMapList(rDebug: nil, state: nil, entries: [], problem: why, executableBias: bias)
        }
        guard let phdr = auxv[AuxiliaryVector.AT.phdr], let phnum = auxv[AuxiliaryVector.AT.phnum],
              phnum > 0, phnum < 4096 else { return fail("the auxiliary vector has no AT_PHDR/AT_PHNUM") }
        let entSize = auxv[AuxiliaryVector.AT.phent] ?? 56
        guard entSize >= 56, entSize <= 256,
              let table = try? target.read(phdr, count: Int(phnum * entSize)), table.isComplete else {
            return fail("the program headers at AT_PHDR cannot be read")
        }
        var dynamicVaddr: UInt64?, phdrVaddr: UInt64?
        for i in 0..<Int(phnum) {
            let at = i * Int(entSize)
            let type = UInt32(truncatingIfNeeded: word(table.bytes, at) & 0xffff_ffff)
            let vaddr = word(table.bytes, at + 16)
            if type == ptDynamic { dynamicVaddr = vaddr }
            if type == ptPhdr { phdrVaddr = vaddr }
        }
        // Without PT_PHDR the headers are assumed to sit at their file offset
        // 64 in the first segment, as every linker places them.
        let bias = phdr &- (phdrVaddr ?? 64)
        guard let dynamicVaddr else { return fail("the executable has no PT_DYNAMIC: it is statically linked", bias: bias) }
        var rDebug: UInt64 = 0
        var at = dynamicVaddr &+ bias
        for _ in 0..<1024 {
            guard let entry = try? target.read(at, count: 16), entry.isComplete else {
                return fail("the dynamic section at \(hexString(dynamicVaddr &+ bias)) cannot be read", bias: bias)
            }
            let tag = word(entry.bytes, 0)
            if tag == dtNull { break }
            if tag == dtDebug { rDebug = word(entry.bytes, 8) }
            at &+= 16
        }
        guard rDebug != 0 else {
            return fail("DT_DEBUG is still 0: the dynamic linker has not run yet (the process is at its first instruction), or the executable has no DT_DEBUG", bias: bias)
        }
        guard let header = try? target.read(rDebug, count: 40), header.isComplete else {
            return fail("r_debug at \(hexString(rDebug)) cannot be read", bias: bias)
        }
        var entries: [Entry] = []
        var node = word(header.bytes, 8)
        var seen = Set<UInt64>()
        while node != 0, seen.insert(node).inserted, entries.count < 4096 {
            guard let lm = try? target.read(node, count: 40), lm.isComplete else { break }
            entries.append(Entry(node: node, base: word(lm.bytes, 0), name: readCString(target, word(lm.bytes, 8)),
                                 dynamic: word(lm.bytes, 16)))
            node = word(lm.bytes, 24)
        }
        return LinkMapList(rDebug: rDebug, state: word(header.bytes, 24), entries: entries, problem: nil,
                           executableBias: bias)
    }

    static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        guard offset + 8 <= bytes.count else { return 0 }
        return AuxiliaryVector.word(bytes, offset)
    }
}

/// A NUL-terminated string from the target (at most 4 KiB; "" if unreadable).
public func readCString(_ target: Target, _ address: UInt64, limit: Int = 4096) -> String {
    guard address != 0 else { return "" }
    var bytes: [UInt8] = []
    var at = address
    while bytes.count < limit {
        // Read up to the end of the page, so a string near an unmapped page still reads.
        let room = Int(4096 - (at & 4095))
        guard let chunk = try? target.read(at, count: min(room, limit - bytes.count)), !chunk.bytes.isEmpty else { break }
        if let nul = chunk.bytes.firstIndex(of: 0) { bytes += chunk.bytes[..<nul]; break }
        bytes += chunk.bytes
        at += UInt64(chunk.bytes.count)
    }
    return String(decoding: bytes, as: UTF8.self)
}
