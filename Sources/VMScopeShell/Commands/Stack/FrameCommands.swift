import VMScopeCore

/// The selected frame: its registers as libunwind recovers them, where its
/// return address and saved rbp are stored, and a hexdump of it.
struct FrameResult: CommandResult {
    let tid: Int32
    let frame: Frame
    let frameCount: Int
    let name: FrameName
    let size: UInt64?
    let returnAddress: (slot: UInt64, value: UInt64?)?
    let savedRBP: (slot: UInt64, value: UInt64?)?
    let dump: MemoryRead?
    /// Bytes of the frame left out of the dump.
    let dumpLimit: Int

    func text(_ style: Style) -> String {
        var lines = ["Frame #\(frame.index) of \(frameCount) in thread \(style.id(tid)): \(name.text)"
                     + (name.module.map { " in " + sanitized($0, limit: 60) } ?? "")
                     + (frame.isSignalFrame ? " (signal handler trampoline)" : "")]
        var rows: [[String]] = frame.registers.named(ip: frame.ip, sp: frame.sp).map { [$0.0, style.paint(hex($0.1, width: 16), .address)] }
        if let cfa = frame.cfa { rows.append(["cfa", style.paint(hex(cfa, width: 16), .stack) + (size.map { "  frame size \($0) bytes" } ?? "")]) }
        lines.append(table(rows))
        if let returnAddress {
            lines.append("return address stored at \(style.paint(hex(returnAddress.slot), .stack)) (CFA-8)"
                         + (returnAddress.value.map { ": \(hex($0))" } ?? ": unreadable"))
        } else if frame.isSignalFrame {
            lines.append("return address: none; above this frame the kernel saved the interrupted registers (the signal frame)")
        } else {
            lines.append("return address: none (the outermost frame has no caller)")
        }
        if let savedRBP {
            lines.append("caller's rbp saved at \(style.paint(hex(savedRBP.slot), .stack))" + (savedRBP.value.map { ": \(hex($0))" } ?? ""))
        } else {
            lines.append("caller's rbp: not saved in memory by this frame (kept in the register, or no frame pointer)")
        }
        if let dump {
            lines.append("frame bytes \(hex(dump.address))..\(hex(dump.address + UInt64(dump.bytes.count)))"
                         + (dumpLimit > 0 ? " (first \(dump.bytes.count) bytes)" : "") + ":")
            lines.append(ExamineResult(read: dump, requested: dump.bytes.count).text(style))
        }
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("tid", .int(Int64(tid))), ("index", .int(Int64(frame.index))),
                                        ("ip", .address(frame.ip)), ("sp", .address(frame.sp)),
                                        ("cfa", frame.cfa.map(JSON.address) ?? .null),
                                        ("size", size.map { .int(Int64($0)) } ?? .null)]
        fields += name.jsonFields
        fields.append(("registers", .object(frame.registers.named(ip: frame.ip, sp: frame.sp).map { ($0.0, JSON.address($0.1)) })))
        fields.append(("return_address_slot", returnAddress.map { .address($0.slot) } ?? .null))
        fields.append(("return_address", returnAddress?.value.map(JSON.address) ?? .null))
        fields.append(("saved_rbp_slot", savedRBP.map { .address($0.slot) } ?? .null))
        fields.append(("saved_rbp", savedRBP?.value.map(JSON.address) ?? .null))
        fields.append(("signal_frame", .bool(frame.isSignalFrame)))
        if let dump {
            fields.append(("bytes", .string(dump.bytes.map { String(hex(UInt64($0), width: 2).dropFirst(2)) }.joined())))
        }
        return .object(fields)
    }

    static let maximumDump = 1024

    /// Selects frame `index` of the session's current thread and describes it.
    static func select(_ index: Int, in session: Session) throws -> FrameResult {
        let context = try StackContext(session: session)
        let backtrace = try context.backtrace()
        if index < 0 {
            throw ShellError.badValue(String(index), expected: "a frame at or above 0 (frame 0 is the innermost; nothing lies below it)")
        }
        guard index < backtrace.frames.count else {
            throw ShellError.badValue(String(index), expected: "a frame number from 0 to \(backtrace.frames.count - 1) (frame \(backtrace.frames.count - 1) is the outermost)")
        }
        session.selectedFrame = index
        let frame = backtrace.frames[index]
        let memory = MemoryWindow(target: context.target)
        let returnAddress = frame.returnAddressSlot.map { ($0, memory.word(at: $0)) }
        let savedRBP = backtrace.savedRBPSlot(of: index).map { ($0, memory.word(at: $0)) }
        var dump: MemoryRead?
        var cut = 0
        if let cfa = frame.cfa, cfa > frame.sp {
            let length = Int(min(cfa - frame.sp, UInt64(maximumDump)))
            cut = Int(cfa - frame.sp) - length
            dump = try? context.target.read(frame.sp, count: length)
        }
        return FrameResult(tid: context.tid, frame: frame, frameCount: backtrace.frames.count, name: context.name(of: frame),
                           size: backtrace.size(of: index), returnAddress: returnAddress, savedRBP: savedRBP,
                           dump: dump, dumpLimit: cut)
    }
}

func parseFrameCount(_ arguments: [String], command: String, usage: String, default value: Int) throws -> Int {
    guard arguments.count <= 1 else { throw ShellError.usage(command: command, usage: usage) }
    guard let word = arguments.first else { return value }
    guard let number = AddressExpression.parseNumber(word), number <= 10_000_000 else {
        throw ShellError.badValue(word, expected: "a frame number")
    }
    return Int(number)
}

struct FrameCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "frame", aliases: ["f"], group: .stack, usage: "frame [N]",
        summary: "Select frame N (default: the selected one) and show its registers, saved return address and rbp, and its bytes.",
        example: "frame 2", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        try FrameResult.select(parseFrameCount(arguments, command: spec.name, usage: spec.usage, default: session.selectedFrame), in: session)
    }
}

struct UpCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "up", group: .stack, usage: "up [N]",
        summary: "Select the caller's frame (N frames outward, toward main) and show it.",
        example: "up", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let steps = try parseFrameCount(arguments, command: spec.name, usage: spec.usage, default: 1)
        return try FrameResult.select(session.selectedFrame + steps, in: session)
    }
}

struct DownCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "down", group: .stack, usage: "down [N]",
        summary: "Select the callee's frame (N frames inward, toward frame 0) and show it.",
        example: "down", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let steps = try parseFrameCount(arguments, command: spec.name, usage: spec.usage, default: 1)
        return try FrameResult.select(session.selectedFrame - steps, in: session)
    }
}
