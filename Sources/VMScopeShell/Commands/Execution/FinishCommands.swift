import VMScopeCore

/// Where the selected frame returns to, and its CFA (rsp just after the
/// return): the stop point of `finish` and `until`.
enum ReturnSite {
    /// From the unwinder: the caller's ip and the selected frame's CFA.
    /// At frame 0 with no unwind information, the prologue heuristic.
    static func find(in session: Session) throws -> RunToPoint {
        let context = try StackContext(session: session)
        let selected = session.selectedFrame
        if let frames = try? context.backtrace(maxFrames: selected + 2).frames, frames.count > selected + 1,
           let cfa = frames[selected].cfa {
            return RunToPoint(address: frames[selected + 1].ip, minimumSP: cfa)
        }
        guard selected == 0 else { throw VMScopeError.noReturnAddress }
        return try fromPrologue(in: session)
    }

    static func fromPrologue(in session: Session) throws -> RunToPoint {
        let target = try session.requireTarget()
        let regs = try target.registers(tid: session.currentThread())
        // At the first instruction of a function [rsp] holds the return
        // address; after the prologue, rbp points at the saved rbp and the
        // return address sits just above it.
        let atEntry = try target.instructions(at: regs.rip, count: 1, using: session.execution.disassembler)
            .first.map { $0.mnemonic == "endbr64" || ($0.mnemonic == "push" && $0.operands == "rbp") } ?? false
        let slot = atEntry || regs.rbp < regs.rsp ? regs.rsp : regs.rbp &+ 8
        let read = try target.read(slot, count: 8)
        guard read.bytes.count == 8 else { throw VMScopeError.noReturnAddress }
        let address = read.bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard address != 0 else { throw VMScopeError.noReturnAddress }
        return RunToPoint(address: address, minimumSP: slot &+ 8)
    }
}

struct FinishCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "finish", aliases: ["fin"], group: .execution, usage: "finish",
        summary: "Run until the selected frame returns; show the value it returned in rax.",
        example: "finish", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let site = try ReturnSite.find(in: session)
        let event = try target.run(to: [site])
        var returned: UInt64?
        if case .stepped = event.reason { returned = try? target.registers(tid: event.tid).raw.rax }
        return StopReporter.report(event, in: session, returnValue: returned)
    }
}

struct UntilCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "until", aliases: ["u"], group: .execution, usage: "until [SYMBOL|ADDRESS]",
        summary: "Without an argument: nexti, but never back into a loop. With one: run until it is reached in this frame, or this frame returns.",
        example: "until 0x401176", needsTarget: true, arguments: [.symbol])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let tid = try session.currentThread()
        let start = try target.registers(tid: tid)
        if let location = arguments.first {
            let address = try Locations.resolve(location, in: session)
            var points = [RunToPoint(address: address, minimumSP: start.rsp)]
            if let site = try? ReturnSite.find(in: session) { points.append(site) }
            return StopReporter.report(try target.run(to: points), in: session)
        }
        // A backward jump is a loop: keep going until execution passes the
        // starting address or leaves the frame. Capped so it always ends.
        var event = try NextiCommand.nextInstruction(in: session)
        for _ in 0..<100_000 {
            guard case .stepped = event.reason, let pc = event.pc, pc <= start.rip,
                  let sp = try? target.registers(tid: tid).rsp, sp <= start.rsp else { break }
            event = try NextiCommand.nextInstruction(in: session)
        }
        return StopReporter.report(event, in: session)
    }
}
