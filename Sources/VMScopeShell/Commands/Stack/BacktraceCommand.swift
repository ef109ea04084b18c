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
        // A deep stack repeats a few return addresses thousands of times:
        // one lookup here instead of a name memo, a source-line memo and
        // their Strings per frame (a third of the time a 10,000-frame `bt`
        // held the process stopped). The key keeps ip and whether it is a
        // return address (which decides the lookup address and the offset).
        struct Key: Hashable { let ip: UInt64; let isReturnAddress: Bool }
        var known: [Key: (FrameName, SourceLocation?)] = [:]
        var made: [Row] = []
        made.reserveCapacity(backtrace.frames.count)
        for frame in backtrace.frames {
            let key = Key(ip: frame.ip, isReturnAddress: frame.ipIsReturnAddress)
            let described: (FrameName, SourceLocation?)
            if let cached = known[key] {
                described = cached
            } else {
                described = (context.name(of: frame),
                             unwinder?.sourceLocation(of: frame.lookupAddress, separateDebugFiles: separateDebugFiles))
                known[key] = described
            }
            made.append(Row(frame: frame, size: backtrace.size(of: frame.index), name: described.0, source: described.1))
        }
        rows = made
    }

    /// Laid out by hand into bytes rather than with table(): a 10,000-frame
    /// stack repeats a handful of names, so each distinct name is made and
    /// measured once, and numbers are written as hex digits directly.
    func text(_ style: Style) -> String {
        let header = "Thread \(style.id(tid)): \(rows.count) frame\(rows.count == 1 ? "" : "s"); \(stop.explanation)."
        let withSource = rows.contains { $0.source != nil }
        struct Named { let function: [UInt8]; let functionWidth: Int; let module: [UInt8]; let moduleWidth: Int; let source: [UInt8] }
        var memo: [UInt64: Named] = [:]
        var named: [Named] = []
        named.reserveCapacity(rows.count)
        for row in rows {
            let f = row.frame
            if let known = memo[f.ip] { named.append(known); continue }
            let function = row.name.text + (f.isSignalFrame ? " <signal handler called>" : "")
            let module = row.name.module.map { sanitized($0, limit: 60) } ?? ""
            let source = row.source.map { sanitized(lastPathComponent($0.file), limit: 60) + ":\($0.line)" } ?? ""
            let made = Named(function: Array(function.utf8), functionWidth: visibleWidth(function),
                             module: Array(module.utf8), moduleWidth: visibleWidth(module), source: Array(source.utf8))
            memo[f.ip] = made
            named.append(made)
        }
        func hexWidth(_ v: UInt64) -> Int { 2 + max(1, (64 - v.leadingZeroBitCount + 3) / 4) }
        func decimalWidth(_ v: Int) -> Int { String(v).utf8.count }
        var widths = [1, 2, 2, 3, 4, 8, 6]  // the headers' widths
        widths[0] = max(1, 1 + decimalWidth(max(rows.count - 1, 0)))
        for (row, name) in zip(rows, named) {
            let f = row.frame
            widths[1] = max(widths[1], hexWidth(f.ip)); widths[2] = max(widths[2], hexWidth(f.sp))
            widths[3] = max(widths[3], f.cfa.map(hexWidth) ?? 1)
            widths[4] = max(widths[4], row.size.map { decimalWidth(Int(clamping: $0)) } ?? 1)
            widths[5] = max(widths[5], name.functionWidth); widths[6] = max(widths[6], name.moduleWidth)
        }
        var out: [UInt8] = Array(header.utf8)
        out.reserveCapacity(out.count + (rows.count + 1) * (widths.reduce(0, +) + 32))
        func spaces(_ n: Int) { if n > 0 { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n)) } }
        func text(_ t: String, _ column: Int) { out.append(contentsOf: t.utf8); spaces(widths[column] - t.utf8.count + 2) }
        func hexDigits(_ v: UInt64, _ column: Int) {
            let digits = hexWidth(v) - 2
            out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "x"))
            for i in stride(from: digits - 1, through: 0, by: -1) {
                let nibble = UInt8((v >> (UInt64(i) * 4)) & 0xf)
                out.append(nibble < 10 ? 48 + nibble : 87 + nibble)
            }
            spaces(widths[column] - digits - 2 + 2)
        }
        func painted(_ role: Style.Role, _ body: () -> Void) {
            guard style.enabled else { return body() }
            let start = out.count
            body()
            var end = out.count
            while end > start && out[end - 1] == UInt8(ascii: " ") { end -= 1 }
            let padding = Array(out[end...])
            let cell = String(decoding: out[start..<end], as: UTF8.self)
            out.removeSubrange(start...)
            out.append(contentsOf: style.paint(cell, role).utf8)
            out.append(contentsOf: padding)
        }
        out.append(UInt8(ascii: "\n"))
        for (i, title) in ["#", "ip", "sp", "cfa", "size", "function"].enumerated() { text(title, i) }
        out.append(contentsOf: (withSource ? "module" + String(repeating: " ", count: widths[6] - 6 + 2) + "source" : "module").utf8)
        for (row, name) in zip(rows, named) {
            let f = row.frame
            out.append(UInt8(ascii: "\n"))
            text("#\(f.index)", 0)
            painted(.code) { hexDigits(f.ip, 1) }
            painted(.stack) { hexDigits(f.sp, 2) }
            if let cfa = f.cfa { painted(.stack) { hexDigits(cfa, 3) } } else { text("-", 3) }
            text(row.size.map { String($0) } ?? "-", 4)
            out.append(contentsOf: name.function); spaces(widths[5] - name.functionWidth + 2)
            out.append(contentsOf: name.module)
            if withSource { spaces(widths[6] - name.moduleWidth + 2); out.append(contentsOf: name.source) }
        }
        return String(decoding: out, as: UTF8.self)
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
