import Glibc

/// What happens when the running target receives a signal, as GDB's
/// `handle SIG stop/nostop pass/nopass`.
public enum SignalPolicy: String, Sendable, CaseIterable {
    /// Stop and report; the signal is delivered when the target resumes.
    case stop
    /// Deliver it silently and keep running (noted with the next stop).
    case pass
    /// Throw it away and keep running: the target never sees it.
    case ignore

    /// Signals programs use for ordinary work pass silently; everything
    /// else (faults, SIGINT, SIGUSR1, SIGTERM...) stops, as in GDB.
    public static let defaults: [Int32: SignalPolicy] = {
        var table: [Int32: SignalPolicy] = [:]
        for sig in [SIGALRM, SIGURG, SIGCHLD, SIGWINCH, SIGPROF, SIGVTALRM, SIGIO, SIGPWR,
                    SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU] {
            table[sig] = .pass
        }
        return table
    }()
}

extension Target {
    /// The policy for `signal` (stop unless told otherwise).
    public func policy(for signal: Int32) -> SignalPolicy { signalPolicies[signal] ?? .stop }
}
