/// The one table of commands: dispatch, `help` and tab completion all read it.
/// (Metatypes are not Sendable; the table is immutable.)
public enum CommandTable {
    nonisolated(unsafe) public static let all: [any ShellCommand.Type] =
        processCommands + inspectCommands + layoutCommands + stackCommands + executionCommands + shellCommands

    nonisolated(unsafe) static let processCommands: [any ShellCommand.Type] = [
        AttachCommand.self, RunCommand.self, DetachCommand.self, KillCommand.self,
        ThreadsCommand.self, ThreadCommand.self,
    ]

    nonisolated(unsafe) static let inspectCommands: [any ShellCommand.Type] = [
        RegsCommand.self, SetCommand.self, ExamineCommand.self,
    ]

    nonisolated(unsafe) static let shellCommands: [any ShellCommand.Type] = [
        HelpCommand.self, EchoCommand.self, SourceCommand.self, QuitCommand.self, ExplainCommand.self,
    ]

    /// Every name and alias, for completion.
    public static var names: [String] { all.flatMap { [$0.spec.name] + $0.spec.aliases }.sorted() }

    /// Finds a command by name, alias or unique prefix of a name.
    public static func lookup(_ word: String) throws -> any ShellCommand.Type {
        let word = word.lowercased()
        if let exact = all.first(where: { $0.spec.name == word || $0.spec.aliases.contains(word) }) {
            return exact
        }
        // A prefix of a name or of a one-word alias ("bac" is backtrace, an alias of bt).
        let matches = all.filter { command in
            command.spec.name.hasPrefix(word)
                || command.spec.aliases.contains { !$0.contains(" ") && $0.hasPrefix(word) }
        }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw ShellError.unknownCommand(word) }
        throw ShellError.ambiguousCommand(word, matches.map { $0.spec.name }.sorted())
    }
}
