/// Everything vmscope can say about one 64-bit value as an address.
public struct Location: Sendable {
    public enum Place: Sendable, Equatable {
        /// Below the first page: a null-pointer dereference lands here.
        case nullPage
        /// Below vm.mmap_min_addr: no mapping may ever be placed there.
        case belowMmapMinAddr
        /// Unmapped, below the lowest mapping.
        case belowEverything
        /// Inside a mapping.
        case mapped
        /// Between two mappings (either may be missing at the edges).
        case gap(below: Mapping?, above: Mapping?)
        /// The never-mapped last page of user space.
        case topPage
        case nonCanonical
        /// Kernel half; `mapping` is set for [vsyscall].
        case kernel
    }

    public let address: UInt64
    public let place: Place
    /// The model band's key: "low reserved", "text", "data", "heap",
    /// "mmap region", "stack", "top page", "non-canonical hole", "kernel half",
    /// or "unmapped" for a gap between bands.
    public let band: String
    public let region: Region?
    /// The thread whose stack holds it, and how far below that stack's top.
    public let thread: Int32?
    public let belowStackTop: UInt64?
    public let symbol: Symbolized?

    public var offsetInMapping: UInt64? { region.map { address - $0.mapping.start } }
    /// The offset in the mapped file, for file-backed mappings.
    public var fileOffset: UInt64? {
        guard let m = region?.mapping, m.isFile else { return nil }
        return m.offset + (address - m.start)
    }
}

extension AddressSpace {
    public func locate(_ address: UInt64) -> Location {
        func make(_ place: Location.Place, _ band: String, region: Region? = nil, thread: Int32? = nil,
                  below: UInt64? = nil, symbol: Symbolized? = nil) -> Location {
            Location(address: address, place: place, band: band, region: region, thread: thread,
                     belowStackTop: below, symbol: symbol)
        }
        switch geometry.classify(address) {
        case .nonCanonical: return make(.nonCanonical, "non-canonical hole")
        case .kernel: return make(.kernel, "kernel half", region: region(containing: address))
        case .user: break
        }
        if let region = region(containing: address) {
            let symbol = symbolize(address)
            switch region.kind {
            case .code, .rodata: return make(.mapped, "text", region: region, symbol: symbol)
            case .data, .bss: return make(.mapped, "data", region: region, symbol: symbol)
            case .heap: return make(.mapped, "heap", region: region)
            case .stack:
                return make(.mapped, "stack", region: region, thread: pid, below: region.mapping.end - address)
            case .threadStack:
                return make(.mapped, "mmap region", region: region, thread: region.tid,
                            below: region.mapping.end - address)
            default: return make(.mapped, "mmap region", region: region, thread: region.tid, symbol: symbol)
            }
        }
        if address >= geometry.taskSize { return make(.topPage, "top page") }
        if address < geometry.pageSize { return make(.nullPage, "low reserved") }
        if address < mmapMinAddr { return make(.belowMmapMinAddr, "low reserved") }
        let above = maps.first { $0.start > address }
        let below = maps.last { $0.end <= address }
        guard let below else { return make(.belowEverything, "low reserved") }
        // Unmapped, but inside a band's extent (a hole in the mmap region,
        // heap room below the break's page...), else between bands.
        let band = bands(full: false).first { $0.level == 0 && $0.kind != "low reserved" && $0.contains(address) }
        return make(.gap(below: below, above: above), band?.kind ?? "unmapped")
    }
}
