import VMScopeCore

/// One thread's frames as `bt` shows them.
struct ThreadBacktrace {
    struct Row {
        let frame: Frame
        let size: UInt64?
        let name: FrameName
    }
    let tid: Int32
    let rows: [Row]
    let stop: UnwindStop

    init(_ backtrace: Backtrace, context: StackContext) {
        tid = backtrace.tid
        stop = backtrace.stop
        rows = backtrace.frames.map { frame in
            Row(frame: frame, size: backtrace.size(of: frame.index), name: context.name(of: frame))
        }
    }

    func text(_ style: Style) -> String {
        var lines = ["Thread \(style.id(tid)): \(rows.count) frame\(rows.count == 1 ? "" : "s"); \(stop.explanation)."]
        var table: [[String]] = [["#", "ip", "sp", "cfa", "size", "function", "module"]]
        for row in rows {
            let f = row.frame
            table.append(["#\(f.index)", style.paint(hex(f.ip), .code), style.paint(hex(f.sp), .stack),
                          f.cfa.map { style.paint(hex($0), .stack) } ?? "-",
                          row.size.map { String($0) } ?? "-",
                          row.name.text + (f.isSignalFrame ? " <signal handler called>" : ""),
                          row.name.module.map { sanitized($0, limit: 60) } ?? ""])
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
                                    + row.name.jsonFields + [("signal_frame", .bool(f.isSignalFrame))])
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
        usage: "bt [all | TID] [-n N]",
        summary: "The selected thread's frames by libunwind (all threads with 'all'): ip, sp, CFA, frame size, function+offset, module.",
        example: "bt -n 20", needsTarget: true, arguments: [.thread])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let (limit, rest) = try takeFrameLimit(arguments, command: spec.name, usage: spec.usage)
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
            threads.append(ThreadBacktrace(try context.backtrace(maxFrames: limit ?? Unwinder.defaultMaxFrames), context: context))
        }
        return BacktraceResult(threads: threads, all: all)
    }
}
