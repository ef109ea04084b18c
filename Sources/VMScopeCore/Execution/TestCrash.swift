import Glibc

/// A test-only way to crash vmscope on purpose at a chosen moment of
/// execution control, so the tests can prove that the emergency detach
/// leaves the target intact in every state (issue #8, case 3).
///
/// Set `VMSCOPE_TEST_CRASH=STATE:SIGNAL` in vmscope's environment. STATE is
/// `running` (every thread just resumed by `continue`), `breakpoint` (an
/// int3 stop collected, rip not yet rewound), `step` (a single step
/// requested, its stop not yet collected) or `pending` (a stop for a signal
/// recorded, the signal not yet handed back). SIGNAL is ILL (a real Swift
/// trap, as a failed precondition raises), SEGV (a real write through a
/// null pointer), OVERFLOW (a real stack overflow, a SIGSEGV that needs the
/// alternate signal stack), or BUS, ABRT, FPE, TRAP, TERM, HUP, INT (raised).
/// Unset (always, outside tests) it costs one getenv at the first check.
enum TestCrash {
    enum State: String { case running, breakpoint, step, pending }

    private struct Plan {
        let state: State
        let signal: String
    }

    private static let plan: Plan? = {
        guard let raw = getenv("VMSCOPE_TEST_CRASH") else { return nil }
        let parts = String(cString: raw).split(separator: ":").map(String.init)
        guard parts.count == 2, let state = State(rawValue: parts[0]) else { return nil }
        return Plan(state: state, signal: parts[1].uppercased())
    }()

    static func at(_ state: State) {
        guard let plan, plan.state == state else { return }
        switch plan.signal {
        case "ILL": preconditionFailure("VMSCOPE_TEST_CRASH asked for a trap")
        case "SEGV":
            let nowhere = UnsafeMutablePointer<Int>(bitPattern: 8)
            nowhere?.pointee = 1
        case "OVERFLOW": _ = recurse(1)
        case "BUS": raise(SIGBUS)
        case "ABRT": abort()
        case "FPE": raise(SIGFPE)
        case "TRAP": raise(SIGTRAP)
        case "TERM": raise(SIGTERM)
        case "HUP": raise(SIGHUP)
        case "INT": raise(SIGINT)
        default: return
        }
    }

    /// Recursion that no optimiser can turn into a loop: each frame keeps a
    /// buffer alive across the call.
    @inline(never)
    private static func recurse(_ depth: Int) -> Int {
        var pad = (depth, depth, depth, depth, depth, depth, depth, depth)
        return withUnsafeMutablePointer(to: &pad) { recurse($0.pointee.0 &+ 1) &+ $0.pointee.7 }
    }
}
