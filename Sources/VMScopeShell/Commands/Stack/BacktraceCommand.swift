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
    /// measured once, and every byte is written straight into the String's
    /// storage (sized from the column widths beforehand).
    func text(_ style: Style) -> String {
        let header = "Thread \(style.id(tid)): \(rows.count) frame\(rows.count == 1 ? "" : "s"); \(stop.explanation)."
        let withSource = rows.contains { $0.source != nil }
        struct Named { let function: [UInt8]; let functionWidth: Int; let module: [UInt8]; let moduleWidth: Int; let source: [UInt8] }
        var memo: [UInt64: Int] = [:]
        var distinct: [Named] = []
        var nameIndex: [Int] = []
        nameIndex.reserveCapacity(rows.count)
        for row in rows {
            let f = row.frame
            if let known = memo[f.ip] { nameIndex.append(known); continue }
            let function = row.name.text + (f.isSignalFrame ? " <signal handler called>" : "")
            let module = row.name.module.map { sanitized($0, limit: 60) } ?? ""
            let source = row.source.map { sanitized(lastPathComponent($0.file), limit: 60) + ":\($0.line)" } ?? ""
            memo[f.ip] = distinct.count
            nameIndex.append(distinct.count)
            distinct.append(Named(function: Array(function.utf8), functionWidth: visibleWidth(function),
                                  module: Array(module.utf8), moduleWidth: visibleWidth(module), source: Array(source.utf8)))
        }
        func hexWidth(_ v: UInt64) -> Int { 2 + max(1, (64 - v.leadingZeroBitCount + 3) / 4) }
        func decimalWidth(_ v: UInt64) -> Int {
            var digits = 1, rest = v / 10
            while rest > 0 { digits += 1; rest /= 10 }
            return digits
        }
        var widths = [1, 2, 2, 3, 4, 8, 6]  // the headers' widths
        widths[0] = max(1, 1 + decimalWidth(UInt64(max(rows.count - 1, 0))))
        for (row, index) in zip(rows, nameIndex) {
            let f = row.frame, name = distinct[index]
            widths[1] = max(widths[1], hexWidth(f.ip)); widths[2] = max(widths[2], hexWidth(f.sp))
            widths[3] = max(widths[3], f.cfa.map(hexWidth) ?? 1)
            widths[4] = max(widths[4], row.size.map { decimalWidth(UInt64(clamping: Int(clamping: $0))) } ?? 1)
            widths[5] = max(widths[5], name.functionWidth); widths[6] = max(widths[6], name.moduleWidth)
        }
        // The escapes a painted cell gets (none without colour).
        func escapes(_ role: Style.Role) -> (prefix: [UInt8], suffix: [UInt8]) {
            let parts = style.paint("\u{0}", role).split(separator: "\u{0}", omittingEmptySubsequences: false)
            return (Array((parts.first ?? "").utf8), Array((parts.count > 1 ? parts[1] : "").utf8))
        }
        let code = escapes(.code), stack = escapes(.stack)
        let titles = Array("#ipspcfasizefunction".utf8)
        var extraBytes = 0, longestSource = 0
        for name in distinct {
            extraBytes = max(extraBytes, name.function.count - name.functionWidth + name.module.count)
            longestSource = max(longestSource, name.source.count)
        }
        let rowMost = widths.reduce(0, +) + 7 * 2 + code.prefix.count + code.suffix.count
            + 2 * (stack.prefix.count + stack.suffix.count) + extraBytes + longestSource + 1
        let headerBytes = Array(header.utf8)
        let capacity = headerBytes.count + 1 + titles.count + widths.reduce(0, +) + 7 * 2 + 12 + rows.count * rowMost
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            var w = ByteWriter(buffer)
            w.put(headerBytes)
            w.byte(10)
            for (i, title) in ["#", "ip", "sp", "cfa", "size", "function"].enumerated() {
                w.put(title.utf8); w.spaces(widths[i] - title.utf8.count + 2)
            }
            w.put("module".utf8)
            if withSource { w.spaces(widths[6] - 6 + 2); w.put("source".utf8) }
            for (row, index) in zip(rows, nameIndex) {
                let f = row.frame, name = distinct[index]
                w.byte(10)
                w.byte(UInt8(ascii: "#")); w.decimal(UInt64(f.index))
                w.spaces(widths[0] - 1 - decimalWidth(UInt64(f.index)) + 2)
                w.hexCell(f.ip, width: widths[1], paint: code)
                w.hexCell(f.sp, width: widths[2], paint: stack)
                if let cfa = f.cfa { w.hexCell(cfa, width: widths[3], paint: stack) } else { w.byte(UInt8(ascii: "-")); w.spaces(widths[3] - 1 + 2) }
                if let size = row.size {
                    w.decimal(size); w.spaces(widths[4] - decimalWidth(size) + 2)
                } else {
                    w.byte(UInt8(ascii: "-")); w.spaces(widths[4] - 1 + 2)
                }
                w.put(name.function); w.spaces(widths[5] - name.functionWidth + 2)
                w.put(name.module)
                if withSource { w.spaces(widths[6] - name.moduleWidth + 2); w.put(name.source) }
            }
            return w.count
        }
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

/// Writes bytes into a buffer sized beforehand (the bt table).
private struct ByteWriter {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    mutating func byte(_ value: UInt8) {
        guard count < buffer.count else { return }
        buffer[count] = value
        count += 1
    }

    mutating func put<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for value in bytes { byte(value) }
    }

    mutating func spaces(_ n: Int) {
        var left = n
        while left > 0 { byte(32); left -= 1 }
    }

    mutating func decimal(_ value: UInt64) {
        var length = 1, rest = value / 10
        while rest > 0 { length += 1; rest /= 10 }
        guard count + length <= buffer.count else { return }
        var remaining = value
        for position in stride(from: count + length - 1, through: count, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        count += length
    }

    /// "0x" and the digits, in the cell's colour, padded to `width` + 2.
    mutating func hexCell(_ value: UInt64, width: Int, paint: (prefix: [UInt8], suffix: [UInt8])) {
        let digitCount = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
        put(paint.prefix)
        byte(UInt8(ascii: "0")); byte(UInt8(ascii: "x"))
        var shift = (digitCount - 1) * 4
        while shift >= 0 {
            byte(Self.digits[Int((value >> UInt64(shift)) & 0xf)])
            shift -= 4
        }
        put(paint.suffix)
        spaces(width - digitCount - 2 + 2)
    }
}
