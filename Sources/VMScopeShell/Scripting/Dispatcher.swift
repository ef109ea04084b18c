import VMScopeCore

/// Runs one command line: finds the command in the table, runs it, and
/// writes its result as text or JSON. Errors are thrown to the caller, who
/// knows where the line came from (prompt, -ex, FILE:LINE).
struct Dispatcher {
    let session: Session

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
        let result = try command.run(arguments, in: session)
        emit(result, line: line)
        return true
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

    func emit(_ result: CommandResult, line: String) {
        if session.settings.json {
            session.output.write(JSON.object([("command", .string(line)), ("result", result.json)]).serialized + "\n")
        } else {
            let text = result.text(session.settings.style)
            if !text.isEmpty { session.output.write(text + "\n") }
        }
    }

    /// Reports an error, with its origin (`FILE:LINE`) when it has one.
    func report(_ error: Error, line: String, location: String?) {
        let message = sentence(for: error)
        if session.settings.json {
            var fields: [(String, JSON)] = [("command", .string(line)), ("error", .string(message))]
            if let location { fields.append(("location", .string(location))) }
            session.output.write(JSON.object(fields).serialized + "\n")
        } else {
            let prefix = location.map { "\($0): " } ?? "error: "
            session.output.writeError(prefix + message + "\n")
        }
    }
}
