import VMScopeCore

/// The lessons of `explain`. Each states the model in a few sentences and
/// then what this process shows, read live (see /work/shared/LAYOUT-MODEL.md
/// for the facts behind them). Nothing here is an address from the model
/// presented as the process's own.
enum ExplainTopics {
    static let all: [ExplainTopic] = [stack, heap, brk, data, mmap, threads, aslr, pie, canonical, vsyscall, vdso,
                                      guardPage, redZone]

    static let data = ExplainTopic(name: "data", aliases: ["bss", "globals"], title: ".data and .bss live together") { lesson in
        lesson.say("Initialised globals (.data) come from the file; zero-initialised ones (.bss) take no room in "
            + "the file and are zero-filled pages. Both are writable, so the loader maps them together as one "
            + "rw-p area of the executable: .data first, .bss right after it, spilling into an anonymous rw-p "
            + "mapping when .bss reaches beyond the file's last page.")
        let facts = lesson.facts
        guard let data = facts.data else { return }
        var text = "Here .data is \(lesson.address("data_start", data.start))-\(hex(data.end))"
        if let bss = facts.bss {
            text += " and .bss \(lesson.address("bss_start", bss.start))-\(lesson.address("bss_end", bss.end))"
            let mappings = facts.maps.filter { $0.isWritable && $0.start < bss.end && $0.end > data.start }
            text += mappings.count == 1 ? ", both in the one rw-p mapping \(hex(mappings[0].start))-\(hex(mappings[0].end))."
                : ", in \(mappings.count) rw-p mappings: " + mappings.map { "\(hex($0.start))-\(hex($0.end))"
                    + ($0.path.isEmpty ? " (anonymous)" : "") }.joined(separator: ", ") + "."
        } else {
            text += "; this executable has no .bss."
        }
        lesson.say(text)
    }

    static let threads = ExplainTopic(name: "threads", aliases: ["threadstacks", "thread"], title: "Every thread has its own stack") { lesson in
        lesson.say("Threads share the address space but each needs its own stack. Only the main thread's is "
            + "[stack]; glibc allocates every other one with mmap in the memory-mapped region (8 MiB by default, "
            + "RLIMIT_STACK), with a guard page below it. vmscope tells which thread owns a mapping from that "
            + "thread's stack pointer.")
        let facts = lesson.facts
        guard facts.attached else { return }
        for (index, (tid, rsp)) in facts.threadStackPointers.sorted(by: { $0.key < $1.key }).enumerated() {
            guard let stack = facts.mapping(containing: rsp) else { continue }
            let name = stack.path.isEmpty ? "an anonymous mapping" : stack.path
            lesson.say("Thread \(tid): rsp \(lesson.address("rsp\(index)", rsp)) in \(name)"
                + " \(hex(stack.start))-\(hex(stack.end)) (\(humanSize(stack.size))),"
                + " \(humanSize(stack.end - rsp)) below its top.")
        }
    }

    static let stack = ExplainTopic(name: "stack", aliases: ["stacks"], title: "The stack grows down") { lesson in
        lesson.say("Each call pushes a return address and the callee's frame below its caller's: the stack "
            + "pointer rsp decreases as calls nest, and a push lowers rsp by 8. Only the main thread's stack is "
            + "[stack]; argv, envp and the auxiliary vector sit at its top. Other threads' stacks are anonymous "
            + "mappings in the mmap region (see 'explain guard').")
        let facts = lesson.facts
        guard let stack = facts.mapping(named: "[stack]") else { return }
        var text = "Here [stack] spans \(lesson.address("stack_start", stack.start))-\(lesson.address("stack_end", stack.end))"
            + " (\(lesson.size("stack_size", stack.size)) mapped so far)."
        if let rsp = facts.rsp, stack.contains(rsp) {
            text += " The selected thread's rsp is \(lesson.address("rsp", rsp)),"
                + " \(lesson.size("rsp_below_top", stack.end - rsp)) below the top."
        }
        if let limit = facts.stackLimit {
            let room = limit > stack.size ? limit - stack.size : 0
            text += " RLIMIT_STACK is \(lesson.size("rlimit_stack", limit)): the kernel may still grow it down by"
                + " \(lesson.size("room_left", room)) as pages below are touched."
        }
        lesson.say(text)
    }

    static let heap = ExplainTopic(name: "heap", aliases: [], title: "The heap grows up") { lesson in
        lesson.say("The heap starts at start_brk, a little above the end of .bss (a random gap when "
            + "randomize_va_space is 2), and grows up: malloc asks brk() to move the program break higher. "
            + "Large requests (128 KiB and more by default) and other threads' arenas come from mmap instead, "
            + "so not every malloc'd byte is in [heap].")
        let facts = lesson.facts
        guard facts.attached else { return }
        let startBrk = facts.stat?.startBrk ?? 0
        if let heap = facts.mapping(named: "[heap]") {
            lesson.say("Here [heap] spans \(lesson.address("heap_start", heap.start))-\(lesson.address("heap_end", heap.end))"
                + " (\(lesson.size("heap_size", heap.size))); start_brk (field 47 of /proc/PID/stat) is"
                + " \(lesson.address("start_brk", startBrk)).")
        } else {
            lesson.say("This process has no [heap] yet: it has never moved its break"
                + " (start_brk is \(lesson.address("start_brk", startBrk))).")
        }
    }

