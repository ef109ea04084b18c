import Foundation

/// Runs the real `vmscope` executable, as a user would.
enum VMScope {
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["VMSCOPE_BIN"] { return path }
        return TestTarget.packageRoot + "/.build/debug/vmscope"
    }

    static func run(_ args: [String], stdin: String? = nil, timeout: Double = 60) throws
        -> (status: Int32, stdout: String, stderr: String) {
        try runCommand(binary, args, stdin: stdin, timeout: timeout)
    }

    /// Runs with --json and decodes each output line.
    static func json(_ args: [String], timeout: Double = 60) throws -> (status: Int32, lines: [[String: Any]], stderr: String) {
        let result = try run(["--json"] + args, timeout: timeout)
        let lines = result.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        return (result.status, lines, result.stderr)
    }
}

/// "0x7ffe..." -> UInt64.
func hexValue(_ any: Any?) -> UInt64? {
    guard let text = any as? String, text.hasPrefix("0x") else { return nil }
    return UInt64(text.dropFirst(2), radix: 16)
}

/// /proc/PID/maps as the kernel wrote it, one entry per line.
func procMapsLines(_ pid: pid_t) throws -> [String] {
    try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8).split(separator: "\n").map(String.init)
}
