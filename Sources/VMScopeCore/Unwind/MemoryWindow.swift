/// Reads target memory in aligned 64 KiB blocks and keeps them, so walks
/// that look at many nearby words (the rbp chain, telescope, frame dumps)
/// make one read per block instead of one per word. Valid for one stop.
public final class MemoryWindow {
    public static let blockSize: UInt64 = 64 << 10
    private let target: Target
    private var blocks: [UInt64: MemoryRead] = [:]

    public init(target: Target) { self.target = target }

    /// The 8-byte little-endian word at `address`, nil if unreadable.
    public func word(at address: UInt64) -> UInt64? {
        guard let bytes = bytes(at: address, count: 8), bytes.count == 8 else { return nil }
        var value: UInt64 = 0
        for (i, byte) in bytes.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return value
    }

    /// Up to `count` bytes from `address`: fewer when the memory after them
    /// is unreadable, nil when the first byte is.
    public func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var here = address
        while result.count < count {
            let start = here & ~(Self.blockSize - 1)
            guard let block = block(at: start) else { break }
            let offset = Int(here - start)
            guard offset < block.bytes.count else { break }
            let take = min(count - result.count, block.bytes.count - offset)
            result.append(contentsOf: block.bytes[offset..<(offset + take)])
            let (next, overflow) = here.addingReportingOverflow(UInt64(take))
            if overflow || block.bytes.count < Int(Self.blockSize) { break }
            here = next
        }
        return result.isEmpty ? nil : result
    }

    private func block(at start: UInt64) -> MemoryRead? {
        if let cached = blocks[start] { return cached }
        guard let read = try? target.read(start, count: Int(Self.blockSize)) else { return nil }
        blocks[start] = read
        return read
    }
}
