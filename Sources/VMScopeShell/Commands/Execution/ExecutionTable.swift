/// The commands of execution control, in `help` order.
nonisolated(unsafe) let executionCommands: [any ShellCommand.Type] = [
    BreakCommand.self, TbreakCommand.self, DeleteCommand.self, DisableCommand.self, EnableCommand.self,
    InfoBreakpointsCommand.self, ContinueCommand.self, StepiCommand.self, NextiCommand.self,
    FinishCommand.self, UntilCommand.self, SignalCommand.self, CatchSyscallCommand.self,
    TrackCommand.self, MapsDiffCommand.self, DisasCommand.self,
]
