import VMScopeCore

/// What the stack commands share: one thread's libunwind walk, the
/// process's modules and the names of frames.
struct StackContext {
    let target: Target
    let tid: Int32
    let maps: [Mapping]
    let modules: [LoadedModule]
    let cache: ModuleCache
    /// Deep stacks repeat a few return addresses thousands of times: name each once.
    private let names = NameMemo()

    final class NameMemo {
        var symbolized: [UInt64: Symbolized?] = [:]
    }

    init(session: Session, tid: Int32? = nil) throws {
        target = try session.requireTarget()
        self.tid = try tid ?? session.currentThread()
        guard target.threads[self.tid] != nil else { throw VMScopeError.noSuchThread(tid: self.tid) }
        maps = try target.maps()
        cache = session.modules
        let target = self.target
        // The vdso has no file: its ELF image is read from the process.
        modules = cache.modules(pid: target.pid, maps: maps) { address, count in
            guard let read = try? target.read(address, count: count), read.isComplete else { return nil }
            return read.bytes
        }
    }

    /// Another thread of the same stop (maps and modules are the process's).
    init(target: Target, tid: Int32, maps: [Mapping], modules: [LoadedModule], cache: ModuleCache) {
        self.target = target; self.tid = tid; self.maps = maps; self.modules = modules; self.cache = cache
    }

    func backtrace(maxFrames: Int = Unwinder.defaultMaxFrames) throws -> Backtrace {
        let unwinder = try target.unwinder()
        unwinder.noteMaps(maps)
        return try unwinder.backtrace(tid: tid, maxFrames: maxFrames)
    }

    func symbolize(_ address: UInt64) -> Symbolized? {
        if let known = names.symbolized[address] { return known }
        let found = cache.symbolize(address, modules: modules)
        names.symbolized[address] = .some(found)
        return found
    }

    /// "function+0x12" or, without a symbol, "module+0x1234" or "?".
    func name(of frame: Frame) -> FrameName {
        FrameName(symbolize(frame.lookupAddress), lookupAddress: frame.lookupAddress, ip: frame.ip)
    }
}

/// A frame's function, offset (from ip, not the lookup address) and module.
struct FrameName {
    let function: String?
    let offset: UInt64
    let module: String?

    init(_ symbolized: Symbolized?, lookupAddress: UInt64, ip: UInt64) {
        function = symbolized?.function
        module = symbolized?.module.name
        let delta = ip &- lookupAddress
        offset = (symbolized?.offset ?? 0) &+ delta
    }

    var text: String {
        if let function { return sanitized(function, limit: 120) + "+" + hex(offset) }
        if let module { return sanitized(module, limit: 60) + "+" + hex(offset) }
        return "?"
    }

    /// The JSON fields every frame listing shares.
    var jsonFields: [(String, JSON)] {
        [("function", function.map(JSON.string) ?? .null), ("offset", .address(offset)),
         ("module", module.map(JSON.string) ?? .null)]
    }
}

/// Parses `-n N` out of a command's arguments; returns the rest.
func takeFrameLimit(_ arguments: [String], command: String, usage: String) throws -> (limit: Int?, rest: [String]) {
    var rest: [String] = []
    var limit: Int?
    var index = 0
    while index < arguments.count {
        let word = arguments[index]
        if word == "-n" {
            guard index + 1 < arguments.count else { throw ShellError.usage(command: command, usage: usage) }
            guard let value = AddressExpression.parseNumber(arguments[index + 1]), value >= 1, value <= 10_000_000 else {
                throw ShellError.badValue(arguments[index + 1], expected: "a frame count from 1 to 10000000")
            }
            limit = Int(value)
            index += 2
        } else {
            rest.append(word)
            index += 1
        }
    }
    return (limit, rest)
}

extension UnwindStop {
    /// Why the walk ended, as the end of a sentence.
    var explanation: String {
        switch self {
        case .end: return "the walk reached the outermost frame"
        case .maxFrames: return "the walk stopped at the frame limit (-n)"
        case .cfaNotIncreasing: return "the walk stopped: the next frame's CFA was not above this one's (a damaged stack)"
        case .repeatedFrame: return "the walk stopped: the same frame came again (a loop)"
        case .timeout: return "the walk stopped: it ran out of time"
        case .failed(let why): return "libunwind could not go on: \(sanitized(why, limit: 80))"
        }
    }

    var jsonName: String {
        switch self {
        case .end: return "end"
        case .maxFrames: return "max_frames"
        case .cfaNotIncreasing: return "cfa_not_increasing"
        case .repeatedFrame: return "repeated_frame"
        case .timeout: return "timeout"
        case .failed: return "failed"
        }
    }
}