    static let brk = ExplainTopic(name: "brk", aliases: ["break", "sbrk"], title: "The program break") { lesson in
        lesson.say("The program break is the end of the heap. brk(addr) moves it; brk(0) returns it unchanged, "
            + "which is how vmscope's 'brk' command reads it exactly (by making the stopped process call it). "
            + "[heap] in /proc/PID/maps ends at the break rounded up to a page, so the maps alone are not exact.")
        let facts = lesson.facts
        guard facts.attached else { return }
        var text = "Here start_brk is \(lesson.address("start_brk", facts.stat?.startBrk ?? 0))"
        if let heap = facts.mapping(named: "[heap]") {
            text += " and [heap] ends at \(lesson.address("heap_end", heap.end))."
        } else {
            text += " and there is no [heap]: the break has not moved."
        }
        if let data = facts.executableMappings.last(where: { $0.isWritable }),
           let start = facts.stat?.startBrk, start >= data.end {
            let bssEnd = facts.maps.first(where: { $0.start == data.end && $0.path.isEmpty && $0.isWritable })?.end ?? data.end
            if start >= bssEnd {
                text += " The executable's data (and .bss) end at \(lesson.address("data_end", bssEnd)),"
                    + " \(lesson.size("gap_to_heap", start - bssEnd)) below start_brk."
            }
        }
        lesson.say(text)
    }

    static let mmap = ExplainTopic(name: "mmap", aliases: ["mapped", "libraries"], title: "The memory-mapped region grows down") { lesson in
        lesson.say("Shared libraries, anonymous mmap memory, thread stacks, [vvar] and [vdso] live between the "
            + "heap and the stack. The kernel places new mappings top-down from the mmap base, a gap below the "
            + "stack (derived from RLIMIT_STACK plus a random offset), so this region grows down, toward the heap.")
        let facts = lesson.facts
        guard facts.attached else { return }
        let heapEnd = facts.mapping(named: "[heap]")?.end ?? facts.executableMappings.last?.end ?? 0
        let stackStart = facts.mapping(named: "[stack]")?.start ?? UInt64.max
        let middle = facts.maps.filter { $0.start >= heapEnd && $0.end <= stackStart && $0.start < facts.geometry.userLimit }
        guard let low = middle.first, let high = middle.last else { return }
        let libraries = Set(middle.filter { $0.isFile }.map(\.path)).count
        lesson.say("Here \(lesson.number("mappings", middle.count)) mappings (\(lesson.number("files", libraries)) files)"
            + " lie between \(lesson.address("lowest", low.start)) and \(lesson.address("highest", high.end));"
            + " \(lesson.size("gap_above_heap", low.start - heapEnd)) separate the lowest from the heap's end.")
    }

    static let aslr = ExplainTopic(name: "aslr", aliases: ["randomization", "randomisation"], title: "Address-space layout randomisation") { lesson in
        lesson.say("With ASLR the kernel picks a random base for the stack, the mmap region, the vDSO and (for "
            + "PIE) the executable at every exec; with randomize_va_space = 2 the heap start too. A process "
            + "opts out with the ADDR_NO_RANDOMIZE personality (setarch -R), which vmscope uses for the programs "
            + "it starts unless given --aslr, so their addresses repeat run to run.")
        guard let aslr = lesson.facts.aslr else { return }
        let level = aslr.randomizeVASpace.map { String($0) } ?? "unreadable"
        lesson.quoted.append(("randomize_va_space", aslr.randomizeVASpace.map { .int(Int64($0)) } ?? .null))
        lesson.quoted.append(("addr_no_randomize", .bool(aslr.addrNoRandomize)))
        lesson.quoted.append(("randomized", .bool(aslr.randomized)))
        lesson.say("Here /proc/sys/kernel/randomize_va_space is \(level), and this process"
            + (aslr.addrNoRandomize ? " has ADDR_NO_RANDOMIZE set" : " does not have ADDR_NO_RANDOMIZE")
            + ": its addresses " + (aslr.randomized ? "change from run to run." : "repeat from run to run."))
    }

    static let pie = ExplainTopic(name: "pie", aliases: ["nopie", "nonpie"], title: "PIE and non-PIE executables") { lesson in
        lesson.say("A position-independent executable (ELF type ET_DYN, the default of Debian's gcc) is loaded "
            + "at a random base near 0x55XXXXXXX000, or 0x555555554000 with ASLR off. A -no-pie executable "
            + "(ET_EXEC) is linked for a fixed address and always loads at 0x400000, exactly as the textbook "
            + "model draws it.")
        let facts = lesson.facts
        guard let first = facts.executableMappings.first else { return }
        let kind: String
        switch facts.aslr?.isPIE {
        case true?: kind = "a PIE (ET_DYN)"
        case false?: kind = "not PIE (ET_EXEC)"
        case nil: kind = "of unknown ELF type"
        }
        lesson.quoted.append(("pie", facts.aslr?.isPIE.map(JSON.bool) ?? .null))
        lesson.say("Here the executable is \(kind) and its first page is at \(lesson.address("base", first.start)).")
    }

