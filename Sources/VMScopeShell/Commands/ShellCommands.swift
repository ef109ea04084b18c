import VMScopeCore

struct HelpResult: CommandResult {
    let specs: [CommandSpec]
    let detailed: Bool

    func text(_ style: Style) -> String {
        if detailed, let spec = specs.first {
            var lines = ["\(style.paint(spec.usage, .heading))", "  \(spec.summary)"]
            if !spec.aliases.isEmpty { lines.append("  Aliases: \(spec.aliases.joined(separator: ", "))") }
            lines.append("  Example: \(spec.example)")
            return lines.joined(separator: "\n")
        }
        var lines: [String] = []
        for group in CommandGroup.allCases {
            let members = specs.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            lines.append(style.paint(group.rawValue, .heading))
            lines.append(table(members.map { ["  " + $0.usage, $0.summary] }))
        }
        lines.append("Commands may be shortened to a unique prefix. 'help COMMAND' shows an example.")
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        .object([("commands", .array(specs.map { spec in
            .object([("name", .string(spec.name)), ("group", .string(spec.group.rawValue)),
                     ("usage", .string(spec.usage)), ("summary", .string(spec.summary)),
                     ("aliases", .array(spec.aliases.map(JSON.string))), ("example", .string(spec.example))])
        }))])
    }
}

struct HelpCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "help", group: .shell, usage: "help [COMMAND]",
        summary: "List the commands by group, or show one command's syntax and an example.",
        example: "help x", arguments: [.command])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        if arguments.isEmpty { return HelpResult(specs: CommandTable.all.map { $0.spec }, detailed: false) }
        return HelpResult(specs: [try CommandTable.lookup(arguments.joined(separator: " ")).spec], detailed: true)
    }
}

struct EchoCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "echo", group: .shell, usage: "echo TEXT",
        summary: "Print TEXT (for scripts and handouts).", example: "echo --- the stack ---",
        rawText: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let text = arguments.joined(separator: " ")
        return MessageResult(text, [("echo", .string(text))])
    }
}

struct QuitCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "quit", aliases: ["q", "exit"], group: .shell, usage: "quit",
        summary: "Leave vmscope: an attached process is detached and runs on; a process vmscope started is killed.",
        example: "quit")

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        session.quitRequested = true
        let what: String
        if let target = session.target, target.isAttached {
            what = target.launched ? "Killing process \(target.pid), which vmscope started."
                                   : "Detaching from process \(target.pid): it runs on."
        } else {
            what = "Bye."
        }
        return MessageResult(what, [("quit", .bool(true))])
    }
}

struct SourceCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "source", group: .shell, usage: "source FILE",
        summary: "Run the commands of FILE; an error stops it with FILE:LINE (see 'set on-error').",
        example: "source examples/demo.vms", arguments: [.file])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.count == 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        try ScriptRunner(session: session).run(file: arguments[0])
        return MessageResult("", [("source", .string(arguments[0]))])
    }
}
