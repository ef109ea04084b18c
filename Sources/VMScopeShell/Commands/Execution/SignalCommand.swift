import Glibc
import VMScopeCore

struct SignalPoliciesResult: CommandResult {
    let rows: [(signal: Int32, policy: SignalPolicy)]
    let message: String?

    func text(_ style: Style) -> String {
        var lines = [["SIGNAL", "POLICY", "MEANING"]]
        for row in rows {
            lines.append([signalName(row.signal), row.policy.rawValue, Self.meaning(row.policy)])
        }
        return ([message].compactMap { $0 } + [table(lines)]).joined(separator: "\n")
    }

    static func meaning(_ policy: SignalPolicy) -> String {
        switch policy {
        case .stop: return "stop and report; delivered on resume"
        case .pass: return "delivered without stopping"
        case .ignore: return "discarded: the target never sees it"
        }
    }

    var json: JSON {
        .object([("signals", .array(rows.map {
            .object([("signal", .string(signalName($0.signal))), ("signo", .int(Int64($0.signal))),
                     ("policy", .string($0.policy.rawValue))])
        }))])
    }
}

struct SignalCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "signal", aliases: ["handle"], group: .execution, usage: "signal [pass|stop|ignore SIGNAL...]",
        summary: "What a signal does while the target runs: stop (report it), pass (deliver silently), ignore (discard it).",
        example: "signal pass SIGUSR1", needsTarget: true,
        arguments: [.keyword(SignalPolicy.allCases.map(\.rawValue)), .keyword(SignalNames.all)])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        guard let first = arguments.first else {
            let rows = (1...31).map { Int32($0) }.filter { $0 != SIGKILL }.map { ($0, target.policy(for: $0)) }
            return SignalPoliciesResult(rows: rows, message: nil)
        }
        guard let policy = SignalPolicy(rawValue: first.lowercased()), arguments.count >= 2 else {
            throw ShellError.usage(command: spec.name, usage: spec.usage)
        }
        let signals = try arguments.dropFirst().map(SignalNames.number)
        for sig in signals { target.signalPolicies[sig] = policy }
        let names = signals.map(signalName).joined(separator: ", ")
        return SignalPoliciesResult(rows: signals.map { ($0, policy) }, message: "\(names): \(policy.rawValue).")
    }
}

/// Signal names the way users type them: SIGSEGV, SEGV, segv or 11.
enum SignalNames {
    static let all: [String] = (1...31).map { signalName(Int32($0)) }

    static func number(_ text: String) throws -> Int32 {
        if let n = Int32(text), n >= 1, n <= 64 { return n }
        let upper = text.uppercased()
        let name = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        guard let index = all.firstIndex(of: name) else { throw VMScopeError.unknownSignal(name: text) }
        let sig = Int32(index + 1)
        // SIGKILL and SIGSTOP cannot be caught, blocked or kept from the
        // target; pretending otherwise would be a lie.
        if sig == SIGKILL { throw VMScopeError.unknownSignal(name: text + " (it cannot be intercepted)") }
        return sig
    }
}
