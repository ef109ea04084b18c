import CReadline
import CVMScopeShims
import Glibc
import VMScopeCore

/// The prompt: GNU readline with history kept across sessions, completion
/// from the command table, and Ctrl-C that clears the line.
///
/// Readline runs through its callback interface: vmscope polls standard
/// input itself, so a Ctrl-C (our SIGINT handler only sets a flag, see
/// emergency.c) wakes the poll with EINTR and the line is thrown away the
/// way the readline manual describes, without readline's own handlers.
enum Interactive {
    /// Completion reads the session through this (readline's callbacks are C
    /// functions and cannot capture context). Only the main thread uses it.
    nonisolated(unsafe) static var session: Session?
    nonisolated(unsafe) static var candidates: [String] = []
    nonisolated(unsafe) static var nextCandidate = 0
    /// Filled by the line handler: nil until a line is complete.
    nonisolated(unsafe) private static var finished: ReadResult?
    nonisolated(unsafe) private static var historyFile: String?
    nonisolated(unsafe) private static var lastHistoryEntry: String?

    private enum ReadResult { case line(String), endOfFile }

    /// The function and object names of the target's modules (executable,
    /// libraries, vdso), from the session's ModuleCache (files parsed once).
    static func symbolNames(_ session: Session) -> [String] {
        guard let target = session.target, target.isAttached, let maps = try? target.maps() else { return [] }
        var names = Set<String>()
        for module in session.modules.modules(pid: target.pid, maps: maps) {
            guard let elf = session.modules.elf(for: module) else { continue }
            for symbol in elf.symbols.all where (symbol.isFunction || symbol.isObject) && !symbol.name.isEmpty {
                names.insert(symbol.name)
            }
        }
        return Array(names)
    }

