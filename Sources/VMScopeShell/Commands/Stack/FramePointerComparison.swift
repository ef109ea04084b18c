import VMScopeCore

/// libunwind's walk (from .eh_frame) beside the rbp-chain walk: where
/// code was built without frame pointers the chain breaks or skips frames.
struct FramePointerComparison {
    let unwound: [FrameName]
    let unwoundComplete: Bool
    let chained: [(name: FrameName, framePointer: UInt64)]
    let stop: FramePointerWalk.Stop

    init(backtrace: Backtrace, walk: FramePointerWalk, context: StackContext) {
        unwound = backtrace.frames.map(context.name(of:))
        unwoundComplete = backtrace.stop.isComplete
        chained = walk.frames.map { frame in
            let lookup = frame.index == 0 ? frame.ip : frame.ip &- 1
            return (FrameName(context.symbolize(lookup), lookupAddress: lookup, ip: frame.ip), frame.framePointer)
        }
        stop = walk.stop
    }

    var stopText: String {
        switch stop {
        case .end: return "it reached rbp = 0, the end of the chain"
        case .notIncreasing(let fp): return "the next saved rbp \(hex(fp)) is not above the current one"
        case .unreadable(let fp): return "rbp \(hex(fp)) does not point at readable memory"
        case .notCode(let address): return "the word after the saved rbp, \(hex(address)), is not an address in code"
        case .maxFrames: return "it hit the frame limit"
        }
    }

    /// libunwind's frames the chain did not find, by function, with how
    /// many of each are missing.
    var missing: [(String, Int)] {
        var counts: [String: Int] = [:]
        for name in chained { counts[name.name.function ?? name.name.text, default: 0] += 1 }
        var result: [(String, Int)] = []
        var seen = Set<String>()
        for name in unwound {
            let key = name.function ?? name.text
            if counts[key, default: 0] > 0 { counts[key, default: 0] -= 1; continue }
            if seen.insert(key).inserted { result.append((key, 1)) } else if let i = result.firstIndex(where: { $0.0 == key }) { result[i].1 += 1 }
        }
        return result
    }

    var rbpWalkIsIncomplete: Bool { !missing.isEmpty }

    var summary: String {
        let lost = missing
        var text = "libunwind found \(unwound.count) frames\(unwoundComplete ? " (complete)" : ""); the rbp chain found \(chained.count) (\(stopText))"
        if lost.isEmpty { return text + ": both walks agree." }
        let names = lost.prefix(4).map { "\(sanitized($0.0, limit: 60))\($0.1 > 1 ? " x\($0.1)" : "")" }.joined(separator: ", ")
        text += " and misses \(lost.reduce(0) { $0 + $1.1 }) of them (\(names)\(lost.count > 4 ? ", ..." : "")): "
        text += "code built without frame pointers (-fomit-frame-pointer, the -O2 default, and most of libc) uses rbp as an ordinary register and stores no chain link, so the rbp walk skips or loses frames; libunwind reads .eh_frame instead."
        return text
    }

    func text(_ style: Style) -> String {
        var rows: [[String]] = [["#", "libunwind (.eh_frame)", "rbp chain", "rbp"]]
        for index in 0..<max(unwound.count, chained.count) {
            let left = index < unwound.count ? unwound[index].text : ""
            let right = index < chained.count ? chained[index].name.text : ""
            let fp = index < chained.count ? hex(chained[index].framePointer) : ""
            rows.append(["#\(index)", left, right, fp])
        }
        return table(rows) + "\n" + summary
    }

    var json: JSON {
        .object([("libunwind", .array(unwound.map { .object($0.jsonFields) })),
                 ("rbp_chain", .array(chained.map { .object($0.name.jsonFields + [("rbp", .address($0.framePointer))]) })),
                 ("complete", .bool(!rbpWalkIsIncomplete)), ("summary", .string(summary))])
    }
}
