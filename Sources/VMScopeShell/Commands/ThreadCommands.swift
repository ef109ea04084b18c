import VMScopeCore

struct ThreadsResult: CommandResult {
    struct Row {
        let tid: Int32
        let name: String
        let state: String
        let rip: UInt64?
        let rsp: UInt64?
        let selected: Bool
    }
    let rows: [Row]

    func text(_ style: Style) -> String {
        var lines = [["", "TID", "NAME", "STATE", "RIP", "RSP"]]
        for row in rows {
            lines.append([row.selected ? "*" : "", style.id(row.tid), sanitized(row.name, limit: 16), row.state,
                          row.rip.map { style.paint(hex($0), .code) } ?? "-",
                          row.rsp.map { style.paint(hex($0), .stack) } ?? "-"])
        }
        return table(lines)
    }

    var json: JSON {
        .object([("threads", .array(rows.map { row in
            .object([("tid", .int(Int64(row.tid))), ("name", .string(row.name)), ("state", .string(row.state)),
                     ("rip", row.rip.map(JSON.address) ?? .null), ("rsp", row.rsp.map(JSON.address) ?? .null),
                     ("selected", .bool(row.selected))])
        }))])
    }
}

struct ThreadsCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "threads", aliases: ["info threads"], group: .process, usage: "threads",
        summary: "List the traced threads: tid, name, why each is stopped, rip and rsp.",
        example: "threads", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let current = try session.currentThread()
        let rows = try target.threadIDs.map { tid -> ThreadsResult.Row in
            let regs = try target.registers(tid: tid)
            return .init(tid: tid, name: ProcFS.comm(pid: target.pid, tid: tid) ?? "?",
                         state: describe(target.threads[tid]?.stop), rip: regs.rip, rsp: regs.rsp,
                         selected: tid == current)
        }
        return ThreadsResult(rows: rows)
    }

    static func describe(_ stop: StopKind?) -> String {
        switch stop {
        case .interrupted?: return "stopped"
        case .groupStop(let sig)?: return "group-stop (\(signalName(sig)))"
        case .signal(let sig)?: return "signal \(signalName(sig))"
        case .syscall?: return "syscall"
        case .event(let event)?: return "event \(ptraceEventName(event))"
        case nil: return "gone"
        }
    }
}

struct ThreadCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "thread", group: .process, usage: "thread TID",
        summary: "Select the thread that regs and later commands act on.",
        example: "thread 4243", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        guard arguments.count == 1 else {
            let tid = try session.currentThread()
            return MessageResult("Thread \(tid) is selected.", [("tid", .int(Int64(tid)))])
        }
        guard let tid = Int32(arguments[0]) else { throw ShellError.badNumber(arguments[0]) }
        guard target.threads[tid] != nil else { throw VMScopeError.noSuchThread(tid: tid) }
        session.selectedThread = tid
        return MessageResult("Thread \(tid) selected.", [("tid", .int(Int64(tid)))])
    }
}
