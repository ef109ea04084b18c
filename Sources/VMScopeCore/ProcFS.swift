import Glibc

/// Facts about a process or thread read from /proc, without tracing it.
public enum ProcFS {
    /// The fields of /proc/PID/stat after the command name, which may itself
    /// contain spaces and parentheses: split after the last ')'.
    public struct Stat: Sendable {
        public let state: Character
        /// Field 9.
        public let flags: UInt64
        /// Field 22, in clock ticks since boot: with the pid, it names one process.
        public let startTime: UInt64
        /// Field 47: where the heap begins.
        public let startBrk: UInt64
        /// Fields 48 to 52.
        public let argStart: UInt64, argEnd: UInt64, envStart: UInt64, envEnd: UInt64
        /// Fields 26, 27, 28 (start_code, end_code, start_stack: where argc sat
        /// at exec) and 45, 46 (start_data, end_data).
        public var startCode: UInt64 = 0, endCode: UInt64 = 0, startStack: UInt64 = 0
        public var startData: UInt64 = 0, endData: UInt64 = 0
    }

    public static func stat(_ path: String) -> Stat? {
        guard let text = readTextFile(path), let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state).
        func field(_ n: Int) -> UInt64 {
            let i = n - 3
            return i < rest.count ? UInt64(rest[i].trimmingNewline) ?? 0 : 0
        }
        guard let state = rest.first?.first else { return nil }
        return Stat(state: state, flags: field(9), startTime: field(22), startBrk: field(47),
                    argStart: field(48), argEnd: field(49), envStart: field(50), envEnd: field(51),
                    startCode: field(26), endCode: field(27), startStack: field(28),
                    startData: field(45), endData: field(46))
    }

    public static func stat(pid: Int32) -> Stat? { stat("/proc/\(pid)/stat") }
    public static func stat(pid: Int32, tid: Int32) -> Stat? { stat("/proc/\(pid)/task/\(tid)/stat") }

    /// The `Key:\tvalue` lines of /proc/PID/status.
    public static func status(pid: Int32) -> [String: String]? {
        guard let text = readTextFile("/proc/\(pid)/status") else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            fields[String(line[..<colon])] = String(value)
        }
        return fields
    }

    /// The thread ids of a process, in ascending order.
    public static func threadIDs(pid: Int32) throws -> [Int32] {
        try listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }.sorted()
    }

    /// /proc/PID/comm without its newline (raw: it may hold any byte).
    public static func comm(pid: Int32, tid: Int32? = nil) -> String? {
        let path = tid.map { "/proc/\(pid)/task/\($0)/comm" } ?? "/proc/\(pid)/comm"
        return readTextFile(path).map { String($0.trimmingNewline) }
    }

    /// The executable's path (the target of /proc/PID/exe).
    public static func executablePath(pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/\(pid)/exe", &buffer, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A small integer from a sysctl-like file, e.g. /proc/sys/vm/mmap_min_addr.
    public static func integer(_ path: String) -> Int? {
        readTextFile(path).flatMap { Int($0.trimmingNewline) }
    }

    public static let kernelThreadFlag: UInt64 = 0x0020_0000  // PF_KTHREAD
}

extension StringProtocol {
    /// The text without trailing newlines and spaces.
    var trimmingNewline: Substring {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " || last == "\r" { s = s.dropLast() }
        return s
    }
}
