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
        let context = try? StackContext(session: session, tid: event.tid)
        let maps = context?.maps ?? (try? target.maps()) ?? []
        state.previousMaps = state.currentMaps
        state.currentMaps = maps
        let sp = (try? target.registers(tid: event.tid))?.rsp
        let brk = programBreak(target, maps: maps, event: event, session: session)
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
        return StopResult(event: event, location: event.pc.flatMap { symbolic($0, in: context) },
                          instruction: instruction, growth: growth,
                          faultExplanation: faultExplanation(event, maps: maps, sp: sp),
                          returnValue: returnValue)
    }

    /// The program break, exact: from brk's own result at its exit stop,
    /// else from brk(0) run in the stopped target. When the stop does not
    /// allow running a system call, the end of [heap] (page-rounded).
    static func programBreak(_ target: Target, maps: [Mapping], event: StopEvent? = nil, session: Session) -> UInt64? {
        if let event, case .syscallExit(let number, let result) = event.reason,
           SyscallNames.name(number) == "brk", result > 0 { return UInt64(result) }
        if let exact = try? session.programBreaks.programBreak(of: target) { return exact }
        if let heap = maps.first(where: { $0.path == "[heap]" }) { return heap.end }
        return ProcFS.stat(pid: target.pid)?.startBrk
    }

    /// "symbol+offset" for a code address, when symbols are known.
    static func symbolic(_ address: UInt64, in context: StackContext?) -> String? {
        guard let context else { return nil }
        let name = FrameName(context.symbolize(address), lookupAddress: address, ip: address).text
        return name == "?" ? nil : name
    }

    static func faultExplanation(_ event: StopEvent, maps: [Mapping], sp: UInt64?) -> String? {
        guard case .signal(_, _, let fault?) = event.reason else { return nil }
        return FaultClassifier.explain(fault, maps: maps, sp: sp)
    }
}
