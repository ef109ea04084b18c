import VMScopeCore

struct MapsResult: CommandResult {
    let regions: [Region]
    let namer: AddressNamer
    /// The filter in words, when one was given ("kind library", "name libc"...).
    let filter: String?

    func text(_ style: Style) -> String {
        if regions.isEmpty { return "No mapping matches \(filter.map { sanitized($0) } ?? "")." }
        var rows = [["START", "END", "PERMS", "OFFSET", "SIZE", "KIND", "OWNER", "PATH"]]
        for region in regions {
            let m = region.mapping
            let role = LayoutResult.role(region.kind.rawValue)
            // Under ASLR the main stack's low end moves by a sub-page random offset.
            let start = namer.symbolic && region.kind == .stack ? "(grows down)" : namer.name(m.start)
            rows.append([style.paint(start, role), style.paint(namer.nameEnd(m.end), role),
                         m.perms, hex(m.offset), namer.size(m.start, m.end), style.paint(region.kind.rawValue, role),
                         style.namingIDs(sanitized(region.owner, limit: 40)), sanitized(m.path)])
        }
        let kinds = RegionKind.allCases.filter { kind in regions.contains { $0.kind == kind } }
        let legend = kinds.map { "  " + style.paint(padded($0.rawValue, 12), LayoutResult.role($0.rawValue)) + " " + $0.meaning }
        return table(rows) + "\n\nLegend:\n" + legend.joined(separator: "\n")
    }

    var json: JSON {
        .object([("maps", .array(regions.map { region in
            let m = region.mapping
            var fields: [(String, JSON)] = [
                ("start", .address(m.start)), ("end", .address(m.end)), ("perms", .string(m.perms)),
                ("offset", .address(m.offset)), ("device", .string(m.device)),
                ("inode", .int(Int64(m.inode))), ("path", .string(m.path)),
                ("kind", .string(region.kind.rawValue)), ("owner", .string(region.owner)),
            ]
            if let tid = region.tid { fields.append(("tid", .int(Int64(tid)))) }
            if !region.sections.isEmpty { fields.append(("sections", .array(region.sections.map(JSON.string)))) }
            return .object(fields)
        }))])
    }
}

struct MapsCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "maps", aliases: ["vmmap", "info proc mappings"], group: .layout,
        usage: "maps [KIND | NAME | ADDRESS] (or --kind KIND, --name TEXT, --address ADDRESS)",
        summary: "The memory map from /proc/PID/maps with each mapping's kind (code, rodata, data, bss, heap, stack, thread stack, library, anon, vdso, vvar, guard, vsyscall), owning object and a legend; filter by kind, name or address.",
        example: "maps library", needsTarget: true,
        arguments: [.keyword(["--kind", "--name", "--address"] + RegionKind.allCases.map(\.rawValue))])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        var kind: RegionKind?
        var name: String?
        var address: UInt64?
        var index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
            return arguments[index]
        }
        func parseKind(_ text: String) -> RegionKind? {
            let lower = text.lowercased()
            if lower == "thread" || lower == "threadstack" || lower == "thread-stack" { return .threadStack }
            return RegionKind(rawValue: lower)
        }
        func parseAddress(_ text: String) throws -> UInt64 {
            try AddressExpression.evaluate(text, registers: try? target.registers(tid: try session.currentThread()))
        }
        while index < arguments.count {
            let word = arguments[index]
            switch word {
            case "--kind":
                let text = try value()
                guard let k = parseKind(text) else {
                    throw ShellError.badValue(text, expected: "a kind: " + RegionKind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                kind = k
            case "--name": name = try value()
            case "--address": address = try parseAddress(try value())
            default:
                if let k = parseKind(word) { kind = k }
                else if word.hasPrefix("$") || AddressExpression.parseNumber(word) != nil { address = try parseAddress(word) }
                else { name = word }
            }
            index += 1
        }
        let space = try AddressSpace.capture(target: target, programBreak: nil, modules: session.modules, linkMap: false)
        var regions = space.regions
        var filter: [String] = []
        if let kind { regions = regions.filter { $0.kind == kind }; filter.append("kind \(kind.rawValue)") }
        if let name {
            regions = regions.filter { $0.owner.contains(name) || $0.mapping.path.contains(name) }
            filter.append("name '\(name)'")
        }
        if let address { regions = regions.filter { $0.mapping.contains(address) }; filter.append("address \(hex(address))") }
        return MapsResult(regions: regions, namer: AddressNamer(space: space, symbolic: session.settings.symbolic),
                          filter: filter.isEmpty ? nil : filter.joined(separator: ", "))
    }
}
