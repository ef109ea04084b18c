import CVMScopeShims
import Glibc

/// The vdso's ELF image read from a process that vmscope has not attached
/// to yet (SymbolPrewarm), so that the stack commands do not read it while
/// the process is stopped: a read through `Target` first reads
/// /proc/PID/smaps to route around userfaultfd ranges, ~0.2 ms of the stop.
/// The vdso is kernel-provided text that never changes and that userfaultfd
/// cannot register, so process_vm_readv cannot block on it. Needs the same
/// permission as an attach (without it: nil, and the read happens after the
/// attach as before).
public enum VDSOImage {
    public static func read(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0, count <= 1 << 20 else { return nil }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { failed = true; return }
            while initialized < count {
                let n = vms_process_vm_readv(pid, base + initialized, count - initialized, address + UInt64(initialized))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failed = true; return }
                initialized += n
            }
        }
        return failed ? nil : bytes
    }
}
