import VMScopeCore

struct AslrResult: CommandResult {
    let space: AddressSpace
    let launchedWithoutASLR: Bool

    var aslr: ASLRState { space.aslr }

    static func meaning(_ level: Int?) -> String {
        switch level {
        case 0?: return "off: nothing is randomised"
        case 1?: return "stack, mmap base and vDSO randomised; the heap is not"
        case 2?: return "stack, mmap base, vDSO and heap (brk) randomised"
        default: return "unknown"
        }
    }

    func text(_ style: Style) -> String {
        var rows: [[String]] = []
        rows.append(["randomize_va_space", aslr.randomizeVASpace.map(String.init) ?? "?", Self.meaning(aslr.randomizeVASpace)])
        let persona = aslr.personality.map { hex($0) } ?? "?"
        rows.append(["personality", persona, aslr.addrNoRandomize
            ? "ADDR_NO_RANDOMIZE set: this process opted out" + (launchedWithoutASLR ? " (vmscope started it so; --aslr keeps ASLR)" : "")
            : "ADDR_NO_RANDOMIZE not set"])
        rows.append(["executable", aslr.isPIE.map { $0 ? "PIE" : "non-PIE" } ?? "?",
                     aslr.isPIE == true ? "ET_DYN: loaded at a base the kernel chooses" : "ET_EXEC: loaded at its link address"])
        let g = space.geometry
        rows.append(["paging", g.usesFiveLevelPaging ? "5-level" : "4-level",
                     "\(g.virtualBits)-bit virtual addresses; la57 \(g.cpuHasLA57 ? "offered" : "not offered") by the CPU"
                        + (g.cpuVirtualBits.map { " (address sizes: \($0) bits virtual)" } ?? "")])
        rows.append(["mmap_min_addr", hex(space.mmapMinAddr), "lowest address a mapping may have"])
        rows.append(["result", aslr.randomized ? "randomised" : "fixed",
                     aslr.randomized ? "addresses change from run to run" : "addresses repeat from run to run"])
        return table(rows)
    }

    var json: JSON {
        .object([("randomize_va_space", aslr.randomizeVASpace.map { .int(Int64($0)) } ?? .null),
                 ("personality", aslr.personality.map(JSON.address) ?? .null),
                 ("addr_no_randomize", .bool(aslr.addrNoRandomize)),
                 ("pie", aslr.isPIE.map(JSON.bool) ?? .null),
                 ("la57", .bool(space.geometry.cpuHasLA57)),
                 ("paging_levels", .int(space.geometry.usesFiveLevelPaging ? 5 : 4)),
                 ("virtual_bits", .int(Int64(space.geometry.virtualBits))),
                 ("mmap_min_addr", .address(space.mmapMinAddr)),
                 ("randomized", .bool(aslr.randomized))])
    }
}

struct AslrCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "aslr", group: .layout, usage: "aslr",
        summary: "Address-space randomisation for this process: kernel.randomize_va_space, the target's personality (ADDR_NO_RANDOMIZE), PIE or not, 4- or 5-level paging, vm.mmap_min_addr.",
        example: "aslr", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.isEmpty else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let space = try AddressSpace.capture(target: target, programBreak: nil, modules: nil, linkMap: false)
        return AslrResult(space: space, launchedWithoutASLR: target.launched && session.settings.disableASLR)
    }
}