    /// Reads one line; nil at end of input (Ctrl-D on an empty line).
    /// A Ctrl-C discards what was typed and shows a fresh prompt.
    /// Without libreadline (see `install`), a plain prompt and line.
    static func readLine(prompt: String) -> String? {
        guard let rl = try? ReadlineLibrary.load() else {
            writeAll(STDOUT_FILENO, prompt)
            return Swift.readLine(strippingNewline: true)
        }
        finished = nil
        rl.callbackHandlerInstall(prompt, lineHandler)
        while finished == nil {
            var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, -1)
            if ready < 0 {
                guard errno == EINTR else { rl.callbackHandlerRemove(); return nil }
                if vms_take_interrupt() != 0 {
                    discardLine(rl)
                    rl.callbackHandlerInstall(prompt, lineHandler)
                }
                continue
            }
            if descriptor.revents & Int16(POLLNVAL) != 0 { rl.callbackHandlerRemove(); return nil }  // stdin closed
            if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { rl.callbackReadChar() }
        }
        guard case .line(let line)? = finished else { return nil }
        remember(line, rl)
        return line
    }

    /// Called by readline with a complete line (nil: end of input).
    nonisolated(unsafe) private static let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { raw in
        (try? ReadlineLibrary.load())?.callbackHandlerRemove()
        guard let raw else { Interactive.finished = .endOfFile; return }
        Interactive.finished = .line(String(cString: raw))
        free(raw)
    }

    /// What the readline manual prescribes for SIGINT in callback mode:
    /// drop the line and any search or argument in progress, restore the terminal.
    private static func discardLine(_ rl: ReadlineLibrary) {
        rl.freeLineState()
        rl.callbackSigcleanup()  // ends a Ctrl-R search: redisplays the line it found
        ReadlineGlobals.point.pointee = ReadlineGlobals.end.pointee  // the cursor to the line's end
        rl.redisplay()
        writeAll(STDOUT_FILENO, "^C")  // after the line, where a terminal would echo it
        rl.cleanupAfterSignal()
        let transient: UInt = 0x0000080 | 0x0000100 | 0x0000400 | 0x0100000 | 0x0200000
        ReadlineGlobals.readlineState.pointee &= ~transient  // ISEARCH NSEARCH NUMERICARG VIMOTION MULTIKEY
        ReadlineGlobals.done.pointee = 1
        rl.callbackHandlerRemove()
        writeAll(STDOUT_FILENO, "\n")
    }

    /// Loads readline and sets it up; throws `.libraryUnavailable` when
    /// libreadline.so.8 is missing (the prompt then works without editing).
    static func install(for session: Session) throws {
        self.session = session
        let rl = try ReadlineLibrary.load()
        ReadlineGlobals.readlineName.pointee = UnsafePointer(strdup("vmscope"))
        ReadlineGlobals.catchSignals.pointee = 0  // SIGINT stays vmscope's (a flag)
        ReadlineGlobals.attemptedCompletionFunction.pointee = { text, start, _ in
            ReadlineGlobals.attemptedCompletionOver.pointee = 1  // no file names unless the argument is a file
            if Interactive.prepareCandidates(text: text.map { String(cString: $0) } ?? "", start: Int(start)) {
                ReadlineGlobals.attemptedCompletionOver.pointee = 0
                return nil  // readline's own file-name completion
            }
            return (try? ReadlineLibrary.load())?.completionMatches(text) { _, state in
                if state == 0 { Interactive.nextCandidate = 0 }
                guard Interactive.nextCandidate < Interactive.candidates.count else { return nil }
                defer { Interactive.nextCandidate += 1 }
                return strdup(Interactive.candidates[Interactive.nextCandidate])
            }
        }
        loadHistory(rl)
    }

    // MARK: history

    /// `$XDG_STATE_HOME/vmscope/history` when XDG_STATE_HOME is set, else `~/.vmscope_history`.
    static func historyPath() -> String? {
        if let state = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), state.hasPrefix("/") {
            return state + "/vmscope/history"
        }
        guard let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty else { return nil }
        return home + "/.vmscope_history"
    }

    static let historyLimit: Int32 = 1000

    private static func loadHistory(_ rl: ReadlineLibrary) {
        guard let path = historyPath() else { return }
        if let slash = path.lastIndex(of: "/"), path.hasSuffix("/vmscope/history") {
            let folder = String(path[..<slash])
            _ = mkdir(String(folder.dropLast("/vmscope".count)), 0o700)  // XDG_STATE_HOME itself may not exist yet
            _ = mkdir(folder, 0o700)
        }
        // append_history needs the file to exist.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        close(fd)
        historyFile = path
        rl.stifleHistory(historyLimit)
        _ = rl.readHistory(path)
        if ReadlineGlobals.historyLength.pointee > 0,
           let entry = rl.historyGet(ReadlineGlobals.historyBase.pointee + ReadlineGlobals.historyLength.pointee - 1),
           let text = entry.pointee.line {
            lastHistoryEntry = String(cString: text)
        }
    }

    /// Adds a line to the history (not blank ones, not a repeat of the last)
    /// and to the file at once, so a killed session keeps what it typed.
    private static func remember(_ line: String, _ rl: ReadlineLibrary) {
        guard !line.trimmingCharacters().isEmpty, line != lastHistoryEntry else { return }
        lastHistoryEntry = line
        rl.addHistory(line)
        if let historyFile {
            _ = rl.appendHistory(1, historyFile)
            _ = rl.historyTruncateFile(historyFile, historyLimit)
        }
    }

    // MARK: completion

    /// What the word under the cursor may become, from the command table.
    /// Returns true when the argument is a file name (readline completes those).
    static func prepareCandidates(text: String, start: Int) -> Bool {
        let line = ReadlineGlobals.lineBuffer.pointee.map { String(cString: $0) } ?? ""
        let before = String(decoding: line.utf8.prefix(start), as: UTF8.self)
        switch completion(before: before, session: session) {
        case .file: return true
        case .words(let pool):
            candidates = Array(Set(pool.filter { $0.hasPrefix(text) })).sorted()
            return false
        }
    }

    enum Completion: Equatable { case words([String]), file }

    /// The candidates for the word that follows `before` (the line up to the
    /// cursor's word): command names first, then what the command's
    /// `arguments` say for that position (the last kind repeats).
    static func completion(before: String, session: Session?) -> Completion {
        let words = (try? Tokenizer.split(before)) ?? []
        let commandWords = CommandTable.names.filter { !$0.contains(" ") }  // names and one-word aliases
        if words.isEmpty { return .words(commandWords) }
        var command = try? CommandTable.lookup(words[0])
        var consumed = 1
        if words.count >= 2 {  // two-word aliases: "info registers", "i r"
            let pair = words[0].lowercased() + " " + words[1].lowercased()
            if let aliased = CommandTable.all.first(where: { $0.spec.aliases.contains(pair) }) {
                command = aliased
                consumed = 2
            }
        }
        guard let command else {
            // "info <TAB>": the second words of two-word aliases.
            let first = words[0].lowercased() + " "
            let seconds = CommandTable.all.flatMap { $0.spec.aliases }
                .filter { $0.hasPrefix(first) && words.count == 1 }
                .map { String($0.dropFirst(first.count).prefix(while: { $0 != " " })) }
            return .words(seconds)
        }
        let kinds = command.spec.arguments
        let position = words.count - consumed
        let kind = kinds.isEmpty ? .none : kinds[min(position, kinds.count - 1)]
        switch kind {
        case .command: return .words(commandWords)
        case .register: return .words(Registers.allNames.flatMap { [$0, "$" + $0] })
        case .keyword(let options): return .words(options)
        case .file: return .file
        case .symbol: return .words(session.map(symbolNames) ?? [])
        case .address: return .words(Registers.allNames.map { "$" + $0 } + (session.map(symbolNames) ?? []))
        case .thread:
            guard let target = session?.target, target.isAttached else { return .words([]) }
            return .words(target.threadIDs.map { String($0) })
        case .none: return .words([])
        }
    }
}

