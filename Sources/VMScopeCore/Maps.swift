import Glibc
/// One line of /proc/PID/maps.
public struct Mapping: Equatable, Sendable {
    public let start: UInt64
    public let end: UInt64
    /// The four permission characters as the kernel prints them, e.g. "r-xp".
    public let perms: String
    public let offset: UInt64
    public let device: String
    public let inode: UInt64
    /// The path or pseudo-name ("[heap]", "[anon:name]"), "" for anonymous
    /// memory. The kernel escapes a newline in a path as "\012"; the text is
    /// kept as the kernel wrote it, " (deleted)" included.
    public let path: String

    public var size: UInt64 { end - start }
    // Bytes, not Characters: these run for every mapping on every stop
    // (the unwinder's code signature, module grouping), hundreds of times
    // for a process with many threads.
    public var isReadable: Bool { perms.utf8.first == UInt8(ascii: "r") }
    public var isWritable: Bool { perms.utf8.dropFirst().first == UInt8(ascii: "w") }
    public var isExecutable: Bool { perms.utf8.dropFirst(2).first == UInt8(ascii: "x") }
    public var isShared: Bool { perms.utf8.last == UInt8(ascii: "s") }
    /// The file was deleted after it was mapped. A file may itself be named
    /// "x (deleted)": when that path still holds the mapped inode, it is not.
    public var isDeleted: Bool {
        guard inode != 0 && path.hasSuffix(" (deleted)") else { return false }
        var info = Glibc.stat()
        return !(stat(path, &info) == 0 && UInt64(info.st_ino) == inode)
    }
    /// Backed by a file (as opposed to anonymous memory or a pseudo-name).
    public var isFile: Bool { inode != 0 && path.hasPrefix("/") }
    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    public init(start: UInt64, end: UInt64, perms: String, offset: UInt64,
                device: String, inode: UInt64, path: String) {
        self.start = start; self.end = end; self.perms = perms; self.offset = offset
        self.device = device; self.inode = inode; self.path = path
    }
}

public enum MapsParser {
    /// Parses the text of /proc/PID/maps. The first five fields are
    /// space-separated; the path is everything after the padding that
    /// follows the inode, so paths with spaces survive.
    public static func parse(_ text: String) -> [Mapping] {
        parse(bytes: Array(text.utf8))
    }

    /// The same, on the file's bytes: fields are found and numbers parsed
    /// byte by byte, and a String is made only for the path, perms and
    /// device (a process with many threads has hundreds of lines, and the
    /// stack commands read them on every stop).
    public static func parse(bytes: [UInt8]) -> [Mapping] {
        var result: [Mapping] = []
        result.reserveCapacity(bytes.count / 64)
        bytes.withUnsafeBufferPointer { buffer in
            var lineStart = 0
            while lineStart < buffer.count {
                var lineEnd = lineStart
                while lineEnd < buffer.count && buffer[lineEnd] != 10 { lineEnd += 1 }
                if lineEnd > lineStart, let mapping = parseLine(buffer, lineStart..<lineEnd) { result.append(mapping) }
                lineStart = lineEnd + 1
            }
        }
        return result
    }

    private static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Mapping? {
        let space = UInt8(ascii: " ")
        var i = line.lowerBound
        func nextField() -> Range<Int>? {
            while i < line.upperBound && b[i] == space { i += 1 }
            guard i < line.upperBound else { return nil }
            let start = i
            while i < line.upperBound && b[i] != space { i += 1 }
            return start..<i
        }
        func number(_ range: Range<Int>, radix: UInt64) -> UInt64? {
            guard !range.isEmpty else { return nil }
            var value: UInt64 = 0
            for index in range {
                let c = b[index]
                let digit: UInt64
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt64(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt64(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
                let (sum, carry) = shifted.addingReportingOverflow(digit)
                if overflow || carry { return nil }
                value = sum
            }
            return value
        }
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self) }
        guard let range = nextField(), let perms = nextField(), let offset = nextField(),
              let device = nextField(), let inode = nextField(), perms.count == 4 else { return nil }
        guard let dash = range.first(where: { b[$0] == UInt8(ascii: "-") }),
              let start = number(range.lowerBound..<dash, radix: 16),
              let end = number((dash + 1)..<range.upperBound, radix: 16),
              let off = number(offset, radix: 16), let ino = number(inode, radix: 10) else { return nil }
        // The kernel pads with spaces up to a column, then writes the path.
        while i < line.upperBound && b[i] == space { i += 1 }
        return Mapping(start: start, end: end, perms: text(perms), offset: off,
                       device: text(device), inode: ino, path: text(i..<line.upperBound))
    }

    public static func parseLine(_ line: Substring) -> Mapping? {
        var rest = line[...]
        func nextField() -> Substring? {
            rest = rest.drop(while: { $0 == " " })
            guard !rest.isEmpty else { return nil }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            let field = rest[..<end]
            rest = rest[end...]
            return field
        }
        guard let range = nextField(), let perms = nextField(), let offset = nextField(),
              let device = nextField(), let inode = nextField() else { return nil }
        let bounds = range.split(separator: "-")
        guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16),
              let end = UInt64(bounds[1], radix: 16), let off = UInt64(offset, radix: 16),
              let ino = UInt64(inode), perms.count == 4 else { return nil }
        // The kernel pads with spaces up to a column, then writes the path.
        let path = rest.drop(while: { $0 == " " })
        return Mapping(start: start, end: end, perms: String(perms), offset: off,
                       device: String(device), inode: ino, path: String(path))
    }

    public static func read(pid: Int32) throws -> [Mapping] {
        parse(bytes: try readWholeFile("/proc/\(pid)/maps"))
    }
}

extension Array where Element == Mapping {
    /// The mapping holding an address (binary search: maps are sorted).
    public func mapping(containing address: UInt64) -> Mapping? {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].end <= address { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low].contains(address) ? self[low] : nil
    }
}
