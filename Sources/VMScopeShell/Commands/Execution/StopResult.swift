import Glibc
import VMScopeCore

/// What `continue`, `stepi`, `finish`... print: why the target stopped,
/// where, the instruction there, and how the stack and the heap moved
/// since the previous stop.
struct StopResult: CommandResult {
    let event: StopEvent
    let location: String?
    let instruction: Instruction?
    let growth: Growth?
    /// For a fault: where si_addr lies ("16 bytes below the stack...").
    let faultExplanation: String?
    /// `finish`: the value in rax when the frame returned.
    var returnValue: UInt64?

    struct Growth {
        let sp: UInt64
        let spDelta: Int64?
        let brk: UInt64?
        let brkDelta: Int64?
    }

    func text(_ style: Style) -> String {
        var lines = [headline(style)]
        if let instruction, let pc = event.pc {
            let at = location.map { "\(hex(pc)) <\($0)>" } ?? hex(pc)
            lines.append("=> \(style.paint(at, .code)):  \(instruction.mnemonic) \(instruction.operands)")
        }
        if let returnValue { lines.append("   Value returned: rax = \(hex(returnValue)) (\(Int64(bitPattern: returnValue)))") }
        if let growth {
            lines.append("   rsp \(style.paint(hex(growth.sp), .stack))" + describeDelta(growth.spDelta, up: "the stack shrank", down: "the stack grew down"))
            if let brk = growth.brk {
                lines.append("   brk \(style.paint(hex(brk), .heap))" + describeDelta(growth.brkDelta, up: "the heap grew up", down: "the heap shrank"))
            }
        }
        for note in event.events.map(note) { lines.append("   " + note) }
        return lines.joined(separator: "\n")
    }

    private func headline(_ style: Style) -> String {
        let thread = "thread \(event.tid)"
        switch event.reason {
        case .breakpoint(let ids, _):
            let names = ids.map(String.init).joined(separator: ", ")
            return style.paint("Breakpoint \(names)", .heading) + " hit in \(thread)."
        case .stepped:
            return "Stopped in \(thread)."
        case .signal(let number, _, let fault):
            var text = style.paint("\(signalName(number))", .error) + " (\(signalDescription(number))) in \(thread)"
            if let fault { text += ", fault address \(hex(fault))" }
            if let faultExplanation { text += ": " + faultExplanation }
            return text + "."
        case .interrupted:
            return "Interrupted (Ctrl-C) in \(thread)."
        case .exited(let status):
            return "Process \(event.tid) \(describe(status)); the shell stays open ('run' starts a new one)."
        case .exec(let path):
            return "Process \(event.tid) executed a new program: \(sanitized(path ?? "?")); maps and symbols were reloaded, breakpoints removed."
        case .syscallEntry(let number, let arguments):
            let name = SyscallNames.name(number) ?? "syscall \(number)"
            let shown = arguments.prefix(argumentCount(name)).map(hex).joined(separator: ", ")
            return "System call \(style.paint(name, .heading))(\(shown)) entered in \(thread)."
        case .syscallExit(let number, let result):
            let name = SyscallNames.name(number) ?? "syscall \(number)"
            return "System call \(style.paint(name, .heading)) returned \(describeResult(result)) in \(thread)."
        }
    }

    private func describeDelta(_ delta: Int64?, up: String, down: String) -> String {
        guard let delta else { return "" }
        if delta == 0 { return " (unchanged since the last stop)" }
        let size = hex(delta.magnitude)
        return delta < 0 ? " (\(size) lower than at the last stop: \(down))" : " (\(size) higher than at the last stop: \(up))"
    }

