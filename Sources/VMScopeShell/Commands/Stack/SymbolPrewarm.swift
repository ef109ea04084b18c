import VMScopeCore

/// Reads the symbol tables of a process's modules, and prepares libdwfl's
/// file:line tables, before vmscope attaches to it, so that the target is not held stopped while vmscope parses ELF
/// files (libc's table alone, with libc6-dbg, is ~8,000 symbols: a
/// millisecond or more, longer than eu-stack keeps a process stopped).
///
/// Files are cached by path, device and inode in the session's
/// ModuleCache; the stack commands that run after the attach find them
/// there. Only worth it when the commands to come will name frames, so the
/// caller decides (a `--batch -ex maps` must not pay for symbols).
enum SymbolPrewarm {
    static func run(session: Session, pid: Int32) {
        // /proc/PID/maps is readable without ptrace by the same user or root;
        // when it is not, the attach will say why.
        guard let maps = try? MapsParser.read(pid: pid) else { return }
        // The vdso too, read now rather than while the process is stopped.
        let modules = session.modules.modules(pid: pid, maps: maps) { address, count in
            VDSOImage.read(pid: pid, address: address, count: count)
        }
        for module in modules where module.mappings.contains(where: \.isExecutable) {
            _ = session.modules.elf(for: module)?.symbols
        }
        // libdw and its list of the process's modules (file:line), before the stop too.
        Unwinder.prepareSourceLines(pid: pid)
    }

    /// True when one of `lines` is a stack command (bt, frame, stack...).
    static func needed(by lines: [String], dispatcher: Dispatcher) -> Bool {
        lines.contains { dispatcher.command(for: $0)?.spec.group == .stack }
    }
}
