import Glibc

/// Finds the modules of a live process and keeps their parsed ELF files,
/// so that each file's symbols are read once per session, not once per
/// frame. One instance per session; not thread-safe (the core is
/// synchronous).
///
/// A file is cached by device + inode + path: a library replaced on disk
/// (new inode) is read again, the same library in another process is not.
public final class ModuleCache {
    /// nil records a file that could not be read or parsed, so it is not retried.
    private var files: [String: ELFFile?] = [:]

    public init() {}

    /// Groups the file-backed mappings of `maps` by file (path + device +
    /// inode) into modules, in address order, with their load biases. The
    /// vdso has no file: it is included only when `readMemory` is given
    /// (its bytes are read from the process); otherwise it is skipped.
    public func modules(pid: Int32, maps: [Mapping],
                        readMemory: ((UInt64, Int) -> [UInt8]?)? = nil) -> [LoadedModule] {
        var groups: [String: [Mapping]] = [:]
        var order: [String] = []
        for mapping in maps {
            let key: String
            if mapping.isFile {
                key = Self.fileKey(mapping)
            } else if mapping.path == "[vdso]", readMemory != nil {
                key = "[vdso]:\(pid):\(mapping.start)"
            } else {
                continue
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(mapping)
        }
        var result: [LoadedModule] = []
        for key in order {
            guard let group = groups[key], let first = group.first else { continue }
            let elf: ELFFile?
            if first.path == "[vdso]" {
                elf = vdso(key: key, mapping: first, readMemory: readMemory)
            } else {
                elf = file(key: key, mapping: first, pid: pid)
            }
            let start = group.map(\.start).min() ?? first.start
            let end = group.map(\.end).max() ?? first.end
            result.append(LoadedModule(path: first.path, start: start, end: end,
                                       loadBias: Self.loadBias(group, elf: elf), mappings: group))
        }
        return result.sorted { $0.start < $1.start }
    }

    /// The parsed file of a module found by `modules(pid:maps:)`; nil when
    /// it is unreadable or malformed. Never throws.
    public func elf(for module: LoadedModule) -> ELFFile? {
        guard let first = module.mappings.first else { return nil }
        if first.path == "[vdso]" {
            return files.first(where: { $0.key.hasPrefix("[vdso]:") && $0.key.hasSuffix(":\(first.start)") })?.value ?? nil
        }
        let key = Self.fileKey(first)
        if let cached = files[key] { return cached }
        return file(key: key, mapping: first, pid: nil)
    }

    /// The module, function (demangled), offset and section of a runtime address.
    public func symbolize(_ address: UInt64, modules: [LoadedModule]) -> Symbolized? {
        guard let module = modules.module(containing: address) else { return nil }
        let linkTime = module.linkTimeAddress(address)
        guard let elf = elf(for: module) else {
            return Symbolized(module: module, function: nil, offset: linkTime, section: nil)
        }
        let section = elf.sections(overlapping: linkTime..<(linkTime &+ 1)).first?.name
        if let (symbol, offset) = elf.symbols.symbol(containing: linkTime) {
            return Symbolized(module: module, function: demangle(symbol.name), offset: offset, section: section)
        }
        return Symbolized(module: module, function: nil, offset: linkTime, section: section)
    }

    /// The runtime address of a symbol. `name` may be "module:symbol"
    /// ("libc.so.6:printf", or a prefix such as "libc:printf") to pick the
    /// module. A global definition wins over a local one.
    public func address(ofSymbol name: String, modules: [LoadedModule]) -> UInt64? {
        var candidates = modules
        var symbolName = name
        if let colon = name.lastIndex(of: ":"), colon != name.startIndex {
            let wanted = String(name[..<colon])
            symbolName = String(name[name.index(after: colon)...])
            candidates = modules.filter { $0.name == wanted || $0.path == wanted }
            if candidates.isEmpty { candidates = modules.filter { $0.name.hasPrefix(wanted) } }
        }
        var local: UInt64?
        for module in candidates {
            guard let symbol = elf(for: module)?.symbols.symbol(named: symbolName) else { continue }
            if !symbol.isLocal { return module.runtimeAddress(symbol.value) }
            if local == nil { local = module.runtimeAddress(symbol.value) }
        }
        return local
    }

    // MARK: loading

    static func fileKey(_ mapping: Mapping) -> String {
        "\(mapping.device):\(mapping.inode):\(mapping.path)"
    }

    /// Opens the file behind a mapping. A deleted or unreadable path is
    /// tried through /proc/PID/map_files/START-END, which still reaches the
    /// mapped file.
    private func file(key: String, mapping: Mapping, pid: Int32?) -> ELFFile? {
        if let cached = files[key] { return cached }
        var elf: ELFFile?
        if !mapping.isDeleted, access(mapping.path, R_OK) == 0 {
            elf = try? ELFFile(path: mapping.path)
        }
        if elf == nil, let pid {
            let alternative = "/proc/\(pid)/map_files/\(String(mapping.start, radix: 16))-\(String(mapping.end, radix: 16))"
            elf = try? ELFFile(path: alternative)
        }
        // Without a pid a failure may be temporary (map_files not tried): do not remember it.
        if elf != nil || pid != nil { files[key] = .some(elf) }
        return elf
    }

    private func vdso(key: String, mapping: Mapping, readMemory: ((UInt64, Int) -> [UInt8]?)?) -> ELFFile? {
        if let cached = files[key] { return cached }
        guard let readMemory, mapping.size <= 1 << 20,
              let bytes = readMemory(mapping.start, Int(mapping.size)) else { return nil }
        let elf = try? ELFFile(bytes: bytes, name: "[vdso]")
        files[key] = .some(elf)
        return elf
    }

    /// runtime - link-time: the PT_LOAD whose page-aligned file offset is a
    /// mapping's offset was placed at that mapping's start. Without an ELF,
    /// assume link-time addresses equal file offsets (true of PIE and
    /// shared libraries built by the usual linkers).
    static func loadBias(_ group: [Mapping], elf: ELFFile?) -> UInt64 {
        let page = MemoryAccess.pageSize
        let mask = ~(page - 1)
        if let elf {
            let loads = elf.programHeaders.filter(\.isLoad)
            for mapping in group.sorted(by: { $0.start < $1.start }) {
                if let load = loads.first(where: { $0.offset & mask == mapping.offset }) {
                    return mapping.start &- (load.virtualAddress & mask)
                }
            }
        }
        let lowest = group.min { $0.start < $1.start }
        return (lowest?.start ?? 0) &- (lowest?.offset ?? 0)
    }
}
