import CVMScopeShims

/// A source position from DWARF line information.
public struct SourceLocation: Sendable, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
}

/// File:line lookups for one process through libdwfl (elfutils), which
/// parses each module's line table once; results are cached per address.
/// Created by the Unwinder and kept across stops (code does not move).
final class SourceLines {
    private let handle: OpaquePointer
    private var cache: [UInt64: SourceLocation?] = [:]

    init?(pid: Int32, separateDebugFiles: Bool) {
        guard let handle = vms_lines_create(pid, separateDebugFiles ? 1 : 0) else { return nil }
        self.handle = handle
    }

    deinit { vms_lines_destroy(handle) }

    func location(of address: UInt64) -> SourceLocation? {
        if let cached = cache[address] { return cached }
        var buffer = [CChar](repeating: 0, count: 1024)
        var line: Int32 = 0, column: Int32 = 0
        let found = vms_lines_lookup(handle, address, &buffer, buffer.count, &line, &column) == 1
        let result = found ? SourceLocation(file: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                            line: Int(line), column: Int(column)) : nil
        cache[address] = .some(result)
        return result
    }

    /// The first code address of `file`:`line` (file may be a suffix).
    func address(file: String, line: Int) -> UInt64? {
        var address: UInt64 = 0
        guard line > 0, line <= Int(Int32.max), vms_lines_address(handle, file, Int32(line), &address) == 1 else { return nil }
        return address
    }
}
