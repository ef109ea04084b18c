import Glibc
import VMScopeCore

/// What the shell itself remembers during a session: the line an empty
/// prompt line repeats, the transcript being written, and the stable names
/// that replace run-to-run values in deterministic (`--symbolic`) output.
public final class ShellState {
    /// The last line run at the prompt if its command repeats on an empty line.
    var repeatLine: String?
    /// Where `--transcript FILE.md` writes the session.
    var transcript: Transcript?
    /// Process and thread ids and the working directory, shown by stable names.
    var stableNames = StableNames()
    /// Set by `--symbolic` on the command line: the stable names stay for the
    /// whole session even when a script says `set symbolic off` to show a
    /// table with its real addresses.
    var stableNamesPinned = false

    /// Whether output uses stable names now.
    func updateStableNames(symbolic: Bool) { stableNames.enabled = symbolic || stableNamesPinned }

    init() {}
}

/// Deterministic output: a process id, thread ids and the absolute path of
/// the working directory change from run to run (and machine to machine),
/// so with `--symbolic` they are shown as `PID`, `TID1`, `TID2`... (in the
/// order vmscope first sees them) and paths below the working directory
/// as `./...`.
struct StableNames {
    /// Follows `session.settings.symbolic` (set by the Dispatcher before use).
    var enabled = false
    private(set) var names: [Int32: String] = [:]
    private var processes = 0
    private var threads = 0
    private let workingDirectory = StableNames.currentDirectory()

    static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        let path = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path == "/" ? nil : path
    }

    /// Names the process and the threads not seen before.
    mutating func learn(_ target: Target?) {
        guard let target else { return }
        if names[target.pid] == nil {
            processes += 1
            names[target.pid] = processes == 1 ? "PID" : "PID\(processes)"
        }
        for tid in target.threadIDs where names[tid] == nil {
            threads += 1
            names[tid] = "TID\(threads)"
        }
    }

    /// The style results render with: it carries the id names for table cells.
    func style(_ base: Style) -> Style {
        guard enabled else { return base }
        var style = base
        style.idNames = names
        return style
    }

    /// Replaces known ids standing as whole numbers (not digits inside a
    /// hex number or a name), and the working directory at the start of a
    /// path, in rendered text.
    /// JSON keeps ids as numbers (its schema says so): only paths change there.
    func apply(_ text: String, ids: Bool = true) -> String {
        guard enabled, !names.isEmpty || workingDirectory != nil else { return text }
        guard ids else { return workingDirectory.map { text.replacingOccurrences(of: $0 + "/", with: "./") } ?? text }
        let out = replacingIDs(in: text, names: names)
        guard let workingDirectory else { return out }
        return out.replacingOccurrences(of: workingDirectory + "/", with: "./")
    }
}
