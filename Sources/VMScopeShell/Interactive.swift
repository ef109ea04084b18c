import CReadline
import Glibc
import VMScopeCore

/// The prompt: GNU readline with history and completion from the command table.
enum Interactive {
    /// Completion reads the session through this (readline's callbacks are C
    /// functions and cannot capture context). Only the main thread uses it.
    nonisolated(unsafe) static var session: Session?
    nonisolated(unsafe) static var candidates: [String] = []
    nonisolated(unsafe) static var nextCandidate = 0

    static func readLine(prompt: String) -> String? {
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        let line = String(cString: raw)
        if !line.trimmingCharacters().isEmpty { add_history(raw) }
        return line
    }

    static func install(for session: Session) {
        self.session = session
        ReadlineGlobals.readlineName.pointee = UnsafePointer(strdup("vmscope"))
        ReadlineGlobals.attemptedCompletionFunction.pointee = { text, start, _ in
            ReadlineGlobals.attemptedCompletionOver.pointee = 1  // no file names unless the argument is a file
            if Interactive.prepareCandidates(text: text.map { String(cString: $0) } ?? "", start: Int(start)) {
                ReadlineGlobals.attemptedCompletionOver.pointee = 0
                return nil  // readline's own file-name completion
            }
            return rl_completion_matches(text) { _, state in
                if state == 0 { Interactive.nextCandidate = 0 }
                guard Interactive.nextCandidate < Interactive.candidates.count else { return nil }
                defer { Interactive.nextCandidate += 1 }
                return strdup(Interactive.candidates[Interactive.nextCandidate])
            }
        }
    }

    /// What the word under the cursor may become, from the command table.
    /// Returns true when the argument is a file name (readline completes those).
    static func prepareCandidates(text: String, start: Int) -> Bool {
        let line = ReadlineGlobals.lineBuffer.pointee.map { String(cString: $0) } ?? ""
        let before = String(decoding: line.utf8.prefix(start), as: UTF8.self)
        let words = (try? Tokenizer.split(before)) ?? []
        var pool: [String] = []
        if words.isEmpty {
            pool = CommandTable.all.map { $0.spec.name }
        } else if let command = try? CommandTable.lookup(words[0]) {
            let kinds = command.spec.arguments
            let position = words.count - 1
            let kind = kinds.isEmpty ? .none : kinds[min(position, kinds.count - 1)]
            switch kind {
            case .command: pool = CommandTable.all.map { $0.spec.name }
            case .register: pool = Registers.allNames.flatMap { [$0, "$" + $0] }
            case .keyword(let words): pool = words
            case .file: return true
            case .none, .symbol: pool = []
            }
        }
        candidates = pool.filter { $0.hasPrefix(text) }.sorted()
        return false
    }
}

/// readline's global variables, reached through their addresses: Swift 6
/// refuses direct use of mutable C globals, and only the main thread
/// touches them.
enum ReadlineGlobals {
    private static func address<T>(_ name: String, _ type: T.Type) -> UnsafeMutablePointer<T> {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            fatalError("libreadline has no \(name)")
        }
        return symbol.assumingMemoryBound(to: T.self)
    }

    nonisolated(unsafe) static let readlineName = address("rl_readline_name", UnsafePointer<CChar>?.self)
    nonisolated(unsafe) static let attemptedCompletionFunction =
        address("rl_attempted_completion_function", rl_completion_func_t?.self)
    nonisolated(unsafe) static let attemptedCompletionOver = address("rl_attempted_completion_over", Int32.self)
    nonisolated(unsafe) static let lineBuffer = address("rl_line_buffer", UnsafeMutablePointer<CChar>?.self)
}

extension String {
    func trimmingCharacters() -> Substring {
        drop(while: { $0 == " " || $0 == "\t" }).trimmingNewline
    }
}

extension StringProtocol {
    var trimmingNewline: Substring {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " || last == "\r" || last == "\t" { s = s.dropLast() }
        return s
    }
}
