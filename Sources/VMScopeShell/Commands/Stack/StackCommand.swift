import VMScopeCore

/// The teaching view of one thread's stack: high addresses at the top, the
/// stack top and argv/env block, each frame as a box (CFA, size, where the
/// return address is), rsp and the red zone, the room left to the limit,
/// and the evidence that the stack grows down.
struct StackViewResult: CommandResult {
    struct Box {
        let index: Int
        let name: FrameName
        let cfa: UInt64
        let size: UInt64?
        let returnAddress: UInt64?
        let returnTo: FrameName?
        let savedRBPSlot: UInt64?
        let savedRBP: UInt64?
        let isSignalFrame: Bool
    }

    let tid: Int32
    let region: StackRegion?
    let boxes: [Box]  // outermost first
    let frameCount: Int
    let rsp: UInt64
    let innermost: FrameName?
    let stop: UnwindStop
    /// Frames that break the rule: (index, its CFA, the bound it broke,
    /// whether the bound is its own sp rather than its caller's CFA).
    let violations: [(Int, UInt64, UInt64, Bool)]
    let comparison: FramePointerComparison?

    static let redZone: UInt64 = 128
    static let shownBoxes = 12

    var top: UInt64 { boxes.map(\.cfa).max() ?? rsp }
    var used: UInt64 { top > rsp ? top - rsp : 0 }

    var evidence: String {
        let counted = "\(frameCount) frame\(frameCount == 1 ? "" : "s")"
        let range = "from \(hex(top)) to \(hex(rsp)), \(used) bytes used" + (region?.limit.map { ", \(humanSize($0)) limit" } ?? ", no limit")
        if let (index, cfa, bound, ownSP) = violations.first {
            let what = ownSP
                ? "frame #\(index)'s CFA \(hex(cfa)) is not above its own sp \(hex(bound)), so its caller would live below it"
                : "frame #\(index)'s CFA \(hex(cfa)) is not below its caller's \(hex(bound))"
            return "\(counted), but \(what): this stack breaks the rule (damaged?) (\(range))"
        }
        if boxes.count < 2 {
            return "\(counted): too few frames with a CFA to compare, no evidence yet of which way the stack grows (\(range))"
        }
        return "\(counted), each callee's CFA below its caller's: the stack grows down (\(range))"
    }

    func text(_ style: Style) -> String {
        var lines: [String] = []
        let column = { (address: UInt64) in style.paint(hex(address, width: 12), .stack) }
        let blank = String(repeating: " ", count: 14)
        if let region {
            let name = region.isMainStack ? "[stack]" : "thread stack"
            lines.append("Stack of thread \(style.id(tid)): \(name) \(hex(region.mapping.start))-\(hex(region.mapping.end)), \(humanSize(region.mapping.size)) mapped")
            lines.append("\(column(region.mapping.end))  ==== top of \(name) (highest address) ====")
            if let block = region.argumentsBlock {
                lines.append("\(column(block.lowerBound))  argv and environment strings, up to \(hex(block.upperBound))")
            }
            if let start = region.startStack {
                lines.append("\(column(start))  argc, then the argv[], envp[] and auxv arrays above it (what exec left)")
            }
        } else {
            lines.append("Stack of thread \(style.id(tid)): rsp \(hex(rsp)) is in no mapping")
        }
        var shown = boxes
        var skipped = 0
        if boxes.count > Self.shownBoxes {
            skipped = boxes.count - Self.shownBoxes
            shown = Array(boxes.prefix(4)) + Array(boxes.suffix(Self.shownBoxes - 4))
        }
        for (position, box) in shown.enumerated() {
            if skipped > 0 && position == 4 { lines.append("\(blank)... \(skipped) more frames ...") }
            let size = box.size.map { ", \($0) bytes" } ?? ""
            lines.append("\(column(box.cfa))  +-- CFA of #\(box.index) \(box.name.text)\(size)")
            if box.isSignalFrame {
                lines.append("\(blank)  |   the kernel's signal frame: the interrupted registers (ucontext) are saved here")
            }
            if let slot = box.returnAddress {
                let target = box.returnTo.map { " -> " + $0.text } ?? ""
                lines.append("\(column(slot))  |   return address\(target)")
            }
            if let slot = box.savedRBPSlot {
                lines.append("\(column(slot))  |   saved rbp \(box.savedRBP.map(hex) ?? "?")")
            }
        }
        lines.append("\(column(rsp))  <-- rsp: frame #0 \(innermost?.text ?? "?") (\(frameCount) frame\(frameCount == 1 ? "" : "s"), \(stop.explanation))")
        lines.append("\(column(rsp &- Self.redZone))  red zone: 128 bytes below rsp that leaf code may use without moving rsp")
        if let region {
            let room = rsp > region.limitBottom ? rsp - region.limitBottom : 0
            let what = region.isMainStack ? "RLIMIT_STACK " + (region.limit.map(humanSize) ?? "unlimited") : "the thread stack's end"
            lines.append("\(column(region.limitBottom))  limit: \(what); \(humanSize(room)) of room left below rsp")
        }
        lines.append(evidence + ".")
        if let comparison { lines.append(""); lines.append(comparison.text(style)) }
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("tid", .int(Int64(tid)))]
        if let region {
            fields.append(("region", .object([("start", .address(region.mapping.start)), ("end", .address(region.mapping.end)),
                                              ("path", .string(region.mapping.path))])))
            fields.append(("limit", region.limit.map { .int(Int64(clamping: $0)) } ?? .null))
            fields.append(("limit_bottom", .address(region.limitBottom)))
            if let block = region.argumentsBlock {
                fields.append(("arguments", .object([("start", .address(block.lowerBound)), ("end", .address(block.upperBound))])))
            }
            fields.append(("start_stack", region.startStack.map(JSON.address) ?? .null))
        }
        fields.append(("frames", .array(boxes.map { box in
            .object([("index", .int(Int64(box.index))), ("cfa", .address(box.cfa)),
                     ("size", box.size.map { .int(Int64($0)) } ?? .null)] + box.name.jsonFields
                    + [("signal_frame", .bool(box.isSignalFrame)),
                       ("return_address_slot", box.returnAddress.map(JSON.address) ?? .null),
                       ("saved_rbp_slot", box.savedRBPSlot.map(JSON.address) ?? .null)])
        })))
        fields += [("rsp", .address(rsp)), ("red_zone_end", .address(rsp &- Self.redZone)),
                   ("used", .int(Int64(clamping: used))), ("grows_down", .bool(violations.isEmpty)),
                   ("violations", .array(violations.map { .object([("index", .int(Int64($0.0))), ("cfa", .address($0.1)),
                                                                     ($0.3 ? "sp" : "caller_cfa", .address($0.2))]) })),
                   ("stop", .string(stop.jsonName)), ("evidence", .string(evidence))]
        if let comparison { fields.append(("frame_pointer_walk", comparison.json)) }
        return .object(fields)
    }
}

