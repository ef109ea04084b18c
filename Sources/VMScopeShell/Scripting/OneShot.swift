/// `vmscope --pid P --batch -ex bt`: the one-shot use, where how long the
/// target stays stopped matters most (issue #7: eu-stack holds a process
/// for well under a millisecond at depth 10). The last command of such a
/// run lets the process go as soon as it has read what it needs, before
/// its result is laid out and written: for a 10,000-frame backtrace that
/// is a quarter of the time the process would otherwise stay stopped.
///
/// Only for stack commands, whose results are plain values (frames, names,
/// source lines) computed while the target was stopped; a command whose
/// text still read from the process would find it gone.
enum OneShot {
    static func releasesEarly(_ step: CommandLineOptions.Step, isLast: Bool, options: CommandLineOptions,
                              dispatcher: Dispatcher) -> Bool {
        guard isLast, options.batch, options.pid != nil, options.transcript == nil,
              case .command(let line) = step else { return false }
        return dispatcher.command(for: line)?.spec.group == .stack
    }
}
