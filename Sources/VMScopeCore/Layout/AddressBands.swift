/// One row of the layout diagram: a band of the canonical model (level 0)
/// or a part of one (level 1: an object, a thread's stack, a mapping).
public struct Band: Sendable {
    public let name: String
    public let start: UInt64
    /// Exclusive; 0 stands for 2^64 (the kernel half's end).
    public let end: UInt64
    /// Level 0: the model band's key ("text", "heap", "mmap region"...);
    /// level 1: a RegionKind's name or "args".
    public let kind: String
    public let level: Int
    public let detail: String
    /// A library's load bias (runtime - link-time address).
    public let bias: UInt64?

    public init(name: String, start: UInt64, end: UInt64, kind: String, level: Int, detail: String, bias: UInt64? = nil) {
        self.name = name; self.start = start; self.end = end; self.kind = kind; self.level = level; self.detail = detail
        self.bias = bias
    }

    public var size: UInt64 { end &- start }
    public func contains(_ address: UInt64) -> Bool { address >= start && (end == 0 || address < end) }
}

/// The model's order, text < data < heap < mmap < stack, checked on the live bands.
public struct OrderCheck: Sendable {
    public let holds: Bool
    /// The bands found, bottom to top, as (name, start, end).
    public let sequence: [(String, UInt64, UInt64)]
    public let violations: [String]
}

extension AddressSpace {
    static let modelOrder = ["text", "data", "heap", "mmap region", "stack"]

    /// The diagram's rows, highest addresses first as in the model.
    /// `full` adds the non-canonical hole and the kernel half.
    public func bands(full: Bool) -> [Band] {
        var top: [Band] = []
        var children: [String: [Band]] = [:]
        let g = geometry
        if full {
            top.append(Band(name: "kernel half", start: g.kernelStart, end: 0, kind: "kernel half", level: 0,
                            detail: "the kernel's; user code cannot touch it"))
            children["kernel half"] = regions.filter { g.classify($0.mapping.start) == .kernel }.map {
                Band(name: $0.mapping.path, start: $0.mapping.start, end: $0.mapping.end, kind: $0.kind.rawValue,
                     level: 1, detail: "\($0.mapping.perms): legacy page, the one kernel-half line in maps")
            }
            top.append(Band(name: "non-canonical hole", start: g.userLimit, end: g.kernelStart, kind: "non-canonical hole",
                            level: 0, detail: "bits 63..\(g.virtualBits - 1) differ: no page table can map it"))
        }
        top.append(Band(name: "top page", start: g.taskSize, end: g.userLimit, kind: "top page", level: 0,
                        detail: "never mapped: TASK_SIZE is \(hexString(g.taskSize))"))
        if let stack = mainStack {
            top.append(Band(name: "[stack]", start: stack.start, end: stack.end, kind: "stack", level: 0,
                            detail: "main thread's stack, grows down"))
            if let s = startStack, stack.contains(s) {
                var parts = [Band(name: "frames", start: stack.start, end: s, kind: "stack", level: 1,
                                  detail: "frames live below start_stack; pages are added on demand")]
                if let block = argumentBlock, block.arraysEnd <= block.stringsStart, block.stringsStart <= block.stringsEnd,
                   block.stringsEnd <= stack.end, block.start == s {
                    parts.append(Band(name: "argc, argv[], envp[], auxv[]", start: s, end: block.arraysEnd, kind: "args", level: 1,
                                      detail: "argc \(block.argc), \(block.environmentCount) environment variables, \(block.auxvCount) auxv entries"))
                    parts.append(Band(name: "AT_RANDOM, platform", start: block.arraysEnd, end: block.stringsStart, kind: "args",
                                      level: 1, detail: "16 random bytes, the platform string, alignment padding"))
                    parts.append(Band(name: "argv and envp strings", start: block.stringsStart, end: block.stringsEnd,
                                      kind: "args", level: 1, detail: "arg_start to env_end"))
                    parts.append(Band(name: "executable name", start: block.stringsEnd, end: stack.end, kind: "args",
                                      level: 1, detail: "the path given to execve, then the end of the stack"))
                } else {
                    parts.append(Band(name: "argv, envp, auxv", start: s, end: stack.end, kind: "args", level: 1,
                                      detail: "argc at start_stack, then the pointer arrays, then the strings"))
                }
                children["stack"] = parts
            }
        }
        let mmapRegions = regions.filter { isMmapRegion($0) }
        if let low = mmapRegions.map(\.mapping.start).min(), let high = mmapRegions.map(\.mapping.end).max() {
            top.append(Band(name: "memory-mapped region", start: low, end: high, kind: "mmap region", level: 0,
                            detail: "libraries, anonymous memory, thread stacks, vDSO; placed top-down"))
            children["mmap region"] = mmapChildren(mmapRegions)
        }
        if let startBrk {
            let end = programBreak ?? heapMapping?.end ?? startBrk
            let detail: String
            if end == startBrk && heapMapping == nil {
                detail = "no heap yet: the process never called brk"
            } else if programBreak != nil {
                detail = "from start_brk to the program break; grows up"
            } else {
                detail = "from start_brk to the end of [heap] (the break itself could not be read)"
            }
            top.append(Band(name: "heap", start: startBrk, end: max(end, startBrk), kind: "heap", level: 0, detail: detail))
        }
        let exeData = regions.filter { $0.kind == .data || $0.kind == .bss }
        if let low = exeData.map(\.mapping.start).min(), let high = exeData.map(\.mapping.end).max() {
            top.append(Band(name: ".data/.bss", start: low, end: high, kind: "data", level: 0,
                            detail: "the executable's writable part"))
            children["data"] = exeData.map(partBand)
        }
        let exeText = regions.filter { $0.kind == .code || $0.kind == .rodata }
        if let low = exeText.map(\.mapping.start).min(), let high = exeText.map(\.mapping.end).max() {
            let pie = aslr.isPIE == true ? "PIE" : aslr.isPIE == false ? "non-PIE" : "executable"
            top.append(Band(name: ".text", start: low, end: high, kind: "text", level: 0,
                            detail: "\(pie) \(executablePath.map(baseName) ?? ""): headers, code, read-only data"))
            children["text"] = exeText.map(partBand)
        }
        let lowest = maps.first?.start ?? g.taskSize
        top.append(Band(name: "low area", start: 0, end: lowest, kind: "low reserved", level: 0,
                        detail: "unmapped; nothing may be mapped below vm.mmap_min_addr = \(hexString(mmapMinAddr))"))
        var rows: [Band] = []
        for band in top.sorted(by: { ($0.end == 0 ? UInt64.max : $0.end) > ($1.end == 0 ? UInt64.max : $1.end) }) {
            rows.append(band)
            rows += (children[band.kind] ?? []).sorted { $0.start > $1.start }
        }
        return rows
    }

