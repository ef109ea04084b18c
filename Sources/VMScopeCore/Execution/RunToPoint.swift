/// An internal stop point: run until some thread reaches `address` with
/// rsp >= `minimumSP`. The stack condition is what makes `finish` and
/// `nexti` right under recursion: the same return address is reached first
/// by deeper calls, whose rsp is lower.
public struct RunToPoint: Sendable, Equatable {
    public let address: UInt64
    public let minimumSP: UInt64?

    public init(address: UInt64, minimumSP: UInt64?) {
        self.address = address
        self.minimumSP = minimumSP
    }

    func isReached(pc: UInt64, sp: UInt64) -> Bool {
        pc == address && sp >= (minimumSP ?? 0)
    }
}