    private func note(_ event: ProcessEvent) -> String {
        switch event {
        case .threadStarted(let tid): return "New thread \(tid) (now traced)."
        case .threadExited(let tid): return "Thread \(tid) exited."
        case .childReleased(let pid): return "Child process \(pid) forked and was let go."
        case .signalPassed(let tid, let sig): return "\(signalName(sig)) delivered to thread \(tid) (policy: pass)."
        case .signalIgnored(let tid, let sig): return "\(signalName(sig)) for thread \(tid) discarded (policy: ignore)."
        case .signalHeld(let tid, let sig): return "\(signalName(sig)) arrived in thread \(tid); it is delivered when the target resumes."
        }
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("reason", .string(reasonName)), ("tid", .int(Int64(event.tid))),
                                        ("pc", event.pc.map(JSON.address) ?? .null),
                                        ("location", location.map(JSON.string) ?? .null)]
        switch event.reason {
        case .breakpoint(let ids, let address):
            fields += [("breakpoints", .array(ids.map { .int(Int64($0)) })), ("address", .address(address))]
        case .signal(let number, let code, let fault):
            fields += [("signal", .string(signalName(number))), ("signo", .int(Int64(number))),
                       ("si_code", .int(Int64(code))), ("fault_address", fault.map(JSON.address) ?? .null),
                       ("fault", faultExplanation.map(JSON.string) ?? .null)]
        case .exited(let status):
            fields.append(("status", exitJSON(status)))
        case .exec(let path):
            fields.append(("path", path.map(JSON.string) ?? .null))
        case .syscallEntry(let number, let arguments):
            fields += [("syscall", .string(SyscallNames.name(number) ?? String(number))), ("number", .int(Int64(number))),
                       ("arguments", .array(arguments.map(JSON.address)))]
        case .syscallExit(let number, let result):
            fields += [("syscall", .string(SyscallNames.name(number) ?? String(number))), ("number", .int(Int64(number))),
                       ("result", .int(result))]
        case .stepped, .interrupted:
            break
        }
        if let instruction {
            fields.append(("instruction", .string("\(instruction.mnemonic) \(instruction.operands)")))
        }
        if let returnValue { fields.append(("return_value", .address(returnValue))) }
        if let growth {
            fields += [("rsp", .address(growth.sp)), ("rsp_delta", growth.spDelta.map(JSON.int) ?? .null),
                       ("brk", growth.brk.map(JSON.address) ?? .null), ("brk_delta", growth.brkDelta.map(JSON.int) ?? .null)]
        }
        fields.append(("events", .array(event.events.map { .string(note($0)) })))
        return .object(fields)
    }

    private var reasonName: String {
        switch event.reason {
        case .breakpoint: return "breakpoint"
        case .stepped: return "stepped"
        case .signal: return "signal"
        case .interrupted: return "interrupted"
        case .exited: return "exited"
        case .exec: return "exec"
        case .syscallEntry: return "syscall-entry"
        case .syscallExit: return "syscall-exit"
        }
    }
}

/// "returned 0x55555555b000" for addresses, "-12 (ENOMEM)" for errors.
func describeResult(_ result: Int64) -> String {
    if result < 0 && result >= -4095 { return "\(result) (\(errorName(Int32(-result))))" }
    return result > 0xffff ? hex(UInt64(bitPattern: result)) : String(result)
}

func exitJSON(_ status: ExitStatus) -> JSON {
    switch status {
    case .exited(let code): return .object([("exited", .int(Int64(code)))])
    case .killed(let sig): return .object([("killed", .string(signalName(sig)))])
    case .unknown: return .null
    }
}

func signalDescription(_ number: Int32) -> String {
    guard let text = strsignal(number) else { return "signal \(number)" }
    return String(cString: text)
}

/// How many arguments a system call takes, for a readable entry line.
func argumentCount(_ name: String) -> Int {
    let counts: [String: Int] = ["brk": 1, "mmap": 6, "munmap": 2, "mprotect": 3, "mremap": 5, "clone": 5,
                                 "clone3": 2, "execve": 3, "exit": 1, "exit_group": 1, "read": 3, "write": 3,
                                 "openat": 4, "close": 1, "getpid": 0, "gettid": 0, "nanosleep": 2, "futex": 6]
    return counts[name] ?? 6
}
