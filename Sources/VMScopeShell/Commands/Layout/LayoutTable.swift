extension CommandTable {
    /// The address-space commands (layout, whereis, brk, auxv, libs, aslr).
    nonisolated(unsafe) static let layoutCommands: [any ShellCommand.Type] = []
}
