import VMScopeCore

struct BreakpointsResult: CommandResult {
    let breakpoints: [Breakpoint]
    let message: String?

    func text(_ style: Style) -> String {
        if let message { return message }
        if breakpoints.isEmpty { return "No breakpoints." }
        var rows = [["NUM", "TYPE", "ENABLED", "ADDRESS", "HITS", "WHAT"]]
        for bp in breakpoints {
            rows.append([String(bp.id), bp.temporary ? "tbreak" : "break", bp.enabled ? "y" : "n",
                         style.paint(hex(bp.address), .code), String(bp.hits), sanitized(bp.location)])
        }
        return table(rows)
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("breakpoints", .array(breakpoints.map(Self.json)))]
        if let message { fields.append(("message", .string(message))) }
        return .object(fields)
    }

    static func json(_ bp: Breakpoint) -> JSON {
        .object([("id", .int(Int64(bp.id))), ("address", .address(bp.address)), ("enabled", .bool(bp.enabled)),
                 ("temporary", .bool(bp.temporary)), ("hits", .int(Int64(bp.hits))), ("location", .string(bp.location))])
    }
}

/// `break` and `tbreak` differ only in the flag.
enum BreakpointSetting {
    static func set(_ arguments: [String], temporary: Bool, spec: CommandSpec, in session: Session) throws -> CommandResult {
        guard arguments.count == 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let context = try StackContext(session: session)
        let address = try Locations.resolve(arguments[0], in: session, context: context)
        let bp = try target.addBreakpoint(at: address, temporary: temporary, location: arguments[0])
        var at = StopReporter.symbolic(address, in: context).map { " <\($0)>" } ?? ""
        if let source = try? target.unwinder().sourceLocation(of: address) {
            at += ": \(sanitized(source.file.split(separator: "/").last.map(String.init) ?? source.file)):\(source.line)"
        }
        let kind = temporary ? "Temporary breakpoint" : "Breakpoint"
        return BreakpointsResult(breakpoints: [bp], message: "\(kind) \(bp.id) at \(hex(address))\(at).")
    }
}

struct BreakCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "break", aliases: ["b"], group: .execution, usage: "break SYMBOL|ADDRESS",
        summary: "Stop when any thread reaches SYMBOL or ADDRESS (an int3 written only while the target runs).",
        example: "break recurse", needsTarget: true, arguments: [.symbol])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        try BreakpointSetting.set(arguments, temporary: false, spec: spec, in: session)
    }
}

struct TbreakCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "tbreak", group: .execution, usage: "tbreak SYMBOL|ADDRESS",
        summary: "Like break, but the breakpoint is deleted after its first hit.",
        example: "tbreak main", needsTarget: true, arguments: [.symbol])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        try BreakpointSetting.set(arguments, temporary: true, spec: spec, in: session)
    }
}

struct DeleteCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "delete", aliases: ["d"], group: .execution, usage: "delete [N...]",
        summary: "Delete breakpoints N... (all of them without N).",
        example: "delete 1", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let ids = arguments.isEmpty ? target.breakpoints.map(\.id) : try arguments.map(breakpointNumber)
        let removed = try ids.map { try target.deleteBreakpoint(id: $0) }
        let message = removed.isEmpty ? "No breakpoints to delete." : "Deleted breakpoint \(removed.map { String($0.id) }.joined(separator: ", "))."
        return BreakpointsResult(breakpoints: removed, message: message)
    }
}

struct DisableCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "disable", group: .execution, usage: "disable N...",
        summary: "Keep breakpoints N... but do not stop at them.", example: "disable 1", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        try toggle(arguments, enabled: false, spec: spec, in: session)
    }
}

struct EnableCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "enable", group: .execution, usage: "enable N...",
        summary: "Stop at breakpoints N... again.", example: "enable 1", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        try toggle(arguments, enabled: true, spec: spec, in: session)
    }
}

private func toggle(_ arguments: [String], enabled: Bool, spec: CommandSpec, in session: Session) throws -> CommandResult {
    guard !arguments.isEmpty else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
    let target = try session.requireTarget()
    let changed = try arguments.map { try target.setBreakpoint(id: breakpointNumber($0), enabled: enabled) }
    let verb = enabled ? "Enabled" : "Disabled"
    return BreakpointsResult(breakpoints: changed, message: "\(verb) breakpoint \(changed.map { String($0.id) }.joined(separator: ", ")).")
}

private func breakpointNumber(_ text: String) throws -> Int {
    guard let id = Int(text), id > 0 else { throw ShellError.badNumber(text) }
    return id
}

struct InfoBreakpointsCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "breakpoints", aliases: ["info breakpoints", "i b", "info break"], group: .execution,
        usage: "info breakpoints", summary: "List breakpoints with their addresses and hit counts.",
        example: "info breakpoints", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        BreakpointsResult(breakpoints: try session.requireTarget().breakpoints, message: nil)
    }
}
