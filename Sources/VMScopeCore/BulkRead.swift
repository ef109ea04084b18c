/// Reading target memory into a buffer the caller owns and reuses: a large
/// read into fresh memory spends most of its time faulting the new pages
/// in (process_vm_readv into a reused buffer runs at about half of memcpy's
/// speed, into a fresh one at about a sixth).
public struct BufferRead: Sendable, Equatable {
    /// Bytes written at the start of the buffer.
    public let count: Int
    /// The first address that could not be read, when the read stopped early.
    public let firstBadAddress: UInt64?
    public let errno: Int32
}

extension Target {
    /// Fills `buffer` with the target's memory from `address` on (fewer
    /// bytes when the memory after them is unreadable).
    public func read(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> BufferRead {
        try ensureLive()
        let room = UInt64.max - address
        let count = Int(min(UInt64(buffer.count), room == UInt64.max ? room : room + 1))
        let got = memory.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), from: address)
        return BufferRead(count: got.count, firstBadAddress: got.count < count ? address + UInt64(got.count) : nil,
                          errno: got.errno)
    }
}
