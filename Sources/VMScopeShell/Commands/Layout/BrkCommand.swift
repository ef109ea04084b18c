import VMScopeCore

struct BrkResult: CommandResult {
    let startBrk: UInt64
    let brk: UInt64
    let heap: Mapping?
    /// The first mapping above the break: how far the heap can grow.
    let nextAbove: Mapping?
    let nextAboveName: String?
    let namer: AddressNamer

    var heapSize: UInt64 { brk &- startBrk }

    func text(_ style: Style) -> String {
        var lines = ["start_brk  \(style.paint(namer.name(startBrk), .heap))",
                     "break      \(style.paint(namer.name(brk), .heap))  (brk(0) run in the target)"]
        if heap == nil && brk == startBrk {
            lines.append("No heap yet: the process never called brk.")
        } else {
            lines.append("heap size  \(humanSize(heapSize)) (\(hex(heapSize)))")
            if let heap {
                let how = heap.end == brk ? "ends exactly at the break (page-aligned)" : "the break rounded up to a page"
                lines.append("[heap]     \(namer.name(heap.start))-\(namer.nameEnd(heap.end)): \(how)")
            }
        }
        if let nextAbove, !namer.symbolic {
            lines.append("room       \(humanSize(nextAbove.start - brk)) up to \(sanitized(nextAboveName ?? "the next mapping")) at \(hex(nextAbove.start))")
        }
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        .object([("start_brk", .address(startBrk)), ("brk", .address(brk)), ("heap_size", .address(heapSize)),
                 ("heap_mapping_end", heap.map { .address($0.end) } ?? .null), ("no_heap_yet", .bool(heap == nil && brk == startBrk)),
                 ("room_above", nextAbove.map { .address($0.start - brk) } ?? .null),
                 ("next_mapping", nextAboveName.map(JSON.string) ?? .null)])
    }
}

struct BrkCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "brk", group: .layout, usage: "brk",
        summary: "The heap's limits: start_brk (/proc/PID/stat field 47), the exact program break (brk(0) injected into the stopped target), the heap's size and the room up to the next mapping.",
        example: "brk", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.isEmpty else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let brk = try session.programBreaks.programBreak(of: target)
        let space = try AddressSpace.capture(target: target, programBreak: brk, modules: session.modules, linkMap: false)
        let startBrk = space.startBrk ?? space.heapMapping?.start ?? brk
        let above = space.maps.first { $0.start >= brk && $0.path != "[heap]" }
        let aboveName = above.flatMap { m in space.region(containing: m.start).map { $0.owner.isEmpty ? "an anonymous mapping" : $0.owner } }
        return BrkResult(startBrk: startBrk, brk: brk, heap: space.heapMapping, nextAbove: above, nextAboveName: aboveName,
                         namer: AddressNamer(space: space, symbolic: session.settings.symbolic))
    }
}
