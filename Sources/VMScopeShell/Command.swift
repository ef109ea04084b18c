import VMScopeCore

/// What every command returns: one value that renders as text and as JSON,
/// so nothing is formatted twice.
public protocol CommandResult {
    func text(_ style: Style) -> String
    var json: JSON { get }
}

/// How an argument position completes at the prompt.
/// `symbol`: a symbol name of the target's modules; `address`: a `$register`
/// or a symbol (for commands that take either); `thread`: a traced tid.
public enum ArgumentKind: Sendable {
    case command, register, file, keyword([String]), symbol, address, thread, none
}

/// The groups `help` lists commands under.
public enum CommandGroup: String, CaseIterable, Sendable {
    case process = "Processes"
    case inspect = "Registers and memory"
    case layout = "The address space"
    case stack = "The stack"
    case execution = "Running and stopping"
    case shell = "Shell and scripts"
}

/// A command's description: drives dispatch, `help` and tab completion.
public struct CommandSpec: Sendable {
    public let name: String
    public let aliases: [String]
    public let group: CommandGroup
    public let usage: String
    public let summary: String
    public let example: String
    /// Refuse to run (with a clear sentence) unless a process is attached.
    public let needsTarget: Bool
    /// Completion for each argument position; the last repeats.
    public let arguments: [ArgumentKind]
    /// The command takes the rest of the line as it was typed (echo).
    public let rawText: Bool
    /// At the prompt, an empty line runs this command again (stepping, as in GDB).
    public let repeatsOnEmptyLine: Bool

    public init(name: String, aliases: [String] = [], group: CommandGroup, usage: String, summary: String,
                example: String, needsTarget: Bool = false, arguments: [ArgumentKind] = [],
                rawText: Bool = false, repeatsOnEmptyLine: Bool = false) {
        self.name = name; self.aliases = aliases; self.group = group; self.usage = usage
        self.summary = summary; self.example = example; self.needsTarget = needsTarget
        self.arguments = arguments
        self.rawText = rawText
        self.repeatsOnEmptyLine = repeatsOnEmptyLine
    }
}

/// One type per command. State comes in through the session, never globals.
public protocol ShellCommand {
    static var spec: CommandSpec { get }
    static func run(_ arguments: [String], in session: Session) throws -> CommandResult
}

/// A result with nothing to show beyond a sentence (detach, kill, echo...).
public struct MessageResult: CommandResult {
    public let message: String
    public let fields: [(String, JSON)]

    public init(_ message: String, _ fields: [(String, JSON)] = []) {
        self.message = message
        self.fields = fields
    }

    public func text(_ style: Style) -> String { message }
    public var json: JSON { .object(fields + [("message", .string(message))]) }
}
