import Glibc

/// The address ranges a process registered with userfaultfd.
///
/// process_vm_readv on a registered page that is not yet filled waits for
/// the process's fault handler to serve it, and with the process stopped
/// (or the handler gone) it waits for ever. /proc/PID/mem gets EIO at once
/// for the same page (the kernel does not hand a remote access to the
/// handler). So the reader routes these ranges through /proc/PID/mem only.
/// /proc/PID/smaps marks them in VmFlags: `um` (missing pages), `uw`
/// (write-protect), `ui` (minor faults).
enum UserfaultRanges {
    static func read(pid: Int32) -> [Range<UInt64>] {
        guard let bytes = try? readWholeFile("/proc/\(pid)/smaps") else { return [] }
        return parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        var current: Range<UInt64>?
        var lineStart = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            let line = bytes[lineStart..<index]
            lineStart = index + 1
            if let range = mappingRange(line) {
                current = range
            } else if let range = current, line.starts(with: Array("VmFlags:".utf8)) {
                let flags = line.split(separator: UInt8(ascii: " ")).map { Array($0) }
                if flags.contains(where: { $0 == Array("um".utf8) || $0 == Array("uw".utf8) || $0 == Array("ui".utf8) }) {
                    ranges.append(range)
                }
            }
        }
        return ranges
    }

    /// "START-END perms ..." -> START..<END; nil for the other smaps lines.
    private static func mappingRange(_ line: ArraySlice<UInt8>) -> Range<UInt64>? {
        guard let dash = line.firstIndex(of: UInt8(ascii: "-")),
              let space = line[dash...].firstIndex(of: UInt8(ascii: " ")),
              let start = UInt64(String(decoding: line[line.startIndex..<dash], as: UTF8.self), radix: 16),
              let end = UInt64(String(decoding: line[(dash + 1)..<space], as: UTF8.self), radix: 16),
              start < end else { return nil }
        return start..<end
    }
}
