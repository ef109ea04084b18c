import VMScopeCore

/// Runs one command line: finds the command in the table, runs it, and
/// writes its result as text or JSON. Errors are thrown to the caller, who
/// knows where the line came from (prompt, -ex, FILE:LINE).
struct Dispatcher {
    let session: Session
    /// Lets an attached process go between running the command and writing
    /// its result (the last command of a one-shot batch: see OneShot).
    var releaseTargetBeforeOutput = false

    /// Returns false for a blank or comment line.
    @discardableResult
    func execute(_ line: String) throws -> Bool {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return false }
        // A command that takes raw text (echo) must not see its quotes parsed.
        let firstWord = String(trimmed.prefix(while: { $0 != " " && $0 != "\t" }))
        if let raw = try? CommandTable.lookup(firstWord), raw.spec.rawText {
            return try run(raw, [rawRest(of: String(trimmed), afterWords: 1)], line: String(trimmed))
        }
        let words = try Tokenizer.split(String(trimmed))
        guard !words.isEmpty else { return false }
        let (command, argumentStart) = try resolve(words)
        return try run(command, Array(words[argumentStart...]), line: String(trimmed))
    }

    private func run(_ command: any ShellCommand.Type, _ arguments: [String], line: String) throws -> Bool {
        if command.spec.needsTarget { _ = try session.requireTarget() }
        // Ids are named before the command (kill forgets its target) and after (run finds one).
        session.shellState.updateStableNames(symbolic: session.settings.symbolic)
        session.shellState.stableNames.learn(session.target)
        let result = try command.run(arguments, in: session)
        if releaseTargetBeforeOutput, let target = session.target, !target.launched { session.release() }
        session.shellState.updateStableNames(symbolic: session.settings.symbolic)
        session.shellState.stableNames.learn(session.target)
        emit(result, line: line, isEcho: ObjectIdentifier(command) == ObjectIdentifier(EchoCommand.self))
        return true
    }

    /// The command a line would run, without running it (for the empty-line repeat).
    func command(for line: String) -> (any ShellCommand.Type)? {
        guard let words = try? Tokenizer.split(line), !words.isEmpty, !words[0].hasPrefix("#") else { return nil }
        return try? resolve(words).0
    }

    /// Two-word aliases ("info registers", "i r") first, then one word.
    private func resolve(_ words: [String]) throws -> (any ShellCommand.Type, Int) {
        if words.count >= 2 {
            let pair = words[0].lowercased() + " " + words[1].lowercased()
            if let command = CommandTable.all.first(where: { $0.spec.aliases.contains(pair) }) {
                return (command, 2)
            }
        }
        return (try CommandTable.lookup(words[0]), 1)
    }

    private func rawRest(of line: String, afterWords count: Int) -> String {
        var rest = Substring(line)
        for _ in 0..<count {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            rest = rest.drop(while: { $0 != " " && $0 != "\t" })
        }
        return String(rest.drop(while: { $0 == " " || $0 == "\t" }))
    }

    func emit(_ result: CommandResult, line: String, isEcho: Bool = false) {
        let names = session.shellState.stableNames
        let shown: String
        if session.settings.json {
            shown = names.apply(JSON.object([("command", .string(line)), ("result", result.json)]).serialized, ids: false)
            session.output.write(shown + "\n")
        } else {
            shown = names.apply(result.text(names.style(session.settings.style)))
            // A large result (x of megabytes) is not copied just to add the newline.
            if shown.utf8.count > 1 << 20 {
                session.output.write(shown)
                session.output.write("\n")
            } else if !shown.isEmpty {
                session.output.write(shown + "\n")
            }
        }
        guard let transcript = session.shellState.transcript else { return }
        // A handout has no colour escapes, even when the terminal got them.
        let written = session.settings.style.enabled && !session.settings.json
            ? names.apply(result.text(names.style(.plain))) : shown
        if isEcho && !session.settings.json {
            transcript.paragraph(written)
        } else if !written.isEmpty {
            transcript.record(command: names.apply(line), output: written)
        }
    }

    /// Reports an error, with its origin (`FILE:LINE`) when it has one.
    func report(_ error: Error, line: String, location: String?) {
        session.shellState.updateStableNames(symbolic: session.settings.symbolic)
        let names = session.shellState.stableNames
        let message = names.apply(sentence(for: error), ids: !session.settings.json)
        let shown: String
        if session.settings.json {
            var fields: [(String, JSON)] = [("command", .string(line)), ("error", .string(message))]
            if let location { fields.append(("location", .string(location))) }
            shown = names.apply(JSON.object(fields).serialized, ids: false)
            session.output.write(shown + "\n")
        } else {
            let prefix = location.map { "\($0): " } ?? "error: "
            shown = prefix + message
            session.output.writeError(shown + "\n")
        }
        session.shellState.transcript?.record(command: names.apply(line), output: shown)
    }
}
