/// The stack walked the old way, by following the rbp chain: each frame
/// that keeps a frame pointer stores its caller's rbp at [rbp] and the
/// return address at [rbp+8]. Code built with -fomit-frame-pointer uses rbp
/// as an ordinary register, so the chain breaks there: set against
/// libunwind's walk (which reads .eh_frame), this shows why.
public struct FramePointerFrame: Sendable, Equatable {
    public let index: Int
    public let ip: UInt64
    /// The rbp value of this frame (its frame base: CFA - 16 when standard).
    public let framePointer: UInt64
}

public struct FramePointerWalk: Sendable {
    public enum Stop: Sendable, Equatable {
        /// rbp reached 0: the outermost frame (_start clears rbp).
        case end
        /// The next rbp is not above this one: not a frame pointer chain.
        case notIncreasing(UInt64)
        /// rbp points at memory that cannot be read.
        case unreadable(UInt64)
        /// The saved return address is not in executable memory.
        case notCode(UInt64)
        case maxFrames
    }

    public let frames: [FramePointerFrame]
    public let stop: Stop
}

extension Target {
    /// Follows the rbp chain of thread `tid` from its current rip and rbp.
    /// `maps` tells which addresses are code (a return address must be).
    public func framePointerWalk(tid: Int32? = nil, maps: [Mapping], memory: MemoryWindow,
                                 maxFrames: Int = Unwinder.defaultMaxFrames) throws -> FramePointerWalk {
        let registers = try registers(tid: tid)
        var frames = [FramePointerFrame(index: 0, ip: registers.rip, framePointer: registers.rbp)]
        var fp = registers.rbp
        while frames.count < maxFrames {
            if fp == 0 { return FramePointerWalk(frames: frames, stop: .end) }
            guard fp <= UInt64.max - 16, let savedFP = memory.word(at: fp),
                  let returnAddress = memory.word(at: fp + 8) else {
                return FramePointerWalk(frames: frames, stop: .unreadable(fp))
            }
            if returnAddress == 0 && savedFP == 0 { return FramePointerWalk(frames: frames, stop: .end) }
            guard maps.mapping(containing: returnAddress)?.isExecutable == true else {
                return FramePointerWalk(frames: frames, stop: .notCode(returnAddress))
            }
            frames.append(FramePointerFrame(index: frames.count, ip: returnAddress, framePointer: savedFP))
            if savedFP != 0 && savedFP <= fp { return FramePointerWalk(frames: frames, stop: .notIncreasing(savedFP)) }
            fp = savedFP
        }
        return FramePointerWalk(frames: frames, stop: .maxFrames)
    }
}
