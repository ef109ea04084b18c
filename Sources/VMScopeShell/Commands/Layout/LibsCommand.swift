import Glibc
import VMScopeCore

struct LibsResult: CommandResult {
    struct Library {
        let name: String
        let path: String
        let start: UInt64
        let end: UInt64
        let bias: UInt64
        let perms: [String]
        /// The dynamic linker's l_name, when its list has this object.
        let linkMapName: String?
        let inMaps: Bool
    }
    let libraries: [Library]
    let linkMapProblem: String?
    let rDebug: UInt64?
    let namer: AddressNamer

    var agree: Bool { linkMapProblem == nil && libraries.allSatisfy { $0.inMaps && $0.linkMapName != nil } }

    func text(_ style: Style) -> String {
        var rows = [["NAME", "START", "END", "BIAS", "PARTS", "LINK_MAP", "PATH"]]
        for lib in libraries {
            rows.append([style.paint(sanitized(lib.name, limit: 40), .library), namer.name(lib.start), namer.nameEnd(lib.end),
                         namer.symbolic ? "-" : hex(lib.bias), lib.perms.joined(separator: " "),
                         lib.linkMapName == nil ? "no" : "yes", sanitized(lib.path)])
        }
        var lines = [table(rows)]
        if let linkMapProblem {
            lines.append("The dynamic linker's list cannot be read: \(sanitized(linkMapProblem)).")
        } else if agree {
            lines.append("The dynamic linker's list (r_debug\(namer.symbolic ? "" : " at " + hex(rDebug ?? 0))) and /proc/PID/maps agree: \(libraries.count) libraries.")
        } else {
            let onlyMaps = libraries.filter { $0.linkMapName == nil }.map(\.name)
            let onlyList = libraries.filter { !$0.inMaps }.map(\.name)
            var text = "The dynamic linker's list and /proc/PID/maps differ:"
            if !onlyMaps.isEmpty { text += " only in maps: \(onlyMaps.map { sanitized($0) }.joined(separator: ", ")) (mapped without dlopen, or being loaded);" }
            if !onlyList.isEmpty { text += " only in the linker's list: \(onlyList.map { sanitized($0) }.joined(separator: ", "));" }
            lines.append(String(text.dropLast()) + ".")
        }
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        .object([
            ("libraries", .array(libraries.map { lib in
                .object([("name", .string(lib.name)), ("path", .string(lib.path)), ("start", .address(lib.start)),
                         ("end", .address(lib.end)), ("bias", .address(lib.bias)),
                         ("parts", .array(lib.perms.map(JSON.string))),
                         ("link_map_name", lib.linkMapName.map(JSON.string) ?? .null),
                         ("in_maps", .bool(lib.inMaps))])
            })),
            ("agree", .bool(agree)), ("r_debug", rDebug.map(JSON.address) ?? .null),
            ("link_map_problem", linkMapProblem.map(JSON.string) ?? .null),
        ])
    }
}

struct LibsCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "libs", aliases: ["info sharedlibrary"], group: .layout, usage: "libs",
        summary: "The shared libraries, from the dynamic linker's own list (r_debug/link_map, found through DT_DEBUG) and from /proc/PID/maps, each with its load bias and mappings; says whether the two agree.",
        example: "libs", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.isEmpty else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let (space, _) = try LayoutSupport.capture(session, withBreak: false, linkMap: true)
        let list = space.linkMap
        // ld.so stores the path it opened (/lib/...); the kernel shows the
        // resolved one (/usr/lib/... on merged-/usr systems).
        var byPath: [String: String] = [:]
        var listed: [(name: String, resolved: String, base: UInt64)] = []
        for entry in list?.entries ?? [] where !entry.name.isEmpty {
            let resolved = realpath(entry.name, nil).map { p in defer { free(p) }; return String(cString: p) } ?? entry.name
            byPath[resolved] = entry.name
            listed.append((entry.name, resolved, entry.base))
        }
        var libraries: [LibsResult.Library] = space.libraries.map { module in
            LibsResult.Library(name: module.name, path: module.path, start: module.start, end: module.end,
                               bias: module.loadBias, perms: module.mappings.map(\.perms),
                               linkMapName: byPath[module.path], inMaps: true)
        }
        // Entries of the linker's list with no file mapping (not the vDSO, which has none by nature).
        let vdsoStart = space.maps.first { $0.path == "[vdso]" }?.start
        for entry in listed where !libraries.contains(where: { $0.path == entry.resolved }) && entry.base != vdsoStart {
            libraries.append(LibsResult.Library(name: baseName(entry.name), path: entry.resolved, start: entry.base,
                                                end: entry.base, bias: entry.base, perms: [], linkMapName: entry.name,
                                                inMaps: false))
        }
        return LibsResult(libraries: libraries, linkMapProblem: list?.problem, rDebug: list?.rDebug,
                          namer: AddressNamer(space: space, symbolic: session.settings.symbolic))
    }
}
