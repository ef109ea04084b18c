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

    /// Laid out by hand rather than with table(): a 10,000-frame stack
    /// repeats a handful of names, so each distinct cell text is made (and
    /// measured) once, and columns are padded without re-measuring.
    func text(_ style: Style) -> String {
        let header = "Thread \(style.id(tid)): \(rows.count) frame\(rows.count == 1 ? "" : "s"); \(stop.explanation)."
        let withSource = rows.contains { $0.source != nil }
        struct Named { let function: String; let module: String; let source: String }
        var memo: [UInt64: Named] = [:]
        var cells: [(index: String, ip: String, sp: String, cfa: String, size: String, named: Named)] = []
        cells.reserveCapacity(rows.count)
        for row in rows {
            let f = row.frame
            let named: Named
            if let known = memo[f.ip] {
                named = known
            } else {
                named = Named(function: row.name.text + (f.isSignalFrame ? " <signal handler called>" : ""),
                              module: row.name.module.map { sanitized($0, limit: 60) } ?? "",
                              source: row.source.map { sanitized(lastPathComponent($0.file), limit: 60) + ":\($0.line)" } ?? "")
                memo[f.ip] = named
            }
            cells.append(("#\(f.index)", hex(f.ip), hex(f.sp), f.cfa.map(hex) ?? "-", row.size.map { String($0) } ?? "-", named))
        }
        var widths = [1, 2, 2, 3, 4, 8, 6]  // the headers' widths
        var nameWidths: [String: Int] = [:]
        func width(_ text: String) -> Int {
            if let known = nameWidths[text] { return known }
            let measured = visibleWidth(text)
            nameWidths[text] = measured
            return measured
        }
        for c in cells {
            widths[0] = max(widths[0], c.index.utf8.count); widths[1] = max(widths[1], c.ip.utf8.count)
            widths[2] = max(widths[2], c.sp.utf8.count); widths[3] = max(widths[3], c.cfa.utf8.count)
            widths[4] = max(widths[4], c.size.utf8.count); widths[5] = max(widths[5], width(c.named.function))
            widths[6] = max(widths[6], width(c.named.module))
        }
        func pad(_ text: String, _ column: Int, measured: Int? = nil) -> String {
            let have = measured ?? text.utf8.count
            return have >= widths[column] ? text : text + String(repeating: " ", count: widths[column] - have)
        }
        var out = header
        out.reserveCapacity(header.utf8.count + (rows.count + 1) * (widths.reduce(0, +) + 40))
        let titles = ["#", "ip", "sp", "cfa", "size", "function", "module"]
        out += "\n" + titles.enumerated().map { i, t in i == 6 && !withSource ? t : pad(t, i) }.joined(separator: "  ")
        if withSource { out += "  source" }
        for c in cells {
            out += "\n"
            out += pad(c.index, 0) + "  "
            out += style.paint(pad(c.ip, 1), .code) + "  "
            out += style.paint(pad(c.sp, 2), .stack) + "  "
            out += (c.cfa == "-" ? pad(c.cfa, 3) : style.paint(pad(c.cfa, 3), .stack)) + "  "
            out += pad(c.size, 4) + "  "
            out += pad(c.named.function, 5, measured: width(c.named.function)) + "  "
            if withSource {
                out += pad(c.named.module, 6, measured: width(c.named.module)) + "  " + c.named.source
            } else {
                out += c.named.module
            }
        }
        return out
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
