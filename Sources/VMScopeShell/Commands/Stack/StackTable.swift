extension CommandTable {
    /// The stack commands (bt, frame, up, down, stack, telescope).
    nonisolated(unsafe) static let stackCommands: [any ShellCommand.Type] = []
}
