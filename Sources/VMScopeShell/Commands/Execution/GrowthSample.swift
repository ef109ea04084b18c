import VMScopeCore

/// One row of `track show`: rsp of each thread, the break and the number
/// of mappings at one stop.
struct GrowthSample {
    let stop: Int
    let reason: String
    let tid: Int32
    let sp: [Int32: UInt64]
    let brk: UInt64?
    let mappingCount: Int?
}

extension ExecutionState {
    /// `reason` overrides the event's short name (the row `track` starts with).
    func record(target: Target, event: StopEvent, brk: UInt64?, maps: [Mapping], reason: String? = nil) {
        guard !tracked.isEmpty else { return }
        var sp: [Int32: UInt64] = [:]
        if tracked.contains(.sp) {
            for tid in target.threadIDs { sp[tid] = (try? target.registers(tid: tid))?.rsp }
        }
        samples.append(GrowthSample(stop: stopCount, reason: reason ?? shortReason(event.reason), tid: event.tid, sp: sp,
                                    brk: tracked.contains(.brk) ? brk : nil,
                                    mappingCount: tracked.contains(.maps) ? maps.count : nil))
        // Trimmed in batches of a tenth, so a row costs O(1) on average.
        if samples.count > sampleLimit + max(1, sampleLimit / 10) {
            let excess = samples.count - sampleLimit
            samples.removeFirst(excess)
            droppedSamples += excess
        }
    }

    func shortReason(_ reason: StopReason) -> String {
        switch reason {
        case .breakpoint(let ids, _): return "bp " + ids.map(String.init).joined(separator: ",")
        case .stepped: return "step"
        case .signal(let number, _, _): return signalName(number)
        case .interrupted: return "ctrl-c"
        case .exited: return "exit"
        case .exec: return "exec"
        case .syscallEntry(let n, _): return "\(SyscallNames.name(n) ?? String(n)) in"
        case .syscallExit(let n, _): return "\(SyscallNames.name(n) ?? String(n)) out"
        }
    }
}
