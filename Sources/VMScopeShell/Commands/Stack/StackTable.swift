extension CommandTable {
    /// The stack commands (bt, frame, up, down, stack, telescope).
    nonisolated(unsafe) static let stackCommands: [any ShellCommand.Type] = [
        BacktraceCommand.self, FrameCommand.self, UpCommand.self, DownCommand.self,
        StackCommand.self, TelescopeCommand.self,
    ]
}
