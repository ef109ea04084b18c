import VMScopeCore

/// Everything that happens after the target stops: the maps snapshot for
/// `maps diff`, the `track` sample, and the StopResult that shows the stop.
enum StopReporter {
    static func report(_ event: StopEvent, in session: Session, returnValue: UInt64? = nil) -> StopResult {
        let state = session.execution
        state.stopCount += 1
        guard let target = session.target, target.isAttached else {
            state.previousMaps = nil
            state.currentMaps = nil
            return StopResult(event: event, location: nil, instruction: nil, growth: nil,
                              faultExplanation: nil, returnValue: nil)
        }
        if case .exec = event.reason {
            state.previousMaps = nil
            state.currentMaps = nil
            session.selectedThread = nil
        }
        if target.threads[event.tid] != nil { session.selectedThread = event.tid }
        let maps = (try? target.maps()) ?? []
        state.previousMaps = state.currentMaps
        state.currentMaps = maps
        let sp = (try? target.registers(tid: event.tid))?.rsp
        let brk = programBreak(target, maps: maps)
        var growth: StopResult.Growth?
        if let sp {
            let lastBrk = state.lastBrk
            growth = .init(sp: sp, spDelta: state.lastSP[event.tid].map { Int64(bitPattern: sp &- $0) },
                           brk: brk, brkDelta: brk.flatMap { now in lastBrk.map { Int64(bitPattern: now &- $0) } })
            state.lastSP[event.tid] = sp
        }
        state.lastBrk = brk
        state.record(target: target, event: event, brk: brk, maps: maps)
        var instruction: Instruction?
        if let pc = event.pc {
            instruction = try? target.instructions(at: pc, count: 1, using: state.disassembler).first
        }
        return StopResult(event: event, location: event.pc.flatMap { symbolic($0, in: session) },
                          instruction: instruction, growth: growth,
                          faultExplanation: faultExplanation(event, maps: maps, sp: sp),
                          returnValue: returnValue)
    }

    /// The program break: the end of [heap] (the kernel maps the heap up to
    /// the page-rounded break), else the start of the break area.
    static func programBreak(_ target: Target, maps: [Mapping]) -> UInt64? {
        if let heap = maps.first(where: { $0.path == "[heap]" }) { return heap.end }
        return ProcFS.stat(pid: target.pid)?.startBrk
    }

    /// "symbol+offset" for a code address, when symbols are known.
    static func symbolic(_ address: UInt64, in session: Session) -> String? {
        nil
    }

    static func faultExplanation(_ event: StopEvent, maps: [Mapping], sp: UInt64?) -> String? {
        guard case .signal(_, _, let fault?) = event.reason else { return nil }
        return FaultClassifier.explain(fault, maps: maps, sp: sp)
    }
}
