import VMScopeCore

struct WhereisResult: CommandResult {
    let location: Location
    let namer: AddressNamer
    let text: String

    func text(_ style: Style) -> String { text }

    /// The mapping line as maps shows it, "START-END PERMS OFFSET PATH".
    var mappingText: String? {
        location.region.map { r in
            let m = r.mapping
            return "\(hex(m.start))-\(hex(m.end)) \(m.perms) \(hex(m.offset)) \(m.path)"
        }
    }

    var symbolText: String? {
        guard let s = location.symbol, let function = s.function else { return nil }
        return s.offset == 0 ? function : "\(function)+\(hex(s.offset))"
    }

    var json: JSON {
        var fields: [(String, JSON)] = [
            ("address", .address(location.address)), ("band", .string(location.band)),
            ("mapping", mappingText.map(JSON.string) ?? .null), ("symbol", symbolText.map(JSON.string) ?? .null),
            ("kind", location.region.map { .string($0.kind.rawValue) } ?? .null),
            ("owner", location.region.map { .string($0.owner) } ?? .null),
            ("offset", location.offsetInMapping.map(JSON.address) ?? .null),
            ("file_offset", location.fileOffset.map(JSON.address) ?? .null),
            ("section", location.symbol?.section.map(JSON.string) ?? .null),
            ("thread", location.thread.map { .int(Int64($0)) } ?? .null),
            ("below_stack_top", location.belowStackTop.map(JSON.address) ?? .null),
            ("symbolic", .string(namer.symbolicName(location.address))),
            ("description", .string(text)),
        ]
        if case .gap(let below, let above) = location.place {
            fields.append(("gap_below", below.map { .string($0.path.isEmpty ? hex($0.start) : $0.path) } ?? .null))
            fields.append(("gap_above", above.map { .string($0.path.isEmpty ? hex($0.start) : $0.path) } ?? .null))
        }
        return .object(fields)
    }

