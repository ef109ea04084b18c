extension CommandTable {
    /// The address-space commands (layout, maps, whereis, brk, auxv, libs, aslr).
    nonisolated(unsafe) static let layoutCommands: [any ShellCommand.Type] = [
        LayoutCommand.self, MapsCommand.self, WhereisCommand.self, BrkCommand.self, AuxvCommand.self,
        LibsCommand.self, AslrCommand.self,
    ]
}
