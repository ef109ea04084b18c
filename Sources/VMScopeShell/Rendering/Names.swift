import Glibc

/// "SIGUSR1" for 10; real-time signals as "SIGRTMIN+n".
public func signalName(_ signal: Int32) -> String {
    let names = [1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
                 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
                 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
                 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU",
                 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
                 31: "SIGSYS"]
    if let name = names[Int(signal)] { return name }
    if signal >= 34 && signal <= 64 { return "SIGRTMIN+\(signal - 34)" }
    return "signal \(signal)"
}

/// "EPERM (Operation not permitted)".
public func errorName(_ code: Int32) -> String {
    let names: [Int32: String] = [EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR",
                                  EIO: "EIO", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
                                  ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
                                  EEXIST: "EEXIST", EINVAL: "EINVAL", ENOEXEC: "ENOEXEC", ENOTDIR: "ENOTDIR",
                                  EISDIR: "EISDIR", ELOOP: "ELOOP"]
    let message = String(cString: strerror(code))
    return "\(names[code] ?? "errno \(code)") (\(message))"
}
