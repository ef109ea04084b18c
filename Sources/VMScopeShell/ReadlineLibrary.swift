import CReadline
import Glibc
import VMScopeCore

/// GNU readline's functions, resolved from libreadline.so.8 when the
/// prompt first needs them. Why not linked: a `--batch` or piped run never
/// shows a prompt, and loading readline and libtinfo at every start costs
/// time before `main` (see LazyLibrary). CReadline still gives the types.
struct ReadlineLibrary {
    typealias LineHandler = @convention(c) (UnsafeMutablePointer<CChar>?) -> Void
    typealias Generator = @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>?

    static let library = LazyLibrary(soname: "libreadline.so.8", purpose: "the interactive prompt")

    let callbackHandlerInstall: @convention(c) (UnsafePointer<CChar>?, LineHandler?) -> Void
    let callbackHandlerRemove: @convention(c) () -> Void
    let callbackReadChar: @convention(c) () -> Void
    let freeLineState: @convention(c) () -> Void
    let callbackSigcleanup: @convention(c) () -> Void
    let redisplay: @convention(c) () -> Void
    let cleanupAfterSignal: @convention(c) () -> Void
    let completionMatches: @convention(c) (UnsafePointer<CChar>?, Generator?) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    let stifleHistory: @convention(c) (Int32) -> Void
    let readHistory: @convention(c) (UnsafePointer<CChar>?) -> Int32
    let historyGet: @convention(c) (Int32) -> UnsafeMutablePointer<HIST_ENTRY>?
    let addHistory: @convention(c) (UnsafePointer<CChar>?) -> Void
    let appendHistory: @convention(c) (Int32, UnsafePointer<CChar>?) -> Int32
    let historyTruncateFile: @convention(c) (UnsafePointer<CChar>?, Int32) -> Int32

    /// Loads readline (once); throws `.libraryUnavailable` without it.
    static func load() throws -> ReadlineLibrary {
        if let loaded { return loaded }
        let l = library
        let api = ReadlineLibrary(
            callbackHandlerInstall: try l.function("rl_callback_handler_install", as: (@convention(c) (UnsafePointer<CChar>?, LineHandler?) -> Void).self),
            callbackHandlerRemove: try l.function("rl_callback_handler_remove", as: (@convention(c) () -> Void).self),
            callbackReadChar: try l.function("rl_callback_read_char", as: (@convention(c) () -> Void).self),
            freeLineState: try l.function("rl_free_line_state", as: (@convention(c) () -> Void).self),
            callbackSigcleanup: try l.function("rl_callback_sigcleanup", as: (@convention(c) () -> Void).self),
            redisplay: try l.function("rl_redisplay", as: (@convention(c) () -> Void).self),
            cleanupAfterSignal: try l.function("rl_cleanup_after_signal", as: (@convention(c) () -> Void).self),
            completionMatches: try l.function("rl_completion_matches",
                                              as: (@convention(c) (UnsafePointer<CChar>?, Generator?) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?).self),
            stifleHistory: try l.function("stifle_history", as: (@convention(c) (Int32) -> Void).self),
            readHistory: try l.function("read_history", as: (@convention(c) (UnsafePointer<CChar>?) -> Int32).self),
            historyGet: try l.function("history_get", as: (@convention(c) (Int32) -> UnsafeMutablePointer<HIST_ENTRY>?).self),
            addHistory: try l.function("add_history", as: (@convention(c) (UnsafePointer<CChar>?) -> Void).self),
            appendHistory: try l.function("append_history", as: (@convention(c) (Int32, UnsafePointer<CChar>?) -> Int32).self),
            historyTruncateFile: try l.function("history_truncate_file", as: (@convention(c) (UnsafePointer<CChar>?, Int32) -> Int32).self))
        loaded = api
        return api
    }

    nonisolated(unsafe) private static var loaded: ReadlineLibrary?
}