/// readline's global variables, reached through their addresses: Swift 6
/// refuses direct use of mutable C globals, and only the main thread
/// touches them. Used only once `ReadlineLibrary.load()` has succeeded.
enum ReadlineGlobals {
    private static func address<T>(_ name: String, _ type: T.Type) -> UnsafeMutablePointer<T> {
        guard let symbol = try? ReadlineLibrary.library.variable(name, as: T.self) else {
            fatalError("libreadline has no \(name)")
        }
        return symbol
    }

    nonisolated(unsafe) static let readlineName = address("rl_readline_name", UnsafePointer<CChar>?.self)
    /// Spelled out as a C function pointer: through a raw address, the
    /// imported typedef would be stored as a Swift closure (two words).
    typealias CompletionFunction = @convention(c) (UnsafePointer<CChar>?, Int32, Int32)
        -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    nonisolated(unsafe) static let attemptedCompletionFunction =
        address("rl_attempted_completion_function", CompletionFunction?.self)
    nonisolated(unsafe) static let attemptedCompletionOver = address("rl_attempted_completion_over", Int32.self)
    nonisolated(unsafe) static let lineBuffer = address("rl_line_buffer", UnsafeMutablePointer<CChar>?.self)
    nonisolated(unsafe) static let catchSignals = address("rl_catch_signals", Int32.self)
    nonisolated(unsafe) static let done = address("rl_done", Int32.self)
    nonisolated(unsafe) static let point = address("rl_point", Int32.self)
    nonisolated(unsafe) static let end = address("rl_end", Int32.self)
    nonisolated(unsafe) static let readlineState = address("rl_readline_state", UInt.self)
    nonisolated(unsafe) static let historyLength = address("history_length", Int32.self)
    nonisolated(unsafe) static let historyBase = address("history_base", Int32.self)
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
