import VMScopeCore

/// The differences between the live process and the canonical model of
/// LAYOUT-MODEL.md, one sentence each with the live numbers and the reason.
/// Quantities that ASLR changes run to run are left out in symbolic mode.
enum LayoutDifferences {
    static let modelTextStart: UInt64 = 0x401000
    static let modelReservedEnd: UInt64 = 0x400000
    static let modelUserLimit: UInt64 = 0x0000_8000_0000_0000

    static func list(_ space: AddressSpace, namer: AddressNamer, breakError: Error?) -> [String] {
        let n = namer.name
        let symbolic = namer.symbolic
        var out: [String] = []
        let g = space.geometry
        if g.usesFiveLevelPaging {
            out.append("user space ends at \(hex(g.userLimit)), not \(hex(modelUserLimit)): the kernel runs 5-level paging (la57), so addresses have 57 bits and the kernel half starts at \(hex(g.kernelStart)).")
        } else if g.cpuHasLA57 {
            out.append("the CPU offers 5-level paging (la57) but the kernel uses 4 levels: 48-bit addresses, as in the model.")
        }
        if let lowest = space.maps.first?.start {
            let floor = space.mmapMinAddr
            out.append("nothing is mapped below \(n(lowest)); the kernel's real floor is vm.mmap_min_addr = \(hex(floor)) (\(humanSize(floor))), not \(hex(modelReservedEnd)): the 4 MiB reserved band is a convention of non-PIE executables, not a kernel rule.")
        }
        let text = space.regions.filter { $0.kind == .code }.map(\.mapping.start).min()
        if let text, let exe = space.executable {
            if space.aslr.isPIE == true {
                let why = space.aslr.randomized
                    ? "PIE executable, loaded at a random base near the kernel's ELF_ET_DYN_BASE (2/3 of TASK_SIZE)"
                    : "PIE executable, loaded at the kernel's ELF_ET_DYN_BASE (\(hex(exe.start)) with ASLR off)"
                out.append("text at \(n(text)), not \(hex(modelTextStart)): \(why).")
            } else if text != modelTextStart {
                out.append("text at \(n(text)), not \(hex(modelTextStart)): the executable was linked there.")
            }
            let parts = space.regions.filter { $0.mapping.path == space.executablePath }
            if parts.count > 1 {
                let described = parts.map { r in
                    r.mapping.perms + (r.sections.isEmpty ? "" : " (" + r.sections.prefix(4).joined(separator: " ")
                        + (r.sections.count > 4 ? " ..." : "") + ")")
                }
                out.append("the executable is \(parts.count) mappings split by permission, not one text band: \(described.joined(separator: ", ")).")
            }
        }
        out += heap(space, namer: namer, breakError: breakError)
        let others = space.threadStacks.filter { !$0.isMain }
        if !others.isEmpty {
            let guarded = others.filter { $0.guardMapping != nil }.count
            out.append("only the main thread's stack is [stack]; the other \(others.count) thread\(others.count == 1 ? "'s stack is an anonymous mapping" : "s' stacks are anonymous mappings") in the mmap region (\(guarded) with a guard page below).")
        }
        if let stack = space.mainStack {
            if stack.end != g.taskSize && !symbolic {
                out.append("the stack ends at \(hex(stack.end)), \(humanSize(g.taskSize - stack.end)) below TASK_SIZE \(hex(g.taskSize)): stack randomisation.")
            }
            if let limit = space.stackLimit, let rsp = space.threadRegisters[space.pid]?.rsp, limit < stack.end, !symbolic {
                let floor = stack.end - limit
                out.append("the main stack may grow down to \(hex(floor)) (RLIMIT_STACK \(humanSize(limit))): \(humanSize(rsp > floor ? rsp - floor : 0)) of room below rsp.")
            }
        }
        let mmapRegions = space.regions.filter { space.isInMmapRegion($0) }
        if space.stackLimit == nil, let low = mmapRegions.map(\.mapping.start).min() {
            // mmap_is_legacy(): an unlimited stack makes the kernel place
            // mappings bottom-up from its legacy base.
            out.append("RLIMIT_STACK is unlimited, so the kernel uses the legacy bottom-up layout: the memory-mapped region starts at \(n(low)) and grows up, with no room kept for the stack above it.")
        } else if let stack = space.mainStack, let mmapTop = mmapRegions.map(\.mapping.end).max(),
           mmapTop < stack.start, !symbolic {
            let limit = space.stackLimit.map { "RLIMIT_STACK \(humanSize($0))" } ?? "the stack limit"
            out.append("the mmap region's top \(hex(mmapTop)) lies \(humanSize(stack.end - mmapTop)) below the stack's top: the kernel keeps that room for the stack (\(limit), a guard gap, a random offset); new mappings go downward from there, towards the heap.")
        }
        out.append("the last user page \(hex(g.taskSize))-\(hex(g.userLimit)) is never mapped: the kernel's TASK_SIZE ends user space one page below \(hex(g.userLimit)).")
        if let vsyscall = space.maps.first(where: { $0.path == "[vsyscall]" }) {
            out.append("[vsyscall] at \(hex(vsyscall.start)) is listed in maps although it lies in the kernel half: a legacy page, the one kernel-half line a user sees.")
        }
        let order = space.orderCheck()
        if !order.holds {
            out.append("the model's order text < data < heap < mmap < stack does not hold: " + order.violations.joined(separator: "; ") + ".")
        }
        return out
    }

    static func heap(_ space: AddressSpace, namer: AddressNamer, breakError: Error?) -> [String] {
        let n = namer.name
        guard let startBrk = space.startBrk else { return [] }
        var out: [String] = []
        let dataEnd = space.regions.filter { $0.kind == .data || $0.kind == .bss }.map(\.mapping.end).max()
        if let brk = space.programBreak, brk == startBrk, space.heapMapping == nil {
            out.append("no heap yet: the process never called brk (start_brk = break = \(n(startBrk))).")
        } else if let dataEnd, startBrk > dataEnd, !namer.symbolic {
            out.append("the heap starts at \(hex(startBrk)), \(humanSize(startBrk - dataEnd)) above the end of .bss: brk randomisation (randomize_va_space = \(space.aslr.randomizeVASpace.map(String.init) ?? "?")).")
        }
        if let heap = space.heapMapping, let brk = space.programBreak, heap.end != brk {
            out.append("[heap] ends at \(n(heap.end)) but the break is \(n(brk)): the mapping is the break rounded up to a page.")
        }
        if let breakError {
            var why = sentence(for: breakError)
            if why.hasSuffix(".") { why.removeLast() }
            out.append("the exact break could not be read (\(why)); the heap band ends at the end of [heap].")
        }
        return out
    }
}