    /// The region belongs to the model's memory-mapped region (libraries,
    /// anonymous memory, thread stacks, vDSO/vvar).
    public func isInMmapRegion(_ region: Region) -> Bool { isMmapRegion(region) }

    func isMmapRegion(_ region: Region) -> Bool {
        switch region.kind {
        case .code, .rodata, .data, .bss, .heap, .stack, .vsyscall: return false
        default: return geometry.classify(region.mapping.start) == .user
        }
    }

    func partBand(_ region: Region) -> Band {
        let m = region.mapping
        let sections = region.sections.isEmpty ? "" : " " + region.sections.joined(separator: " ")
        // RELRO: data ld.so made read-only after relocating it (.got, .dynamic, .init_array).
        let relro = region.kind == .rodata && region.sections.contains { [".got", ".dynamic", ".init_array"].contains($0) }
        return Band(name: relro ? "rodata (RELRO)" : region.kind.rawValue, start: m.start, end: m.end,
                    kind: region.kind.rawValue, level: 1, detail: "\(m.perms)\(sections)")
    }

    /// One row per object: a library's mappings together, a thread's stack
    /// with its guard page, each anonymous mapping on its own.
    func mmapChildren(_ regions: [Region]) -> [Band] {
        var rows: [Band] = []
        var index = 0
        while index < regions.count {
            let first = regions[index]
            var group = [first]
            let key = first.owner
            let grouped = !key.isEmpty && (first.kind == .library || first.kind == .guardPage || first.kind == .threadStack)
            while grouped, index + group.count < regions.count {
                let next = regions[index + group.count]
                guard next.owner == key, next.mapping.start == group[group.count - 1].mapping.end || next.kind == .library
                else { break }
                group.append(next)
            }
            index += group.count
            let start = group[0].mapping.start, end = group[group.count - 1].mapping.end
            let perms = group.map { $0.mapping.path.isEmpty && $0.kind == .library ? "bss" : $0.mapping.perms }
                .joined(separator: " ")
            let isLibrary = group.contains { $0.kind == .library }
            switch first.kind {
            case _ where isLibrary:
                let bias = modules.first { baseName($0.path) == key && $0.start <= start }?.loadBias
                rows.append(Band(name: key, start: start, end: end, kind: "library", level: 1, detail: perms, bias: bias))
            case .guardPage, .threadStack:
                if let stack = group.first(where: { $0.kind == .threadStack }), let tid = stack.tid {
                    let guardPart = group.first { $0.kind == .guardPage }.map { _ in " above its guard page" } ?? ""
                    rows.append(Band(name: "stack of thread \(tid)", start: start, end: end, kind: "thread stack",
                                     level: 1, detail: "\(stack.mapping.perms)\(guardPart)"))
                } else {
                    rows.append(Band(name: "guard", start: start, end: end, kind: "guard", level: 1, detail: perms))
                }
            default:
                let name = first.kind == .anon ? (first.owner.isEmpty ? "anonymous" : first.owner) : first.owner
                rows.append(Band(name: name, start: start, end: end, kind: first.kind.rawValue, level: 1, detail: perms))
            }
        }
        return rows
    }

    /// Where rip, rsp, the break, AT_ENTRY and AT_BASE point.
    public func markers(tid: Int32) -> [(name: String, address: UInt64)] {
        var result: [(String, UInt64)] = []
        if let regs = threadRegisters[tid] { result += [("rip", regs.rip), ("rsp", regs.rsp)] }
        if let programBreak { result.append(("break", programBreak)) }
        if let entry = auxv[AuxiliaryVector.AT.entry] { result.append(("AT_ENTRY", entry)) }
        if let base = auxv[AuxiliaryVector.AT.base], base != 0 { result.append(("AT_BASE", base)) }
        return result
    }

    public func orderCheck() -> OrderCheck {
        let found = bands(full: false).filter { $0.level == 0 && Self.modelOrder.contains($0.kind) }
        let sequence = Self.modelOrder.compactMap { key in found.first { $0.kind == key } }
            .filter { !($0.kind == "heap" && $0.size == 0) }
        var violations: [String] = []
        for (a, b) in zip(sequence, sequence.dropFirst()) where a.end > b.start {
            violations.append("\(a.kind) ends at \(hexString(a.end)), above the start of \(b.kind) at \(hexString(b.start))")
        }
        return OrderCheck(holds: violations.isEmpty, sequence: sequence.map { ($0.kind, $0.start, $0.end) },
                          violations: violations)
    }
}
