import VMScopeCore

/// Where a thread's stack lives and how far it may grow: the mapping that
/// holds its rsp, and the limit below it (RLIMIT_STACK for the main
/// thread's [stack]; the mapping itself for a thread stack, whose size
/// pthread fixed at creation).
struct StackRegion {
    let mapping: Mapping
    let isMainStack: Bool
    /// The lowest address the stack may reach.
    let limitBottom: UInt64
    /// The limit in bytes, nil when unlimited.
    let limit: UInt64?
    /// argv/envp strings block (main thread only), from /proc/PID/stat.
    let argumentsBlock: Range<UInt64>?
    /// Where argc sat at exec, with the argv[], envp[] and auxv arrays above
    /// it (main thread only): the bottom of what exec put on the stack.
    let startStack: UInt64?

    init?(rsp: UInt64, maps: [Mapping], pid: Int32) {
        guard let mapping = maps.mapping(containing: rsp) else { return nil }
        self.mapping = mapping
        isMainStack = mapping.path == "[stack]"
        if isMainStack {
            let soft = Self.stackLimit(pid: pid)
            limit = soft
            limitBottom = soft.map { mapping.end > $0 ? mapping.end - $0 : 0 } ?? 0
            let stat = ProcFS.stat(pid: pid)
            if let stat, stat.argStart >= mapping.start, stat.envEnd <= mapping.end, stat.argStart < stat.envEnd {
                argumentsBlock = stat.argStart..<stat.envEnd
            } else {
                argumentsBlock = nil
            }
            startStack = stat.flatMap { mapping.contains($0.startStack) ? $0.startStack : nil }
        } else {
            limit = mapping.size
            limitBottom = mapping.start
            argumentsBlock = nil
            startStack = nil
        }
    }

    /// The soft "Max stack size" of /proc/PID/limits; nil when unlimited or unreadable.
    static func stackLimit(pid: Int32) -> UInt64? {
        guard let text = readTextFile("/proc/\(pid)/limits") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max stack size") {
            let fields = line.dropFirst("Max stack size".count).split(separator: " ", omittingEmptySubsequences: true)
            return fields.first.flatMap { UInt64($0) }
        }
        return nil
    }
}
