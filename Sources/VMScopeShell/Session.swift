import VMScopeCore

/// Everything a command may use: the traced process, the selected thread
/// and the settings. Commands receive it; there are no globals.
public final class Session {
    public var target: Target?
    /// The thread commands act on; the main thread unless `thread TID` chose another.
    public var selectedThread: Int32? { didSet { selectedFrame = 0 } }
    /// The frame `frame`, `up` and `down` select (0: innermost) in the selected thread.
    public var selectedFrame = 0
    public var settings: Settings
    /// Where text and JSON go. Tests capture it; the executable writes stdout.
    public let output: OutputSink
    /// Set by `quit`: the shell stops reading commands.
    public var quitRequested = false
    /// How deep `source` is nested (a script sourcing itself must end).
    var sourceDepth = 0
    /// Breakpoint-free state of execution control: growth history, maps snapshots.
    public let execution = ExecutionState()
    /// Errors reported so far; a batch run exits 1 if any.
    public var errorCount = 0
    /// The shell's own state: transcript, stable names, the line an empty line repeats.
    public let shellState = ShellState()

    public struct Settings {
        public var json = false
        public var style = Style.plain
        public var onErrorStop = true
        public var disableASLR = true
        /// Print addresses relative to their band (`heap+0x10`), so runs under ASLR compare equal.
        public var symbolic = false
    }

    /// Parsed ELF files of the target's modules, read once per session.
    public let modules = ModuleCache()
    /// brk(0) results, kept while the target has not run.
    public let programBreaks = ProgramBreakCache()

    public init(settings: Settings, output: OutputSink) {
        self.settings = settings
        self.output = output
    }

    /// The attached process, or the error that tells the user to attach one.
    public func requireTarget() throws -> Target {
        guard let target, target.isAttached else {
            if let target, let status = target.exitStatus {
                throw VMScopeError.targetExited(pid: target.pid, status: status)
            }
            throw VMScopeError.notAttached
        }
        return target
    }

    /// The thread to act on: the selected one if it still exists, else the main thread.
    public func currentThread() throws -> Int32 {
        let target = try requireTarget()
        if let selected = selectedThread, target.threads[selected] != nil { return selected }
        return target.threads[target.pid] != nil ? target.pid : target.threadIDs[0]
    }

    /// Lets go of the process the way the user expects on exit: an attached
    /// process is detached and runs on; one vmscope launched is killed.
    public func release(killLaunched: Bool = true) {
        guard let target else { return }
        if target.launched && killLaunched { try? target.kill() } else { try? target.detach() }
        self.target = nil
        selectedThread = nil
    }
}

/// A destination for results and errors.
public protocol OutputSink: AnyObject {
    func write(_ text: String)
    func writeError(_ text: String)
}