    /// One paragraph: where it is, then the facts that explain it.
    static func describe(_ l: Location, space: AddressSpace, namer: AddressNamer) -> String {
        let a = namer.name(l.address)
        let g = space.geometry
        switch l.place {
        case .nullPage:
            return "\(a) is in the null page (below \(hex(g.pageSize))), in the model's low reserved band: never mapped, so dereferencing a null pointer faults here."
        case .belowMmapMinAddr:
            return "\(a) is below vm.mmap_min_addr = \(hex(space.mmapMinAddr)), in the model's low reserved band: the kernel refuses to map anything there."
        case .belowEverything:
            let lowest = space.maps.first.map { namer.name($0.start) } ?? "?"
            if l.address < LayoutDifferences.modelReservedEnd {
                return "\(a) is in the model's low reserved band (below \(hex(LayoutDifferences.modelReservedEnd))): unmapped, below the lowest mapping at \(lowest)."
            }
            // The model reserves only the first 4 MiB; above it this is
            // ordinary user space that this process leaves empty.
            return "\(a) is not mapped: it lies in user space below the lowest mapping at \(lowest), above the model's 4 MiB low reserved band (0x0-\(hex(LayoutDifferences.modelReservedEnd))); nothing forbids a mapping here (vm.mmap_min_addr is \(hex(space.mmapMinAddr)))."
        case .topPage:
            return "\(a) is in the last page of user space (\(hex(g.taskSize))-\(hex(g.userLimit))), which is never mapped: TASK_SIZE is \(hex(g.taskSize))."
        case .nonCanonical:
            return "\(a) is non-canonical: bits 63..\(g.virtualBits - 1) are not all equal, so no page table can map it (the hole between \(hex(g.userLimit)) and \(hex(g.kernelStart))); using it raises #GP, seen as SIGSEGV."
        case .kernel:
            if let r = l.region {
                return "\(a) is in the kernel half (from \(hex(g.kernelStart))), in \(r.mapping.path) at offset \(hex(l.address - r.mapping.start)): a legacy page the kernel still lists in maps."
            }
            return "\(a) is in the kernel half (from \(hex(g.kernelStart))): kernel memory, not accessible from user mode."
        case .gap(let below, let above):
            func name(_ m: Mapping?) -> String {
                guard let m else { return "nothing" }
                let r = space.region(containing: m.start)
                let what = r.map { $0.owner.isEmpty ? $0.kind.rawValue : "\($0.owner) (\($0.kind.rawValue))" } ?? "a mapping"
                return sanitized(what)
            }
            var text = "\(a) is not mapped: it lies in a gap"
            if let below { text += " \(humanSizeOrBlank(l.address - below.end, namer)) above the end of \(name(below))" }
            if let above { text += (below == nil ? "" : " and") + " \(humanSizeOrBlank(above.start - l.address, namer)) below \(name(above))" }
            if l.band != "unmapped" { text += ", inside the \(l.band) band" }
            else if let below, let above { text += ", between the \(bandOf(below, space)) and the \(bandOf(above, space))" }
            return text + "."
        case .mapped:
            guard let r = l.region else { return "\(a) is mapped." }
            let m = r.mapping
            var text = "\(a) is in the \(l.band) band: "
            switch r.kind {
            case .stack:
                text += "the main thread's stack ([stack], thread \(space.pid))"
            case .threadStack:
                text += "the stack of thread \(r.tid.map(String.init) ?? "?")"
            case .heap:
                text += "the heap"
                if let brk = space.programBreak {
                    text += l.address < brk ? ", below the break" : ", above the break \(namer.name(brk)) (mapped, not yet allocated by brk)"
                }
            case .guardPage:
                text += "a no-access guard mapping" + (r.tid.map { " below the stack of thread \($0)" } ?? (r.owner.isEmpty ? "" : " of \(sanitized(r.owner))"))
            default:
                text += r.owner.isEmpty ? "an \(r.kind.rawValue) mapping" : "\(sanitized(r.owner)) (\(r.kind.rawValue))"
            }
            // The main stack's mapping bounds and the distance to its end move
            // with ASLR's sub-page offset: symbolic mode leaves them out.
            let randomBounds = namer.symbolic && r.kind == .stack
            if randomBounds {
                text += ", mapping ...-\(namer.nameEnd(m.end)) \(m.perms)"
            } else {
                text += ", mapping \(namer.name(m.start))-\(namer.nameEnd(m.end)) \(m.perms) at offset \(hex(l.address - m.start))"
            }
            if let fileOffset = l.fileOffset { text += " (file offset \(hex(fileOffset)))" }
            if let below = l.belowStackTop, !randomBounds { text += ", \(hex(below)) below the stack's top" }
            if let s = l.symbol {
                if let f = s.function { text += "; symbol \(sanitized(f))+\(hex(s.offset))" }
                if let section = s.section { text += " in \(section)" }
            }
            return text + "."
        }
    }

    static func humanSizeOrBlank(_ size: UInt64, _ namer: AddressNamer) -> String {
        namer.symbolic ? "" : humanSize(size)
    }

    static func bandOf(_ m: Mapping, _ space: AddressSpace) -> String {
        space.locate(m.start).band
    }
}

struct WhereisCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "whereis", aliases: ["info symbol"], group: .layout, usage: "whereis ADDRESS",
        summary: "Classify any 64-bit value: null page, below mmap_min_addr, which band, mapping and offset, ELF section and symbol, which thread's stack and how far below its top, which gap, non-canonical, kernel half.",
        example: "whereis $rsp", needsTarget: true, arguments: [.register])

    static func run(_ typed: [String], in session: Session) throws -> CommandResult {
        let arguments = AddressExpression.joiningLeadingExpression(typed)  // `$rsp - 8`
        guard arguments.count == 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let regs = try target.registers(tid: try session.currentThread())
        let address = try AddressExpression.evaluate(arguments[0], registers: regs)
        let (space, _) = try LayoutSupport.capture(session, withBreak: true, linkMap: false)
        let namer = AddressNamer(space: space, symbolic: session.settings.symbolic)
        let location = space.locate(address)
        return WhereisResult(location: location, namer: namer,
                             text: WhereisResult.describe(location, space: space, namer: namer))
    }
}
