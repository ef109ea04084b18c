import VMScopeCore

struct CatchSyscallCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "catch", group: .execution, usage: "catch syscall [NAME|NUMBER...] | catch off",
        summary: "Stop at the entry and the exit of these system calls (all of them without names), showing arguments and result.",
        example: "catch syscall brk mmap munmap", needsTarget: true,
        arguments: [.keyword(["syscall", "off"]), .keyword(SyscallNames.byNumber.filter { !$0.isEmpty })])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let target = try session.requireTarget()
        if arguments == ["off"] {
            target.caughtSyscalls = nil
            return MessageResult("System calls are no longer caught.", [("syscalls", .null)])
        }
        guard arguments.first == "syscall" else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let names = arguments.dropFirst()
        let numbers = try names.map { name -> Int in
            guard let number = SyscallNames.number(name) else { throw VMScopeError.unknownSyscall(name: name) }
            return number
        }
        target.caughtSyscalls = Set(numbers)
        let shown = numbers.isEmpty ? "every system call" : numbers.map { SyscallNames.name($0) ?? String($0) }.joined(separator: ", ")
        return MessageResult("Catching \(shown) at entry and exit.",
                             [("syscalls", .array(numbers.map { .string(SyscallNames.name($0) ?? String($0)) }))])
    }
}
