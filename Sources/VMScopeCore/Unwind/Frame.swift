/// One frame of a thread's stack as libunwind recovered it.
public struct Frame: Sendable, Equatable {
    /// 0 is the innermost frame (where the thread is stopped).
    public let index: Int
    /// The instruction pointer: where the thread is (frame 0, or a frame a
    /// signal interrupted) or the return address into this frame.
    public let ip: UInt64
    public let sp: UInt64
    /// The canonical frame address: the caller's sp once this frame has
    /// returned. Unknown (nil) for the outermost frame.
    public let cfa: UInt64?
    /// The callee-saved registers as libunwind recovers them for this frame.
    public let registers: FrameRegisters
    /// Where this frame's rbp value was saved by the frame it called (nil:
    /// still in the register).
    public let rbpSavedAt: UInt64?
    /// The signal trampoline's frame (__restore_rt, "<signal handler
    /// called>"): the kernel's signal frame, holding the interrupted
    /// registers, lies between it and its caller. Its ip is where the
    /// handler returns to, not after a call.
    public let isSignalFrame: Bool
    /// This frame was interrupted by a signal (its caller below is the
    /// trampoline): its ip is the interrupted instruction, not a return address.
    public let wasInterrupted: Bool
    /// ip is a return address (it points after a call instruction).
    public let ipIsReturnAddress: Bool

    /// Where the return address into the caller is stored: just below the
    /// CFA. A signal frame has none: the interrupted rip is in its ucontext.
    public var returnAddressSlot: UInt64? { isSignalFrame ? nil : cfa.map { $0 &- 8 } }

    /// The address to look the function up at: a return address may be the
    /// first byte after the function when the call was its last instruction
    /// (noreturn calls), so look at ip - 1, as eu-stack does.
    public var lookupAddress: UInt64 { ipIsReturnAddress ? ip &- 1 : ip }
}

/// rbp, rbx, r12-r15 of one frame, each nil when libunwind gave no value.
public struct FrameRegisters: Sendable, Equatable {
    public var rbp, rbx, r12, r13, r14, r15: UInt64?

    /// rip and rsp first, in the order frame listings show them.
    public func named(ip: UInt64, sp: UInt64) -> [(String, UInt64)] {
        var list: [(String, UInt64)] = [("rip", ip), ("rsp", sp)]
        for (name, value) in [("rbp", rbp), ("rbx", rbx), ("r12", r12), ("r13", r13), ("r14", r14), ("r15", r15)] {
            if let value { list.append((name, value)) }
        }
        return list
    }
}

/// Why a walk stopped.
public enum UnwindStop: Sendable, Equatable {
    /// The outermost frame (_start, or a thread's clone) was reached.
    case end
    /// The frame limit (-n) was reached.
    case maxFrames
    /// The next frame's CFA was not above this frame's: a corrupt stack.
    case cfaNotIncreasing
    /// The same frame again: a loop.
    case repeatedFrame
    /// The time box ran out.
    case timeout
    /// libunwind could not go on (its message).
    case failed(String)

    public var isComplete: Bool { self == .end }
}

/// A thread's stack, innermost frame first.
public struct Backtrace: Sendable {
    public let tid: Int32
    public let frames: [Frame]
    public let stop: UnwindStop
    /// How long the walk took.
    public let seconds: Double

    /// Where frame `index` saved its caller's rbp (what `push rbp` wrote):
    /// the location of the caller's rbp value, as its callee left it.
    /// Only a slot inside this frame (between its sp and CFA) counts: code
    /// without frame pointers saves no rbp, and the location libunwind
    /// reports is then some other frame's.
    public func savedRBPSlot(of index: Int) -> UInt64? {
        guard index >= 0, index + 1 < frames.count, let slot = frames[index + 1].rbpSavedAt,
              let cfa = frames[index].cfa, slot >= frames[index].sp, slot < cfa else { return nil }
        return slot
    }

    /// Frame size: the caller's CFA minus this frame's CFA.
    public func size(of index: Int) -> UInt64? {
        guard index + 1 < frames.count, let mine = frames[index].cfa, let callers = frames[index + 1].cfa,
              callers > mine else { return nil }
        return callers - mine
    }
}
