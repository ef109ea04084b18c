/// What a line of /proc/PID/maps holds, in the model's terms.
public enum RegionKind: String, Sendable, CaseIterable {
    case code, rodata, data, bss, heap, stack
    case threadStack = "thread stack"
    case library, anon, vdso, vvar
    case guardPage = "guard"
    case vsyscall

    /// One line per kind for the `maps` legend.
    public var meaning: String {
        switch self {
        case .code: return "the executable's machine code (r-x)"
        case .rodata: return "the executable's read-only parts: ELF headers, .rodata, RELRO"
        case .data: return "the executable's initialised data (.data), from the file"
        case .bss: return "zero-filled data beyond the file (.bss), anonymous"
        case .heap: return "the brk heap, from start_brk up to the program break"
        case .stack: return "the main thread's stack, argv/envp/auxv at its top"
        case .threadStack: return "another thread's stack: an anonymous mapping in the mmap region"
        case .library: return "a shared library or the dynamic linker (one group of mappings each)"
        case .anon: return "anonymous memory from mmap (malloc arenas, large blocks...)"
        case .vdso: return "the kernel's virtual shared object (fast system calls)"
        case .vvar: return "kernel data the vDSO reads (clock pages)"
        case .guardPage: return "no access: a guard page or a hole inside a library"
        case .vsyscall: return "the legacy vsyscall page, in the kernel half"
        }
    }
}

/// One mapping, classified: its kind, the object or thread that owns it,
/// and which part of that object it holds.
public struct Region: Sendable {
    public let mapping: Mapping
    public let kind: RegionKind
    /// "heapgrow", "libc.so.6", "thread 4243", "[heap]", "" for plain anonymous memory.
    public let owner: String
    /// The thread whose stack (or stack guard) this is.
    public let tid: Int32?
    /// The ELF sections it holds (link-time names, e.g. [".text", ".fini"]), when known.
    public var sections: [String]

    public init(mapping: Mapping, kind: RegionKind, owner: String, tid: Int32? = nil, sections: [String] = []) {
        self.mapping = mapping; self.kind = kind; self.owner = owner; self.tid = tid; self.sections = sections
    }
}

/// The stack of one thread, found from its stack pointer.
public struct ThreadStack: Sendable {
    public let tid: Int32
    public let isMain: Bool
    public let rsp: UInt64
    /// The mapping holding rsp (nil if rsp points at no mapping).
    public let mapping: Mapping?
    /// The no-access page(s) right below it that stop an overflow.
    public let guardMapping: Mapping?
    /// The highest address of the stack (its mapping's end).
    public var top: UInt64? { mapping?.end }
}

/// The last path component, without a " (deleted)" suffix: how maps paths
/// name their objects ("libc.so.6").
public func baseName(_ path: String) -> String {
    var base = path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
    if let slash = base.lastIndex(of: "/") { base = String(base[base.index(after: slash)...]) }
    return base
}

enum RegionClassifier {
    /// Classifies every mapping. `stacks` maps a thread's rsp to its tid.
    static func classify(_ maps: [Mapping], executable: String?, threadRSP: [Int32: UInt64], pid: Int32) -> [Region] {
        var stackOwner: [Int: Int32] = [:]
        for (tid, rsp) in threadRSP.sorted(by: { $0.key < $1.key }) {
            if let index = maps.firstIndex(where: { $0.contains(rsp) }), stackOwner[index] == nil || tid == pid {
                stackOwner[index] = tid
            }
        }
        var regions: [Region] = []
        for (i, m) in maps.enumerated() {
            let previous = i > 0 ? maps[i - 1] : nil
            let next = i + 1 < maps.count ? maps[i + 1] : nil
            switch m.path {
            case "[heap]": regions.append(Region(mapping: m, kind: .heap, owner: "[heap]")); continue
            case "[stack]": regions.append(Region(mapping: m, kind: .stack, owner: "[stack]", tid: pid)); continue
            case "[vdso]": regions.append(Region(mapping: m, kind: .vdso, owner: "[vdso]")); continue
            case "[vsyscall]": regions.append(Region(mapping: m, kind: .vsyscall, owner: "[vsyscall]")); continue
            default: break
            }
            if m.path.hasPrefix("[vvar") { regions.append(Region(mapping: m, kind: .vvar, owner: m.path)); continue }
            if m.path.hasPrefix("/") {
                let owner = baseName(m.path)
                if m.perms.hasPrefix("---") {
                    regions.append(Region(mapping: m, kind: .guardPage, owner: owner))
                } else if m.path == executable {
                    let kind: RegionKind = m.isExecutable ? .code : m.isWritable ? .data : .rodata
                    regions.append(Region(mapping: m, kind: kind, owner: owner))
                } else {
                    regions.append(Region(mapping: m, kind: .library, owner: owner))
                }
                continue
            }
            if let tid = stackOwner[i], tid != pid {
                regions.append(Region(mapping: m, kind: .threadStack, owner: "thread \(tid)", tid: tid))
                continue
            }
            if m.perms.hasPrefix("---") {
                // glibc puts a thread's guard page right below its stack.
                if let next, next.start == m.end, let tid = stackOwner[i + 1], tid != pid {
                    regions.append(Region(mapping: m, kind: .guardPage, owner: "thread \(tid)", tid: tid))
                } else {
                    regions.append(Region(mapping: m, kind: .guardPage, owner: ""))
                }
                continue
            }
            // The zero-filled tail of an object's data (.bss beyond the file):
            // anonymous rw-p right after the object's last rw-p file mapping.
            if m.isWritable, m.inode == 0, m.path.isEmpty, let previous, previous.end == m.start,
               previous.isWritable, previous.path.hasPrefix("/") {
                let isExe = previous.path == executable
                regions.append(Region(mapping: m, kind: isExe ? .bss : .library, owner: baseName(previous.path)))
                continue
            }
            regions.append(Region(mapping: m, kind: .anon, owner: m.path))
        }
        return regions
    }
}
