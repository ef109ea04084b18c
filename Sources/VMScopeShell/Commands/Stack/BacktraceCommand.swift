import VMScopeCore

/// One thread's frames as `bt` shows them.
struct ThreadBacktrace {
    struct Row {
        let frame: Frame
        let size: UInt64?
        let name: FrameName
        let source: SourceLocation?
    }
    let tid: Int32
    let rows: [Row]
    let stop: UnwindStop

    init(_ backtrace: Backtrace, context: StackContext, unwinder: Unwinder?, separateDebugFiles: Bool) {
        tid = backtrace.tid
        stop = backtrace.stop
        rows = backtrace.frames.map { frame in
            Row(frame: frame, size: backtrace.size(of: frame.index), name: context.name(of: frame),
                source: unwinder?.sourceLocation(of: frame.lookupAddress, separateDebugFiles: separateDebugFiles))
        }
    }

    func text(_ style: Style) -> String {
        var lines = ["Thread \(style.id(tid)): \(rows.count) frame\(rows.count == 1 ? "" : "s"); \(stop.explanation)."]
        let withSource = rows.contains { $0.source != nil }
        var table: [[String]] = [["#", "ip", "sp", "cfa", "size", "function", "module"] + (withSource ? ["source"] : [])]
        for row in rows {
            let f = row.frame
            let cfa: String = f.cfa.map { style.paint(hex($0), .stack) } ?? "-"
            let size: String = row.size.map { String($0) } ?? "-"
            let function: String = row.name.text + (f.isSignalFrame ? " <signal handler called>" : "")
            let module: String = row.name.module.map { sanitized($0, limit: 60) } ?? ""
            var cells: [String] = ["#\(f.index)", style.paint(hex(f.ip), .code), style.paint(hex(f.sp), .stack),
                                   cfa, size, function, module]
            if withSource {
                let source: String = row.source.map { sanitized(lastPathComponent($0.file), limit: 60) + ":\($0.line)" } ?? ""
                cells.append(source)
            }
            table.append(cells)
        }
        lines.append(VMScopeShell.table(table))
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        .object([("tid", .int(Int64(tid))),
                 ("frames", .array(rows.map { row in
                     let f = row.frame
                     return .object([("index", .int(Int64(f.index))), ("ip", .address(f.ip)), ("sp", .address(f.sp)),
                                     ("cfa", f.cfa.map(JSON.address) ?? .null),
                                     ("size", row.size.map { JSON.int(Int64($0)) } ?? .null)]
                                    + row.name.jsonFields + [("signal_frame", .bool(f.isSignalFrame)),
                                       ("interrupted", .bool(f.wasInterrupted)),
                                       ("file", row.source.map { .string($0.file) } ?? .null),
                                       ("line", row.source.map { .int(Int64($0.line)) } ?? .null)])
                 })),
                 ("stop", .string(stop.jsonName)), ("complete", .bool(stop.isComplete))])
    }
}

struct BacktraceResult: CommandResult {
    let threads: [ThreadBacktrace]
    let all: Bool

    func text(_ style: Style) -> String { threads.map { $0.text(style) }.joined(separator: "\n\n") }
    var json: JSON { all ? .object([("threads", .array(threads.map(\.json)))]) : threads.first?.json ?? .null }
}

struct BacktraceCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "bt", aliases: ["backtrace", "where"], group: .stack,
        usage: "bt [all | TID] [-n N] [-s]",
        summary: "The selected thread's frames by libunwind (all threads with 'all'): ip, sp, CFA, frame size, function+offset, module, file:line where the file has DWARF (-s: installed debug files too, e.g. libc6-dbg).",
        example: "bt -n 20", needsTarget: true, arguments: [.thread])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let (limit, words) = try takeFrameLimit(arguments, command: spec.name, usage: spec.usage)
        let separateDebugFiles = words.contains("-s")
        let rest = words.filter { $0 != "-s" }
        guard rest.count <= 1 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        var tids: [Int32]
        let all = rest.first == "all"
        if all {
            tids = target.threadIDs
        } else if let word = rest.first {
            guard let tid = Int32(word) else { throw ShellError.badValue(word, expected: "'all' or a thread id") }
            tids = [tid]
        } else {
            tids = [try session.currentThread()]
        }
        let first = try StackContext(session: session, tid: tids[0])
        var threads: [ThreadBacktrace] = []
        for tid in tids {
            let context = tid == first.tid ? first
                : StackContext(target: first.target, tid: tid, maps: first.maps, modules: first.modules, cache: first.cache)
            guard target.threads[tid] != nil else { throw VMScopeError.noSuchThread(tid: tid) }
            threads.append(ThreadBacktrace(try context.backtrace(maxFrames: limit ?? Unwinder.defaultMaxFrames), context: context,
                                           unwinder: try? target.unwinder(), separateDebugFiles: separateDebugFiles))
        }
        return BacktraceResult(threads: threads, all: all)
    }
}

func lastPathComponent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
