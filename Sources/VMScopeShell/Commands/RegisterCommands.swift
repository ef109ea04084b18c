import Glibc
import VMScopeCore

struct RegistersResult: CommandResult {
    /// Registers that hold numbers, shown in decimal too (not segments or rip).
    static let generalPurpose: Set<String> = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
                                              "r10", "r11", "r12", "r13", "r14", "r15", "orig_rax"]
    let tid: Int32
    let values: [(String, UInt64)]

    func text(_ style: Style) -> String {
        table(values.map { name, value in
            var row = [name, style.paint(hex(value, width: 16), .address)]
            if name == "rflags" || name == "eflags" {
                row.append("[ " + Registers.flagNames(value).joined(separator: " ") + " ]")
            } else if Self.generalPurpose.contains(name) {
                row.append(String(Int64(bitPattern: value)))
            } else {
                row.append("")
            }
            return row
        })
    }

    var json: JSON {
        var fields: [(String, JSON)] = values.map { ($0.0, JSON.address($0.1)) }
        if let flags = values.first(where: { $0.0 == "rflags" }) {
            fields.append(("rflags_set", .array(Registers.flagNames(flags.1).map(JSON.string))))
        }
        fields.append(("tid", .int(Int64(tid))))
        return .object(fields)
    }
}

struct RegsCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "regs", aliases: ["registers", "info registers", "i r"], group: .inspect,
        usage: "regs [NAME...]",
        summary: "Show the selected thread's registers (all general ones, or those named), rflags decoded.",
        example: "regs rip rsp", needsTarget: true, arguments: [.register])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        let tid = try session.currentThread()
        let regs = try target.registers(tid: tid)
        let names = arguments.isEmpty ? Registers.mainNames : arguments.map { $0.hasPrefix("$") ? String($0.dropFirst()) : $0 }
        return RegistersResult(tid: tid, values: try names.map { ($0.lowercased(), try regs.value(named: $0)) })
    }
}

struct SetRegisterResult: CommandResult {
    let name: String
    let old: UInt64
    let new: UInt64
    let tid: Int32

    func text(_ style: Style) -> String { "\(name) = \(hex(new)) (was \(hex(old))) in thread \(tid)" }
    var json: JSON {
        .object([("register", .string(name)), ("old", .address(old)), ("new", .address(new)),
                 ("tid", .int(Int64(tid)))])
    }
}

struct SetCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "set", group: .shell,
        usage: "set reg NAME VALUE | set on-error stop|continue | set color on|off | set symbolic on|off",
        summary: "Write a register of the selected thread, or change a shell setting.",
        example: "set reg rax 0x2a",
        arguments: [.keyword(["reg", "on-error", "color", "symbolic"]), .register])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard let what = arguments.first else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        switch what {
        case "reg", "register", "var":
            guard arguments.count == 3 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
            let target = try session.requireTarget()
            let tid = try session.currentThread()
            var regs = try target.registers(tid: tid)
            let name = arguments[1].hasPrefix("$") ? String(arguments[1].dropFirst()) : arguments[1]
            let old = try regs.value(named: name)
            let value = try AddressExpression.evaluate(arguments[2], registers: regs)
            try regs.set(name, to: value)
            do {
                try target.setRegisters(regs, tid: tid)
            } catch VMScopeError.system(_, let code) where code == EIO {
                // PTRACE_SETREGS checks segment selectors and fs_base/gs_base.
                throw ShellError.badValue(arguments[2], expected: "a value the kernel accepts for \(name.lowercased()) (it refuses invalid segment selectors and non-canonical fs_base/gs_base)")
            }
            return SetRegisterResult(name: name.lowercased(), old: old, new: try regs.value(named: name), tid: tid)
        case "on-error":
            guard arguments.count == 2, ["stop", "continue"].contains(arguments[1]) else {
                throw ShellError.badValue(arguments.dropFirst().joined(separator: " "), expected: "stop or continue")
            }
            session.settings.onErrorStop = arguments[1] == "stop"
            return MessageResult("on-error is \(arguments[1]).", [("on-error", .string(arguments[1]))])
        case "color", "colour":
            guard arguments.count == 2, ["on", "off"].contains(arguments[1]) else {
                throw ShellError.badValue(arguments.dropFirst().joined(separator: " "), expected: "on or off")
            }
            session.settings.style = Style(enabled: arguments[1] == "on")
            return MessageResult("color is \(arguments[1]).", [("color", .string(arguments[1]))])
        case "symbolic":
            guard arguments.count == 2, ["on", "off"].contains(arguments[1]) else {
                throw ShellError.badValue(arguments.dropFirst().joined(separator: " "), expected: "on or off")
            }
            session.settings.symbolic = arguments[1] == "on"
            return MessageResult("symbolic is \(arguments[1]).", [("symbolic", .string(arguments[1]))])
        default:
            throw ShellError.unknownSetting(what)
        }
    }
}
