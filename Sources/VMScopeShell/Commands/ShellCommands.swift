import VMScopeCore

struct HelpResult: CommandResult {
    let specs: [CommandSpec]
    let detailed: Bool

    func text(_ style: Style) -> String {
        if detailed, let spec = specs.first {
            var lines = [style.paint(spec.usage, .heading), indent(wrap(spec.summary, width: 76), by: 2)]
            if !spec.aliases.isEmpty { lines.append("  Aliases: \(spec.aliases.joined(separator: ", "))") }
            lines.append("  Example: \(spec.example)")
            return lines.joined(separator: "\n")
        }
        var lines: [String] = []
        func names(_ spec: CommandSpec) -> String {
            "  " + ([spec.name] + spec.aliases.filter { !$0.contains(" ") }).joined(separator: ", ")
        }
        let width = specs.map { names($0).count }.max() ?? 0
        for group in CommandGroup.allCases {
            let members = specs.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            lines.append(style.paint(group.rawValue, .heading))
            // One line per command: the summary's first sentence, cut to fit 100 columns.
            for spec in members {
                lines.append(padded(names(spec), width) + "  " + Self.clip(Self.firstSentence(spec.summary), to: max(30, 98 - width)))
            }
        }
        lines.append("Commands may be shortened to a unique prefix. 'help COMMAND' shows its syntax and an example;")
        lines.append("'explain TOPIC' teaches (stack, heap, aslr...).")
        if style.enabled { lines.append(style.legend) }  // the colours every command uses
        return lines.joined(separator: "\n")
    }

    static func firstSentence(_ text: String) -> String {
        guard let end = text.firstRange(of: ". ") else { return text }
        return String(text[..<end.lowerBound]) + "."
    }

    /// Cut at a word boundary, with "..." saying there is more ('help CMD').
    static func clip(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        var cut = String(text.prefix(width - 3))
        if let space = cut.lastIndex(of: " ") { cut = String(cut[..<space]) }
        while let last = cut.last, last == "," || last == ":" || last == ";" || last == "(" { cut.removeLast() }
        return cut + "..."
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

/// Every line of `text` moved right by `count` spaces.
func indent(_ text: String, by count: Int) -> String {
    let pad = String(repeating: " ", count: count)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n")
}
