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
    public var isReadable: Bool { perms.hasPrefix("r") }
    public var isWritable: Bool { perms.dropFirst().hasPrefix("w") }
    public var isExecutable: Bool { perms.dropFirst(2).hasPrefix("x") }
    public var isShared: Bool { perms.hasSuffix("s") }
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
        text.split(separator: "\n", omittingEmptySubsequences: true).compactMap(parseLine)
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
        parse(String(decoding: try readWholeFile("/proc/\(pid)/maps"), as: UTF8.self))
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
