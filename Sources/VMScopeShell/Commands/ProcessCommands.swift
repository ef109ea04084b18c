import Glibc
import VMScopeCore

struct AttachResult: CommandResult {
    let pid: Int32
    let name: String
    let threads: Int
    let launched: Bool
    let rip: UInt64?
    let path: String?

    func text(_ style: Style) -> String {
        let plural = threads == 1 ? "thread" : "threads"
        if launched {
            let at = rip.map { " at its first instruction, \(style.paint(hex($0), .address))" } ?? ""
            return "Started \(sanitized(path ?? name)) as process \(pid), stopped\(at)."
        }
        return "Attached to process \(pid) (\(sanitized(name))): \(threads) \(plural), all stopped."
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("pid", .int(Int64(pid))), ("name", .string(name)),
                                        ("threads", .int(Int64(threads))), ("launched", .bool(launched))]
        if let rip { fields.append(("rip", .address(rip))) }
        if let path { fields.append(("path", .string(path))) }
        return .object(fields)
    }

    init(_ target: Target) {
        pid = target.pid
        name = ProcFS.comm(pid: target.pid) ?? "?"
        threads = target.threads.count
        launched = target.launched
        rip = target.launched ? try? target.registers().rip : nil
        path = target.launched ? ProcFS.executablePath(pid: target.pid) : nil
    }
}

struct AttachCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "attach", group: .process, usage: "attach PID",
        summary: "Stop a running process and all its threads (PTRACE_SEIZE + PTRACE_INTERRUPT: no SIGSTOP is sent).",
        example: "attach 4242")

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.count == 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        guard let pid = Int32(arguments[0]) else { throw ShellError.badNumber(arguments[0]) }
        if let current = session.target, current.isAttached { throw VMScopeError.alreadyAttached(pid: current.pid) }
        session.target = try Target.attach(pid: pid)
        session.selectedThread = nil
        return AttachResult(session.target!)
    }
}

struct RunCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "run", group: .process, usage: "run PROGRAM [ARGS...]",
        summary: "Start a program traced, stopped at its first instruction (ASLR off unless vmscope got --aslr).",
        example: "run /bin/sleep 100", arguments: [.file, .file])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard let program = arguments.first else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        if let current = session.target, current.isAttached { throw VMScopeError.alreadyAttached(pid: current.pid) }
        session.target = try Target.launch(path: program, arguments: Array(arguments.dropFirst()),
                                           environment: currentEnvironment(),
                                           disableASLR: session.settings.disableASLR)
        session.selectedThread = nil
        return AttachResult(session.target!)
    }
}

struct DetachCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "detach", group: .process, usage: "detach",
        summary: "Let the process run on exactly as before (held signals handed back), even one vmscope started.",
        example: "detach", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        session.target = nil
        session.selectedThread = nil
        try target.detach()
        return MessageResult("Detached from process \(target.pid): it runs on.", [("detached", .int(Int64(target.pid)))])
    }
}

struct KillCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "kill", group: .process, usage: "kill",
        summary: "Kill the traced process with SIGKILL.", example: "kill", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        session.target = nil
        session.selectedThread = nil
        try target.kill()
        return MessageResult("Killed process \(target.pid).", [("killed", .int(Int64(target.pid)))])
    }
}

/// The shell's own environment, passed on to programs it starts.
func currentEnvironment() -> [String] {
    var result: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
        result.append(String(cString: entry))
        pointer += 1
    }
    return result
}
