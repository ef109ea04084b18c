/// Mistakes in what the user typed (as opposed to failures of the target).
public enum ShellError: Error, Equatable {
    case unknownCommand(String)
    case ambiguousCommand(String, [String])
    case usage(command: String, usage: String)
    case badNumber(String)
    case badExpression(String, reason: String)
    case badValue(String, expected: String)
    case noSuchFile(String, errno: Int32)
    case sourceTooDeep(String)
    case unknownSetting(String)
    case unknownSymbol(String)
    case cannotWrite(String, errno: Int32)
    case unknownTopic(String, topics: [String])
    /// A command file root must not run (another user could change it).
    case unsafeScript(String, reason: String)
}
