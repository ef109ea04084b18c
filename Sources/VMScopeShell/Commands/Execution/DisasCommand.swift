import VMScopeCore

struct DisassemblyResult: CommandResult {
    let instructions: [Instruction]
    let pc: UInt64?
    let labels: [UInt64: String]

    func text(_ style: Style) -> String {
        let labelWidth = labels.values.map { $0.count + 4 }.max() ?? 0
        return instructions.map { insn in
            let marker = insn.address == pc ? "=> " : "   "
            let label = padded(labels[insn.address].map { " <\($0)>:" } ?? ":", labelWidth)
            let bytes = insn.bytes.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined(separator: " ")
            return marker + style.paint(hex(insn.address), .code) + label + "  "
                + padded(bytes, 24) + insn.mnemonic + (insn.operands.isEmpty ? "" : " " + insn.operands)
        }.joined(separator: "\n")
    }

    var json: JSON {
        .object([("instructions", .array(instructions.map { insn in
            .object([("address", .address(insn.address)), ("bytes", .string(insn.bytes.map { String($0, radix: 16) }.joined(separator: " "))),
                     ("mnemonic", .string(insn.mnemonic)), ("operands", .string(insn.operands)),
                     ("symbol", labels[insn.address].map(JSON.string) ?? .null)])
        }))])
    }
}

struct DisasCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "disas", aliases: ["disassemble"], group: .execution, usage: "disas [ADDRESS|SYMBOL] [N]",
        summary: "Disassemble N instructions (10 by default) at rip or ADDRESS, Intel syntax (capstone).",
        example: "disas recurse 8", needsTarget: true, arguments: [.symbol])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.count <= 2 else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let pc = try target.registers(tid: session.currentThread()).rip
        let address = try arguments.first.map { try Locations.resolve($0, in: session) } ?? pc
        var count = 10
        if arguments.count == 2 {
            guard let n = Int(arguments[1]), n > 0, n <= 10_000 else { throw ShellError.badNumber(arguments[1]) }
            count = n
        }
        let instructions = try target.instructions(at: address, count: count, using: session.execution.disassembler)
        if instructions.isEmpty { throw VMScopeError.unmapped(address: address) }
        var labels: [UInt64: String] = [:]
        let context = try? StackContext(session: session)
        for insn in instructions {
            if let name = StopReporter.symbolic(insn.address, in: context) { labels[insn.address] = name }
        }
        return DisassemblyResult(instructions: instructions, pc: pc, labels: labels)
    }
}
