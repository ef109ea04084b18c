import VMScopeCore

/// What changed between two snapshots of /proc/PID/maps, in words:
/// "heap grew by 0x21000 to 0x...", "libm.so.6 mapped at 0x...".
struct MapsChange {
    enum Kind: String { case mapped, unmapped, grew, shrank, protection }
    let kind: Kind
    let before: Mapping?
    let after: Mapping?

    static func between(_ old: [Mapping], _ new: [Mapping]) -> [MapsChange] {
        var changes: [MapsChange] = []
        var unmatched = new
        for mapping in old {
            // The same region: same start (grows up: heap) or same end and
            // name (grows down: the stack), else an identical range.
            if let index = unmatched.firstIndex(where: { $0.start == mapping.start && $0.path == mapping.path })
                ?? unmatched.firstIndex(where: { $0.end == mapping.end && $0.path == mapping.path && !$0.path.isEmpty }) {
                let now = unmatched.remove(at: index)
                if now.size != mapping.size {
                    changes.append(.init(kind: now.size > mapping.size ? .grew : .shrank, before: mapping, after: now))
                } else if now.perms != mapping.perms || now.start != mapping.start {
                    changes.append(.init(kind: .protection, before: mapping, after: now))
                }
            } else {
                changes.append(.init(kind: .unmapped, before: mapping, after: nil))
            }
        }
        changes += unmatched.map { .init(kind: .mapped, before: nil, after: $0) }
        return changes.sorted { ($0.after ?? $0.before)?.start ?? 0 < ($1.after ?? $1.before)?.start ?? 0 }
    }

    var sentence: String {
        let name = label(after ?? before)
        switch kind {
        case .mapped:
            guard let after else { return "" }
            return "\(name) mapped at \(hex(after.start))-\(hex(after.end)) (\(humanSize(after.size)), \(after.perms))"
        case .unmapped:
            guard let before else { return "" }
            return "\(name) unmapped from \(hex(before.start))-\(hex(before.end)) (\(humanSize(before.size)))"
        case .grew, .shrank:
            guard let before, let after else { return "" }
            let change = after.size > before.size ? after.size - before.size : before.size - after.size
            let verb = kind == .grew ? "grew" : "shrank"
            if after.start != before.start {
                return "\(name) \(verb) down by \(hex(change)) to start at \(hex(after.start))"
            }
            return "\(name) \(verb) by \(hex(change)) to \(hex(after.end))"
        case .protection:
            guard let before, let after else { return "" }
            return "\(name) at \(hex(after.start)) changed \(before.perms) -> \(after.perms)"
        }
    }

    private func label(_ mapping: Mapping?) -> String {
        guard let mapping else { return "?" }
        if mapping.path == "[heap]" { return "heap" }
        if mapping.path == "[stack]" { return "stack" }
        if mapping.path.isEmpty { return "anonymous memory" }
        return sanitized(String(mapping.path.split(separator: "/").last ?? Substring(mapping.path)))
    }
}

struct MapsDiffResult: CommandResult {
    let changes: [MapsChange]
    let stops: Int

    func text(_ style: Style) -> String {
        if changes.isEmpty { return "No mapping changed between the last two stops." }
        return changes.map { "  " + $0.sentence }.joined(separator: "\n")
    }

    var json: JSON {
        .object([("changes", .array(changes.map { change in
            .object([("kind", .string(change.kind.rawValue)),
                     ("before", change.before.map(Self.range) ?? .null),
                     ("after", change.after.map(Self.range) ?? .null),
                     ("description", .string(change.sentence))])
        }))])
    }

    static func range(_ mapping: Mapping) -> JSON {
        .object([("start", .address(mapping.start)), ("end", .address(mapping.end)),
                 ("perms", .string(mapping.perms)), ("path", .string(mapping.path))])
    }
}

struct MapsDiffCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "maps-diff", aliases: ["maps diff"], group: .execution, usage: "maps diff",
        summary: "What was mapped, unmapped or resized between the last two stops.",
        example: "maps diff", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let state = session.execution
        let now = try target.maps()
        // Before any stop, compare with the snapshot taken when tracking began.
        let old = state.previousMaps ?? state.currentMaps ?? now
        let new = state.previousMaps == nil ? now : (state.currentMaps ?? now)
        return MapsDiffResult(changes: MapsChange.between(old, new), stops: state.stopCount)
    }
}
