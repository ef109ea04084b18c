import VMScopeCore

/// What execution control remembers between commands: the growth history
/// (`track`), the maps of the last two stops (`maps diff`) and the
/// disassembler. One per session.
public final class ExecutionState {
    /// What `track` records at each stop; empty: tracking is off.
    var tracked: Set<TrackedQuantity> = []
    var samples: [GrowthSample] = []
    /// `track` keeps the last `sampleLimit` rows, so a long session's
    /// memory stays bounded; `droppedSamples` older rows were let go.
    var sampleLimit = 10_000
    var droppedSamples = 0
    /// The mappings at the stop before the last one, and at the last one.
    var previousMaps: [Mapping]?
    var currentMaps: [Mapping]?
    /// rsp of the stopped thread and the break at the last stop, for the
    /// "grew by" of the next one.
    var lastSP: [Int32: UInt64] = [:]
    var lastBrk: UInt64?
    /// The stop counter, shown in `track show`.
    var stopCount = 0
    let disassembler = Disassembler()

    public init() {}

    /// Forgets everything about a process that is gone or replaced.
    func reset() {
        samples = []
        droppedSamples = 0
        previousMaps = nil
        currentMaps = nil
        lastSP = [:]
        lastBrk = nil
        stopCount = 0
    }
}

enum TrackedQuantity: String, CaseIterable {
    case sp, brk, maps
}
