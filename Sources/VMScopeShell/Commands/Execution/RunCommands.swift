import VMScopeCore

/// One stop result per command, or several for `stepi N` (the last shown
/// in full, the others as one line each).
struct StopsResult: CommandResult {
    let stops: [StopResult]

    func text(_ style: Style) -> String {
        guard let last = stops.last else { return "" }
        let earlier = stops.dropLast().map { stop in
            "   " + (stop.event.pc.map(hex) ?? "-") + (stop.location.map { " <\($0)>" } ?? "")
                + (stop.instruction.map { ":  \($0.mnemonic) \($0.operands)" } ?? "")
        }
        return (earlier + [last.text(style)]).joined(separator: "\n")
    }

    var json: JSON {
        stops.count == 1 ? stops[0].json : .object([("stops", .array(stops.map(\.json)))])
    }
}

struct ContinueCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "continue", aliases: ["c", "cont"], group: .execution, usage: "continue",
        summary: "Run every thread until a breakpoint, a signal, a caught system call, exit or Ctrl-C.",
        example: "continue", needsTarget: true, repeatsOnEmptyLine: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let event = try session.requireTarget().continueExecution()
        return StopReporter.report(event, in: session)
    }
}

struct StepiCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "stepi", aliases: ["si"], group: .execution, usage: "stepi [N]",
        summary: "Execute N machine instructions (1 by default) in the selected thread; calls are entered.",
        example: "stepi 3", needsTarget: true, repeatsOnEmptyLine: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let count = try stepCount(arguments, spec: spec)
        let target = try session.requireTarget()
        var stops: [StopResult] = []
        for _ in 0..<count {
            let event = try target.stepInstruction(tid: session.currentThread())
            stops.append(StopReporter.report(event, in: session))
            if case .stepped = event.reason {} else { break }
        }
        return StopsResult(stops: stops)
    }
}

struct NextiCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "nexti", aliases: ["ni"], group: .execution, usage: "nexti [N]",
        summary: "Like stepi, but a call runs to its return instead of being entered.",
        example: "nexti", needsTarget: true, repeatsOnEmptyLine: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let count = try stepCount(arguments, spec: spec)
        var stops: [StopResult] = []
        for _ in 0..<count {
            let event = try nextInstruction(in: session)
            stops.append(StopReporter.report(event, in: session))
            if case .stepped = event.reason {} else { break }
        }
        return StopsResult(stops: stops)
    }

    /// A call runs until the instruction after it is reached with the
    /// same (or a higher) rsp, so a recursive call is stepped over whole.
    static func nextInstruction(in session: Session) throws -> StopEvent {
        let target = try session.requireTarget()
        let tid = try session.currentThread()
        let regs = try target.registers(tid: tid)
        let here = try target.instructions(at: regs.rip, count: 1, using: session.execution.disassembler).first
        guard let here, here.isCall else { return try target.stepInstruction(tid: tid) }
        return try target.run(to: [RunToPoint(address: regs.rip + UInt64(here.length), minimumSP: regs.rsp)])
    }
}

func stepCount(_ arguments: [String], spec: CommandSpec) throws -> Int {
    guard arguments.count <= 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
    guard let text = arguments.first else { return 1 }
    guard let count = Int(text), count > 0, count <= 1_000_000 else { throw ShellError.badNumber(text) }
    return count
}
