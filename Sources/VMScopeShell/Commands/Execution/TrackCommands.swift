import VMScopeCore

struct TrackCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "track", group: .execution, usage: "track [sp] [brk] [maps] | track off | track show",
        summary: "Record rsp of each thread, the break and the mappings at every stop; `track show` prints the history.",
        example: "track sp brk maps", needsTarget: false, arguments: [.keyword(["sp", "brk", "maps", "off", "show"])])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let state = session.execution
        if arguments == ["show"] { return TrackShowResult(samples: state.samples, dropped: state.droppedSamples) }
        if arguments == ["off"] {
            state.tracked = []
            return MessageResult("Tracking is off (the history is kept: 'track show').", [("tracked", .array([]))])
        }
        let quantities = try arguments.map { word -> TrackedQuantity in
            guard let quantity = TrackedQuantity(rawValue: word.lowercased()) else {
                throw ShellError.badValue(word, expected: "sp, brk, maps, off or show")
            }
            return quantity
        }
        state.tracked = quantities.isEmpty ? Set(TrackedQuantity.allCases) : Set(quantities)
        state.samples = []
        state.droppedSamples = 0
        // The current state is the first row, so the first stop has something to compare with.
        if let target = session.target, target.isAttached {
            let maps = (try? target.maps()) ?? []
            let event = StopEvent(reason: .stepped, tid: try session.currentThread(), pc: nil, events: [])
            state.record(target: target, event: event, brk: StopReporter.programBreak(target, maps: maps, session: session), maps: maps,
                         reason: "start")
        }
        let names = TrackedQuantity.allCases.filter(state.tracked.contains).map(\.rawValue)
        return MessageResult("Tracking \(names.joined(separator: ", ")) at every stop.",
                             [("tracked", .array(names.map(JSON.string)))])
    }
}

struct TrackShowResult: CommandResult {
    let samples: [GrowthSample]
    /// Older rows let go to keep memory bounded (see ExecutionState.sampleLimit).
    var dropped = 0

    /// The thread whose rsp the chart follows: the one that stopped last.
    private var followed: Int32? { samples.last?.tid }

    func text(_ style: Style) -> String {
        if samples.isEmpty { return "Nothing tracked yet: 'track sp brk maps', then run the target." }
        var rows = [["STOP", "WHY", "TID", "RSP", "RSP MOVED", "BRK", "BRK MOVED", "MAPS"]]
        var previous: GrowthSample?
        for sample in samples {
            let sp = followed.flatMap { sample.sp[$0] }
            let lastSP = followed.flatMap { previous?.sp[$0] }
            rows.append([String(sample.stop), sample.reason, style.namingIDs(String(sample.tid)),
                         sp.map { style.paint(hex($0), .stack) } ?? "-", delta(sp, lastSP),
                         sample.brk.map { style.paint(hex($0), .heap) } ?? "-", delta(sample.brk, previous?.brk),
                         sample.mappingCount.map(String.init) ?? "-"])
            previous = sample
        }
        let note = dropped > 0 ? "(\(dropped) older rows dropped: track keeps the last rows only)\n" : ""
        return note + table(rows) + chart(style)
    }

    private func delta(_ now: UInt64?, _ before: UInt64?) -> String {
        guard let now, let before else { return "" }
        if now == before { return "0" }
        return now < before ? "-" + hex(before - now) : "+" + hex(now - before)
    }

    /// One bar per stop: the distance of rsp below the highest rsp seen,
    /// so a deepening recursion draws a staircase going down.
    private func chart(_ style: Style) -> String {
        guard let followed else { return "" }
        let sps = samples.compactMap { $0.sp[followed] }
        guard sps.count >= 2, let top = sps.max(), let bottom = sps.min(), top > bottom else { return "" }
        var lines = ["", "rsp of thread \(followed) below its highest value (\(hex(top))), one row per stop:"]
        for (sample, sp) in zip(samples.filter { $0.sp[followed] != nil }, sps) {
            let width = Int((top - sp) * 40 / (top - bottom))
            lines.append(padded(String(sample.stop), 5) + " " + style.paint(String(repeating: "#", count: width), .stack)
                         + " -" + hex(top - sp))
        }
        return "\n" + lines.joined(separator: "\n")
    }

    var json: JSON {
        .object([("dropped", .int(Int64(dropped))), ("samples", .array(samples.map { sample in
            .object([("stop", .int(Int64(sample.stop))), ("reason", .string(sample.reason)), ("tid", .int(Int64(sample.tid))),
                     ("rsp", .object(sample.sp.sorted { $0.key < $1.key }.map { (String($0.key), JSON.address($0.value)) })),
                     ("brk", sample.brk.map(JSON.address) ?? .null),
                     ("mappings", sample.mappingCount.map { .int(Int64($0)) } ?? .null)])
        }))])
    }
}
