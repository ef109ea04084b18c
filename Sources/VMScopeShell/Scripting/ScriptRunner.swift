import Glibc
import VMScopeCore

/// Thrown once a script has stopped on an error that was already reported,
/// so enclosing scripts stop too without reporting it again.
struct ScriptStopped: Error {}

/// Runs command files: `#` comments, blank lines, and errors reported as
/// `FILE:LINE: message`. `set on-error continue` keeps going after an error.
struct ScriptRunner {
    let session: Session
    static let maximumDepth = 16

    func run(file path: String) throws {
        guard session.sourceDepth < Self.maximumDepth else { throw ShellError.sourceTooDeep(path) }
        let bytes = try ScriptSafety.readScript(path)
        let text = String(decoding: bytes, as: UTF8.self)
        session.sourceDepth += 1
        defer { session.sourceDepth -= 1 }
        try run(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), name: path)
    }

    /// Runs lines in order; `name` is what error locations start with.
    func run(lines: [String], name: String) throws {
        let dispatcher = Dispatcher(session: session)
        for (index, line) in lines.enumerated() {
            if session.quitRequested { return }
            do {
                if line.contains("\0") { throw ShellError.badValue("binary data", expected: "a line of text") }
                try dispatcher.execute(line)
            } catch let stopped as ScriptStopped {
                throw stopped
            } catch {
                dispatcher.report(error, line: line, location: "\(name):\(index + 1)")
                session.errorCount += 1
                if session.settings.onErrorStop { throw ScriptStopped() }
            }
        }
    }
}
