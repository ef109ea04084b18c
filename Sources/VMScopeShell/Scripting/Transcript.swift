import Glibc
import VMScopeCore

/// `--transcript FILE.md`: the session written as Markdown for a handout.
/// Each command and its output go in one code block; `echo` text becomes
/// a paragraph of its own, so a script's echo lines read as the prose
/// between the blocks.
final class Transcript {
    private let fd: Int32
    let path: String

    init(path: String) throws {
        // O_NOFOLLOW: run as root in a shared directory, a planted symbolic
        // link must not make vmscope overwrite the file it points to.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw ShellError.cannotWrite(path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// One command and what it printed (result text or error sentence).
    func record(command: String, output: String) {
        writeAll(fd, Self.block(command: command, output: output))
    }

    /// Prose between the blocks (what `echo` printed).
    func paragraph(_ text: String) {
        writeAll(fd, text + "\n\n")
    }

    /// A fenced block whose fence is longer than any run of backticks
    /// inside it (a hexdump's ASCII column may show "```").
    static func block(command: String, output: String) -> String {
        let body = "(vmscope) " + command + (output.isEmpty ? "" : "\n" + output)
        var longest = 0
        var run = 0
        for ch in body.unicodeScalars {
            run = ch == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + "\n" + body + "\n" + fence + "\n\n"
    }
}
