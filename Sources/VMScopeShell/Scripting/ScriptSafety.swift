import Glibc
import VMScopeCore

/// vmscope run as root must not run a command file that another user can
/// change: whoever can write it could make root trace, stop or poke any
/// process. The file is opened first and its open descriptor checked, so it
/// cannot be swapped between the check and the read.
enum ScriptSafety {
    /// Reads the script at `path`, refusing it when running as root and the
    /// file can be changed by a user other than root.
    static func readScript(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ShellError.noSuchFile(path, errno: errno) }
        defer { close(fd) }
        if geteuid() == 0 {
            var info = Glibc.stat()
            guard fstat(fd, &info) == 0 else { throw ShellError.noSuchFile(path, errno: errno) }
            if let reason = unsafeReason(mode: info.st_mode, owner: info.st_uid, group: info.st_gid) {
                throw ShellError.unsafeScript(path, reason: reason)
            }
        }
        do { return try readWholeFile("/proc/self/fd/\(fd)") } catch let VMScopeError.system(_, code) {
            throw ShellError.noSuchFile(path, errno: code)
        }
    }

    /// Why a file with this owner and mode is unsafe for root to run, or nil.
    static func unsafeReason(mode: mode_t, owner: uid_t, group: gid_t) -> String? {
        let octal = String(mode & 0o7777, radix: 8)
        if owner != 0 { return "it belongs to user \(owner), who could change it" }
        if mode & S_IWOTH != 0 { return "it is writable by every user (mode \(octal))" }
        if mode & S_IWGRP != 0 && group != 0 { return "it is writable by group \(group) (mode \(octal))" }
        return nil
    }
}