    static let canonical = ExplainTopic(name: "canonical", aliases: ["hole", "noncanonical", "kernel"], title: "Canonical addresses") { lesson in
        let geometry = lesson.facts.geometry
        let bits = geometry.virtualBits
        lesson.say("x86-64 pointers are 64 bits wide but only \(lesson.number("virtual_bits", bits)) bits are "
            + "translated (\(bits == 57 ? "5" : "4")-level paging on this machine). An address is canonical when "
            + "bits 63..\(bits - 1) all equal bit \(bits - 1): user space is 0 up to "
            + "\(lesson.address("user_limit", geometry.userLimit)), the kernel half starts at "
            + "\(lesson.address("kernel_start", geometry.kernelStart)), and every address between them is "
            + "non-canonical: using one faults (#GP) before any page table is read.")
        lesson.say("The last user page below \(hex(geometry.userLimit)) is never mapped: the highest user address "
            + "a mapping may reach is \(lesson.address("task_size", geometry.taskSize)).")
        if let rsp = lesson.facts.rsp {
            lesson.say("The selected thread's rsp \(lesson.address("rsp", rsp)) is \(geometry.classify(rsp).rawValue).")
        }
    }

    static let vsyscall = ExplainTopic(name: "vsyscall", aliases: [], title: "The [vsyscall] page") { lesson in
        lesson.say("[vsyscall] at 0xffffffffff600000 lies in the kernel half, yet /proc/PID/maps lists it: a "
            + "legacy page from before the vDSO that let old binaries call time() and gettimeofday() without "
            + "a system call. It is the one kernel-half line a user ever sees; modern kernels emulate or "
            + "disable it, and code uses [vdso] instead.")
        let facts = lesson.facts
        guard facts.attached else { return }
        if let page = facts.mapping(named: "[vsyscall]") {
            lesson.say("Here it is mapped at \(lesson.address("vsyscall", page.start)) with permissions \(page.perms)"
                + " (\(facts.geometry.classify(page.start).rawValue) half).")
        } else {
            lesson.say("This process has no [vsyscall] line (vsyscall=none on the kernel command line).")
        }
    }

    static let vdso = ExplainTopic(name: "vdso", aliases: ["vvar"], title: "The vDSO") { lesson in
        lesson.say("[vdso] is a small shared library the kernel maps into every process so that clock_gettime, "
            + "gettimeofday and getcpu run without entering the kernel; [vvar] beside it holds the data they "
            + "read. Its address is passed to the process in the auxiliary vector (AT_SYSINFO_EHDR).")
        let facts = lesson.facts
        if let vdso = facts.mapping(named: "[vdso]") {
            lesson.say("Here [vdso] is at \(lesson.address("vdso", vdso.start)) (\(lesson.size("vdso_size", vdso.size)))"
                + (facts.mapping(named: "[vvar]").map { " and [vvar] at \(lesson.address("vvar", $0.start))." } ?? "."))
        }
    }

    static let guardPage = ExplainTopic(name: "guard", aliases: ["guardpage", "guards"], title: "Guard pages") { lesson in
        lesson.say("A guard page is an inaccessible (---p) mapping right below a thread's stack: a stack that "
            + "overflows faults there instead of silently overwriting the next mapping. glibc puts one below "
            + "every thread stack it allocates. The main stack has none in maps; the kernel keeps a gap "
            + "(stack_guard_gap, 256 pages) below [stack] instead.")
        let facts = lesson.facts
        guard facts.attached else { return }
        let guards = facts.guardPages
        if guards.isEmpty {
            lesson.say("Here no thread stack has a ---p mapping right below it"
                + (facts.threadStackPointers.count > 1 ? "." : " (this process has one thread)."))
            return
        }
        for (index, found) in guards.enumerated() {
            lesson.say("Thread \(found.tid): stack \(lesson.address("stack\(index)", found.stack.start))-\(hex(found.stack.end)),"
                + " guard \(lesson.address("guard\(index)", found.guardPage.start))-\(hex(found.guardPage.end))"
                + " (\(humanSize(found.guardPage.size))).")
        }
    }

    static let redZone = ExplainTopic(name: "redzone", aliases: ["red", "red-zone"], title: "The red zone") { lesson in
        lesson.say("The x86-64 System V ABI lets a function use the 128 bytes below rsp without moving rsp: the "
            + "red zone. Leaf functions keep locals there and save the sub/add of rsp. The kernel respects it: "
            + "a signal frame is built below rsp-128, and a debugger that pushes onto a stopped thread's stack "
            + "must skip it too.")
        if let rsp = lesson.facts.rsp {
            lesson.say("Here the selected thread's rsp is \(lesson.address("rsp", rsp)), so its red zone is "
                + "\(lesson.address("red_zone_start", rsp &- 128))-\(hex(rsp)).")
        }
    }
}
