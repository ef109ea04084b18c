import Glibc
import VMScopeCore

/// Turns any error into the one sentence the user sees.
public func sentence(for error: Error) -> String {
    switch error {
    case let error as VMScopeError: return sentence(for: error)
    case let error as ShellError: return sentence(for: error)
    default: return "Unexpected error: \(error)."
    }
}

func describe(_ status: ExitStatus) -> String {
    switch status {
    case .exited(let code): return "exited with status \(code)"
    case .killed(let signal): return "was killed by \(signalName(signal))"
    case .unknown: return "has exited"
    }
}

func sentence(for error: VMScopeError) -> String {
    switch error {
    case .system(let operation, let code):
        return "Could not \(operation): \(errorName(code))."
    case .noSuchProcess(let pid):
        return "No process with pid \(pid) exists."
    case .zombie(let pid):
        return "Process \(pid) is a zombie: it has exited and only waits for its parent to collect its status; there is nothing left to trace."
    case .isSelf(let pid):
        return "Process \(pid) is vmscope itself; a process cannot trace itself."
    case .kernelThread(let pid):
        return "Process \(pid) is a kernel thread: it has no user address space to trace."
    case .alreadyTraced(let pid, let tracer, let name):
        let who = name.map { " (\(sanitized($0, limit: 32)))" } ?? ""
        return "Process \(pid) is already traced by process \(tracer)\(who); a process can have only one tracer, so detach that one first."
    case .notPermitted(let pid, let reason):
        return "Not permitted to trace process \(pid): " + explain(reason)
    case .targetExited(let pid, let status):
        return "Process \(pid) \(describe(status)); nothing is attached any more."
    case .notAttached:
        return "No process is attached: use 'attach PID' or 'run PROGRAM' first."
    case .alreadyAttached(let pid):
        return "Already attached to process \(pid): 'detach' or 'kill' it first."
    case .noSuchThread(let tid):
        return "Thread \(tid) is not a thread of the traced process (see 'threads')."
    case .notExecutable(let address):
        return "\(hex(address)) is not in an executable mapping: a breakpoint there would never be hit."
    case .noSuchBreakpoint(let id):
        return "There is no breakpoint \(id) (see 'info breakpoints')."
    case .tooManyBreakpoints:
        return "Too many breakpoints are enabled at once; disable or delete some."
    case .unknownSignal(let name):
        return "\"\(sanitized(name))\" is not a signal name or number (try SIGSEGV, SEGV or 11)."
    case .unknownSyscall(let name):
        return "\"\(sanitized(name))\" is not an x86-64 system call name or number."
    case .noReturnAddress:
        return "The selected frame has no caller to return to."
    case .unmapped(let address):
        return "Address \(hex(address)) is not mapped in the target (see 'maps')."
    case .unknownRegister(let name):
        return "There is no register named '\(sanitized(name, limit: 32))'; the registers are \(Registers.mainNames.joined(separator: ", "))."
    case .launchFailed(let path, let code):
        return "Cannot start '\(sanitized(path))': \(errorName(code))."
    case .wrongThread(let expected, let actual):
        return "Internal error: ptrace was called from thread \(actual), but thread \(expected) is the tracer."
    case .malformedELF(let path, let reason):
        return "'\(sanitized(path))' is not a usable ELF file: \(sanitized(reason))."
    case .libraryUnavailable(let soname, let purpose):
        return "vmscope cannot load \(soname), which \(purpose) needs; install it (./scripts/install-deps.sh)."
    }
}

func explain(_ reason: PermissionReason) -> String {
    switch reason {
    case .yamaScope(let level):
        let meaning = level == 1 ? "only a parent may trace its descendants"
            : level == 2 ? "only a process with CAP_SYS_PTRACE may trace" : "no process may trace with ptrace"
        return "kernel.yama.ptrace_scope is \(level), so \(meaning); run vmscope as root, or lower it with 'sysctl kernel.yama.ptrace_scope=0'."
    case .otherUser(let target, let ours):
        return "it belongs to user \(target) and vmscope runs as user \(ours) without CAP_SYS_PTRACE; run vmscope as that user or as root."
    case .notDumpable:
        return "it is not dumpable (a setuid or setgid program, or it called prctl(PR_SET_DUMPABLE, 0)), so only root may trace it."
    case .unknown:
        return "the kernel refused with EPERM (a security module such as SELinux or AppArmor, or a missing CAP_SYS_PTRACE)."
    }
}

func sentence(for error: ShellError) -> String {
    switch error {
    case .unknownCommand(let word):
        return "Unknown command '\(sanitized(word, limit: 40))'; 'help' lists the commands."
    case .ambiguousCommand(let word, let candidates):
        return "'\(sanitized(word, limit: 40))' could mean \(candidates.joined(separator: ", ")); type more of it."
    case .usage(let command, let usage):
        return "Usage of \(command): \(usage)"
    case .badNumber(let text):
        return "'\(sanitized(text, limit: 40))' is not a number (write hex as 0x1f, or decimal)."
    case .badExpression(let text, let reason):
        return "Cannot evaluate '\(sanitized(text, limit: 60))': \(reason)."
    case .badValue(let text, let expected):
        return "'\(sanitized(text, limit: 40))' is not valid here: expected \(expected)."
    case .noSuchFile(let path, let code):
        return "Cannot read '\(sanitized(path))': \(errorName(code))."
    case .sourceTooDeep(let path):
        return "'source \(sanitized(path))' nests scripts more than 16 deep (a script that sources itself?)."
    case .unknownSymbol(let name):
        return "No symbol named '\(sanitized(name, limit: 128))' in the target's executable or libraries (an address such as 0x401136 works too)."
    case .unknownSetting(let name):
        return "There is no setting '\(sanitized(name, limit: 40))'; try reg, on-error, color or symbolic."
    case .cannotWrite(let path, let code):
        return "Cannot write '\(sanitized(path))': \(errorName(code))."
    case .unsafeScript(let path, let reason):
        return "Refusing to run '\(sanitized(path))' as root: \(reason); make it root's and not writable by others (chown root, chmod go-w)."
    case .unknownTopic(let topic, let topics):
        return "There is no topic '\(sanitized(topic, limit: 40))'; the topics are \(topics.joined(separator: ", "))."
    }
}
