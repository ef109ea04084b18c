/// vmscope's command line, GDB-style (`-ex` and `-x` repeat and run in the
/// order given), parsed by hand: swift-argument-parser has no
/// single-dash long options and would add start-up cost.
public struct CommandLineOptions: Equatable {
    public enum Step: Equatable {
        case file(String)
        case command(String)
    }

    public var pid: Int32?
    public var program: [String] = []
    public var steps: [Step] = []
    public var batch = false
    public var json = false
    public var noColor = false
    public var aslr = false
    public var symbolic = false
    public var help = false
    public var transcript: String?

    public static let usage = """
        Usage: vmscope [--pid PID | -- PROGRAM ARGS...] [-x FILE]... [-ex COMMAND]...
                       [--batch] [--json] [--no-color] [--aslr] [--symbolic] [--transcript FILE.md]
          --pid PID     attach to a running process (all its threads)
          -- PROGRAM    start PROGRAM traced, stopped at its first instruction
          -x FILE       run the commands in FILE
          -ex COMMAND   run COMMAND (-x and -ex run in the order given)
          --batch       run the -x/-ex commands, then detach and exit (status 1 on the first error)
          --json        print each command's result as one JSON object a line
          --no-color    no colour (also NO_COLOR=1, or when output is not a terminal)
          --aslr        keep address-space randomisation for a started PROGRAM
          --symbolic    show addresses relative to their band (heap+0x10, libc.so.6+0x29d90)
          --transcript FILE.md  write the session as Markdown (each command and its output in a code block)
        """

    public struct Problem: Error, Equatable {
        public let message: String
    }

    public static func parse(_ arguments: [String]) throws -> CommandLineOptions {
        var options = CommandLineOptions()
        var index = 0
        func value(for flag: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw Problem(message: "\(flag) needs a value.") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--":
                options.program = Array(arguments[(index + 1)...])
                if options.program.isEmpty { throw Problem(message: "-- must be followed by a program to run.") }
                index = arguments.count
                continue
            case "--pid", "-p":
                let text = try value(for: argument)
                guard let pid = Int32(text), pid > 0 else { throw Problem(message: "'\(sanitized(text, limit: 40))' is not a process id.") }
                options.pid = pid
            case "-x", "--command": options.steps.append(.file(try value(for: argument)))
            case "-ex", "--eval-command": options.steps.append(.command(try value(for: argument)))
            case "--batch", "-batch": options.batch = true
            case "--json": options.json = true
            case "--no-color", "--no-colour": options.noColor = true
            case "--aslr": options.aslr = true
            case "--symbolic": options.symbolic = true
            case "--transcript": options.transcript = try value(for: argument)
            case "-h", "--help": options.help = true
            default:
                throw Problem(message: "Unknown option '\(sanitized(argument, limit: 40))'.")
            }
            index += 1
        }
        if options.pid != nil && !options.program.isEmpty {
            throw Problem(message: "Give either --pid or a program after --, not both.")
        }
        return options
    }
}
