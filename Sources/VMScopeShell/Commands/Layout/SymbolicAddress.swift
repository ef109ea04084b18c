import VMScopeCore

/// Names addresses for display: plain hex, or (with `--symbolic` / `set
/// symbolic on`) relative to the band that holds them, `heap+0x10`,
/// `libc.so.6+0x29d90`, `stack_top-0x1f0`, so that two runs of one script
/// under ASLR print the same transcript. Build one per command and call
/// `name(_:)` for every address it shows.
public struct AddressNamer {
    public let space: AddressSpace
    public let symbolic: Bool
    /// Non-main thread stacks, highest first (the first thread created is
    /// highest): `thread_stack#1` is the first.
    private let threadStackTops: [UInt64]
    /// Anonymous mappings in address order: `anon#1` is the lowest.
    private let anonStarts: [UInt64]

    public init(space: AddressSpace, symbolic: Bool) {
        self.space = space
        self.symbolic = symbolic
        threadStackTops = space.regions.filter { $0.kind == .threadStack }.map(\.mapping.end).sorted(by: >)
        anonStarts = space.regions.filter { $0.kind == .anon }.map(\.mapping.start)
    }

    /// A namer for the session's target and settings (no brk injection, no
    /// link_map walk: cheap enough for any command).
    public static func forSession(_ session: Session) throws -> AddressNamer {
        let target = try session.requireTarget()
        let space = try AddressSpace.capture(target: target, programBreak: nil, modules: session.modules, linkMap: false)
        return AddressNamer(space: space, symbolic: session.settings.symbolic)
    }

    public func name(_ address: UInt64) -> String {
        symbolic ? symbolicName(address) : hex(address)
    }

    /// The end of a range (exclusive): named from its last byte, so it hangs
    /// on the same anchor as the range ("libc.so.6+0x1d5000", not the next
    /// mapping), unless the end lies inside the same mapping as that byte.
    public func nameEnd(_ end: UInt64) -> String {
        guard symbolic, end > 0 else { return hex(end) }
        guard let (name, base) = endAnchor(end) else { return hex(end) }
        return end >= base ? "\(name)+\(hex(end - base))" : "\(name)-\(hex(base - end))"
    }

    func endAnchor(_ end: UInt64) -> (name: String, base: UInt64)? {
        guard end > 0 else { return anchor(end) }
        if let here = space.maps.mapping(containing: end), here.contains(end - 1) { return anchor(end) }
        // An empty range (the heap before brk) or an unmapped last byte: the end itself.
        return anchor(end - 1) ?? anchor(end)
    }

    /// A range's size, or "-" in symbolic mode when its ends hang on two
    /// anchors (ASLR moves them apart differently each run).
    public func size(_ start: UInt64, _ end: UInt64) -> String {
        if symbolic, end > start, anchor(start)?.name != endAnchor(end)?.name { return "-" }
        return humanSize(end &- start)
    }

    /// The anchor an address is measured from, and the offset.
    public func anchor(_ address: UInt64) -> (name: String, base: UInt64)? {
        let stat = space.stat
        guard let region = space.region(containing: address) else {
            // The heap before its first page exists (start_brk == break).
            if let startBrk = space.startBrk, address >= startBrk, address <= (space.programBreak ?? startBrk) {
                return ("heap", startBrk)
            }
            // Addresses the model fixes (null page, kernel half) read the same in every run.
            return nil
        }
        let m = region.mapping
        switch region.kind {
        case .heap:
            return ("heap", space.startBrk ?? m.start)
        case .stack:
            // The argument and environment strings sit at fixed offsets from the
            // stack's end; below them a random gap (arch_align_stack), then the
            // auxv, envp and argv arrays and argc at start_stack: from there on
            // down offsets repeat run to run when measured from start_stack.
            if let argStart = stat?.argStart, argStart != 0, address >= argStart { return ("stack_end", m.end) }
            if let top = stat?.startStack, top != 0 { return ("stack_top", top) }
            return ("stack_end", m.end)
        case .threadStack:
            let index = (threadStackTops.firstIndex(of: m.end) ?? 0) + 1
            return ("thread_stack#\(index)", m.end)
        case .guardPage where region.tid != nil:
            let above = space.regions.first { $0.kind == .threadStack && $0.tid == region.tid }?.mapping.end ?? m.end
            return ("thread_stack#\((threadStackTops.firstIndex(of: above) ?? 0) + 1)", above)
        case .anon:
            return ("anon#\((anonStarts.firstIndex(of: m.start) ?? 0) + 1)", m.start)
        case .vdso, .vvar, .vsyscall:
            return (m.path.strippingBrackets, m.start)
        default:
            // An object's mappings, .bss tail included, count from its first byte.
            let module = space.modules.last { baseName($0.path) == region.owner && $0.start <= m.start }
            return (region.owner.isEmpty ? "anon" : region.owner, module?.start ?? m.start)
        }
    }

    public func symbolicName(_ address: UInt64) -> String {
        guard let (name, base) = anchor(address) else { return hex(address) }
        return address >= base ? "\(name)+\(hex(address - base))" : "\(name)-\(hex(base - address))"
    }
}

/// How the shell shows an address everywhere: hex, or symbolic when the
/// session asks for it. Other commands may call this for single addresses.
public func displayAddress(_ address: UInt64, session: Session) -> String {
    guard session.settings.symbolic, let namer = try? AddressNamer.forSession(session) else { return hex(address) }
    return namer.name(address)
}

extension String {
    /// "[vdso]" -> "vdso".
    var strippingBrackets: String {
        var s = Substring(self)
        if s.first == "[" { s = s.dropFirst() }
        if s.last == "]" { s = s.dropLast() }
        return String(s)
    }
}