struct StackCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "stack", group: .stack, usage: "stack [--fp] [TID]",
        summary: "Draw the selected thread's stack, high addresses on top: frames as boxes with CFA, size and return address, rsp, red zone, room to the limit; --fp sets the rbp-chain walk beside libunwind's.",
        example: "stack --fp", needsTarget: true, arguments: [.keyword(["--fp"]), .thread])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        var withFP = false
        var tid: Int32?
        for word in arguments {
            if word == "--fp" { withFP = true; continue }
            guard tid == nil, let value = Int32(word) else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
            tid = value
        }
        let context = try StackContext(session: session, tid: tid)
        let backtrace = try context.backtrace()
        let memory = MemoryWindow(target: context.target)
        let registers = try context.target.registers(tid: context.tid)
        var boxes: [StackViewResult.Box] = []
        for frame in backtrace.frames.reversed() {
            guard let cfa = frame.cfa else { continue }
            let slot = frame.returnAddressSlot
            let value = slot.flatMap { memory.word(at: $0) }
            let rbpSlot = backtrace.savedRBPSlot(of: frame.index)
            boxes.append(.init(index: frame.index, name: context.name(of: frame), cfa: cfa, size: backtrace.size(of: frame.index),
                               returnAddress: slot, returnTo: value.map { FrameName(context.symbolize($0 &- 1), lookupAddress: $0 &- 1, ip: $0) },
                               savedRBPSlot: rbpSlot, savedRBP: rbpSlot.flatMap { memory.word(at: $0) },
                               isSignalFrame: frame.isSignalFrame))
        }
        var violations: [(Int, UInt64, UInt64, Bool)] = []
        let frames = backtrace.frames
        for index in frames.indices {
            guard let mine = frames[index].cfa else { continue }
            if mine <= frames[index].sp && !frames[index].isSignalFrame {
                violations.append((index, mine, frames[index].sp, true))
            } else if index + 1 < frames.count, let callers = frames[index + 1].cfa, mine >= callers,
                      !frames[index + 1].wasInterrupted {
                violations.append((index, mine, callers, false))
            }
        }
        var comparison: FramePointerComparison?
        if withFP {
            let walk = try context.target.framePointerWalk(tid: context.tid, maps: context.maps, memory: memory)
            comparison = FramePointerComparison(backtrace: backtrace, walk: walk, context: context)
        }
        return StackViewResult(tid: context.tid, region: StackRegion(rsp: registers.rsp, maps: context.maps, pid: context.target.pid),
                               boxes: boxes, frameCount: frames.count, rsp: registers.rsp,
                               innermost: frames.first.map(context.name(of:)), stop: backtrace.stop,
                               violations: violations, comparison: comparison)
    }
}
