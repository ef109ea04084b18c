// The bench's command line.
import Glibc

struct BenchOptions {
    var vmscope = ""
    var testTargets = ""
    var jsonPath = ".build/bench.json"
    /// Runs per tool and job (medians of these).
    var repeats = 11
    /// A slow tool (gdb) stops being repeated for a job once its runs took this long.
    var slowToolBudget = 20.0
    var skipGDB = false

    static let usage = """
        usage: vmscope-bench --vmscope PATH --testtargets DIR [--json FILE] [--repeats N]
                             [--gdb-budget SECONDS] [--no-gdb]
        """

    static func parse(_ arguments: [String]) -> BenchOptions? {
        var options = BenchOptions()
        var rest = arguments[...]
        while let word = rest.popFirst() {
            switch word {
            case "--vmscope": guard let v = rest.popFirst() else { return nil }; options.vmscope = v
            case "--testtargets": guard let v = rest.popFirst() else { return nil }; options.testTargets = v
            case "--json": guard let v = rest.popFirst() else { return nil }; options.jsonPath = v
            case "--repeats":
                guard let v = rest.popFirst().flatMap({ Int($0) }), v >= 1 else { return nil }
                options.repeats = v
            case "--gdb-budget":
                guard let v = rest.popFirst().flatMap({ Double($0) }), v >= 0 else { return nil }
                options.slowToolBudget = v
            case "--no-gdb": options.skipGDB = true
            default: return nil
            }
        }
        guard !options.vmscope.isEmpty, !options.testTargets.isEmpty else { return nil }
        return options
    }
}
