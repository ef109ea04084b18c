import VMScopeCore

struct LayoutResult: CommandResult {
    let space: AddressSpace
    let namer: AddressNamer
    let bands: [Band]
    let markers: [(name: String, address: UInt64)]
    let differences: [String]
    let order: OrderCheck
    let processName: String
    let svgPath: String?

    /// Each marker on the deepest row that holds it. The break is the heap's
    /// (exclusive) end, so it goes on the heap's row.
    func markers(for index: Int) -> [String] {
        let band = bands[index]
        return markers.filter { marker in
            if marker.name == "break" { return band.kind == "heap" && band.level == 0 }
            guard band.contains(marker.address) else { return false }
            // A part (level 1) below this band that holds it takes it instead.
            if band.level == 0 {
                var next = index + 1
                while next < bands.count && bands[next].level == 1 {
                    if bands[next].contains(marker.address) { return false }
                    next += 1
                }
            }
            return true
        }.map(\.name)
    }

    func sizeText(_ band: Band) -> String {
        if band.end == 0 { return humanSize(band.size) + " (to 2^64)" }
        if namer.symbolic && band.kind == "stack" { return "-" }
        return namer.size(band.start, band.end)
    }

    /// A library's load bias is random under ASLR: symbolic mode leaves it out.
    func detail(_ band: Band) -> String {
        guard let bias = band.bias, !namer.symbolic else { return band.detail }
        return "bias \(hex(bias)); " + band.detail
    }

    func startText(_ band: Band) -> String {
        // Under ASLR the main stack's low end moves with a sub-page random offset.
        if namer.symbolic && band.kind == "stack" { return "(grows down)" }
        return namer.name(band.start)
    }

    func text(_ style: Style) -> String {
        var header = "Address space"
        if !namer.symbolic { header += " of process \(space.pid)" }
        header += " (\(sanitized(processName))): \(LayoutSupport.paging(space.geometry)), ASLR "
        header += space.aslr.randomized ? "on" : "off"
        if let pie = space.aslr.isPIE { header += pie ? ", PIE" : ", non-PIE" }
        var rows = [["BAND", "START", "END", "SIZE", "", "WHAT"]]
        var previousStart: UInt64?
        for (i, band) in bands.enumerated() {
            if band.level == 0 {
                if let above = previousStart, band.end != 0, above > band.end, space.geometry.classify(band.start) == .user {
                    let gap = namer.symbolic ? "" : humanSize(above - band.end)
                    rows.append([style.paint("  (unmapped gap)", .dim), "", "", style.paint(gap, .dim), "", ""])
                }
                previousStart = band.start
            }
            let name = style.namingIDs(band.level == 0 ? band.name : "  " + sanitized(band.name, limit: 40))
            let role = Self.role(band.kind)
            let marks = markers(for: i).map { "<- " + $0 }.joined(separator: " ")
            rows.append([band.level == 0 ? style.paint(name, .heading) : style.paint(name, role),
                         style.paint(startText(band), role),
                         band.end == 0 ? "2^64" : style.paint(namer.nameEnd(band.end), role),
                         sizeText(band), marks, sanitized(detail(band))])
        }
        var lines = [header, table(rows)]
        lines.append("")
        lines.append("Differences from the model:")
        lines += differences.map { "  - " + $0 }
        let sequence = order.sequence.map(\.0).joined(separator: " < ")
        lines.append(order.holds ? "Order \(sequence): holds." : "Order \(sequence): does NOT hold.")
        if let svgPath { lines.append("Diagram written to \(sanitized(svgPath)).") }
        return lines.joined(separator: "\n")
    }

    static func role(_ kind: String) -> Style.Role {
        switch kind {
        case "text", "code": return .code
        case "rodata": return .rodata
        case "data", "bss": return .data
        case "heap": return .heap
        case "stack", "thread stack", "args": return .stack
        case "library", "vdso", "vvar": return .library
        case "guard": return .guardPage
        default: return .dim
        }
    }

    var json: JSON {
        .object([
            ("pid", .int(Int64(space.pid))),
            ("bands", .array(bands.map { band in
                .object([("name", .string(band.name)), ("start", .address(band.start)),
                         ("end", band.end == 0 ? .string("0x10000000000000000") : .address(band.end)),
                         ("kind", .string(band.kind)), ("level", .int(Int64(band.level))),
                         ("size", .string(humanSize(band.size))), ("detail", .string(band.detail)),
                         ("bias", band.bias.map(JSON.address) ?? .null)])
            })),
            ("markers", .object(markers.map { ($0.name, JSON.address($0.address)) })),
            ("differences", .array(differences.map(JSON.string))),
            ("order", .object([("holds", .bool(order.holds)),
                               ("violations", .array(order.violations.map(JSON.string)))])),
            ("paging_levels", .int(space.geometry.usesFiveLevelPaging ? 5 : 4)),
            ("svg", svgPath.map(JSON.string) ?? .null),
        ])
    }
}

struct LayoutCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "layout", group: .layout, usage: "layout [--full] [--svg FILE]",
        summary: "The canonical x86-64 layout filled in with the live process: every band's addresses and size, markers for rip, rsp, the break, AT_ENTRY and AT_BASE, gaps, and each difference from the model explained. --full adds the non-canonical hole and the kernel half; --svg draws it to scale (log axis).",
        example: "layout --full", needsTarget: true, arguments: [.keyword(["--full", "--svg"]), .file])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        var full = false
        var svgPath: String?
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--full", "full": full = true
            case "--svg":
                index += 1
                guard index < arguments.count else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
                svgPath = arguments[index]
            default: throw ShellError.usage(command: spec.name, usage: spec.usage)
            }
            index += 1
        }
        let target = try session.requireTarget()
        let (space, breakError) = try LayoutSupport.capture(session)
        let namer = AddressNamer(space: space, symbolic: session.settings.symbolic)
        let tid = try session.currentThread()
        let bands = space.bands(full: full)
        let result = LayoutResult(
            space: space, namer: namer, bands: bands, markers: space.markers(tid: tid),
            differences: LayoutDifferences.list(space, namer: namer, breakError: breakError),
            order: space.orderCheck(), processName: ProcFS.comm(pid: target.pid) ?? "?", svgPath: svgPath)
        if let svgPath {
            try LayoutSVG.write(result, to: svgPath, names: session.shellState.stableNames.style(session.settings.style).idNames)
        }
        return result
    }
}
