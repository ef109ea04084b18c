// swift-tools-version:6.0
// vmscope: a ptrace-based live process debugger shell for Linux x86-64.
// Layers: C shims -> VMScopeCore (no printing) -> VMScopeShell (commands,
// rendering, scripts) -> the thin `vmscope` executable.
import PackageDescription

let package = Package(
    name: "vmscope",
    products: [
        .executable(name: "vmscope", targets: ["vmscope"]),
    ],
    targets: [
        // ptrace() is variadic and libunwind's API is macros: Swift sees neither.
        .target(
            name: "CVMScopeShims",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [
                // libunwind-ptrace on bookworm also needs these (pkg-config --static).
                .linkedLibrary("unwind-ptrace"),
                .linkedLibrary("unwind-generic"),
                .linkedLibrary("unwind"),
                .linkedLibrary("lzma"),
                // libdw (elfutils, file:line) is not linked: lines.c opens
                // libdw.so.1 with dlopen on first use (issue #7: start-up).
            ]
        ),
        .systemLibrary(
            name: "CReadline",
            providers: [.apt(["libreadline-dev"])]
        ),
        // Capstone disassembles for `disas` and `nexti`.
        .systemLibrary(
            name: "CCapstone",
            providers: [.apt(["libcapstone-dev"])]
        ),
        // liblzma, for MiniDebugInfo (.gnu_debugdata is xz-compressed).
        .systemLibrary(
            name: "CLZMA",
            providers: [.apt(["liblzma-dev"])]
        ),
        .target(
            name: "VMScopeCore",
            dependencies: ["CVMScopeShims", "CLZMA", "CCapstone"]
        ),
        .target(
            name: "VMScopeShell",
            dependencies: ["VMScopeCore", "CReadline"]
        ),
        .executableTarget(
            name: "vmscope",
            dependencies: ["VMScopeShell"],
            // The standard library linked in: loading and relocating the
            // shared Swift libraries cost ~1.4 ms of every start (issue #7).
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        // `make bench`: times vmscope against eu-stack, gdb and pmap (may use
        // Foundation: it is not the tool).
        .executableTarget(
            name: "vmscope-bench",
            dependencies: ["VMScopeCore"]
        ),
        .testTarget(
            name: "VMScopeTests",
            dependencies: ["VMScopeCore", "VMScopeShell"]
        ),
    ]
)
