/// One object mapped into a live process (the executable, a library,
/// ld.so, the vdso), grouped from its lines in /proc/PID/maps.
public struct LoadedModule: Sendable, Equatable {
    /// As in maps (may be "[vdso]"; a deleted file keeps " (deleted)").
    public let path: String
    /// The last path component, e.g. "libc.so.6".
    public let name: String
    /// The lowest start and highest end of its mappings.
    public let start: UInt64
    public let end: UInt64
    /// runtime address - link-time address.
    public let loadBias: UInt64
    public let mappings: [Mapping]

    public init(path: String, start: UInt64, end: UInt64, loadBias: UInt64, mappings: [Mapping]) {
        self.path = path
        var base = path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
        if let slash = base.lastIndex(of: "/") { base = String(base[base.index(after: slash)...]) }
        self.name = base
        self.start = start
        self.end = end
        self.loadBias = loadBias
        self.mappings = mappings
    }

    public func linkTimeAddress(_ runtime: UInt64) -> UInt64 { runtime &- loadBias }
    public func runtimeAddress(_ linkTime: UInt64) -> UInt64 { linkTime &+ loadBias }

    /// True when one of its own mappings holds `address` (modules may
    /// interleave with other mappings, so start..<end is not enough).
    public func contains(_ address: UInt64) -> Bool {
        mappings.contains { $0.contains(address) }
    }
}

extension Array where Element == LoadedModule {
    public func module(containing address: UInt64) -> LoadedModule? {
        first { $0.start <= address && address < $0.end && $0.contains(address) }
    }
}

/// Where an address is: its module, and the function and section that
/// hold it when the module's symbols and sections say so.
public struct Symbolized: Sendable {
    public let module: LoadedModule
    /// Demangled; nil when no symbol covers the address.
    public let function: String?
    /// Offset into `function`, or, without a function, the address's
    /// offset from the module's link-time base (address - load bias).
    public let offset: UInt64
    public let section: String?
}
