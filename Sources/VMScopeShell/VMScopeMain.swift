import CVMScopeShims
import Glibc
import VMScopeCore

/// Writes results to stdout and errors to stderr, flushing after each one
/// so a pipe reader sees every result as soon as it exists.
final class StandardOutput: OutputSink {
    func write(_ text: String) { writeAll(STDOUT_FILENO, text) }
    func writeError(_ text: String) { writeAll(STDERR_FILENO, text) }
}

/// write(2) until done: results are written whole, unbuffered, so nothing
/// is lost if vmscope is killed right after.
func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // a closed pipe: nothing more can be said
            done += n
        }
    }
}

/// The whole program behind the thin `vmscope` executable.
public enum VMScopeMain {
    public static func run(_ arguments: [String]) -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions.parse(Array(arguments.dropFirst()))
        } catch let problem as CommandLineOptions.Problem {
            writeAll(STDERR_FILENO, "vmscope: \(problem.message)\n\(CommandLineOptions.usage)\n")
            return 2
        } catch {
            return 2
        }
        if options.help {
            print(CommandLineOptions.usage)
            return 0
        }
        let interactive = !options.batch && isatty(STDIN_FILENO) == 1
        // Without a prompt, Ctrl-C means "stop now": detach and leave.
        vms_install_signal_handlers(interactive ? 0 : 1)

        var settings = Session.Settings()
        settings.json = options.json
        settings.style = options.json ? .plain : Style.forStandardOutput(noColorFlag: options.noColor)
        settings.disableASLR = !options.aslr
        settings.symbolic = options.symbolic
        let session = Session(settings: settings, output: StandardOutput())
        let dispatcher = Dispatcher(session: session)
        defer { session.release() }
        session.shellState.stableNamesPinned = options.symbolic
        if let path = options.transcript {
            do { session.shellState.transcript = try Transcript(path: path) } catch {
                dispatcher.report(error, line: "--transcript \(path)", location: nil)
                return 1
            }
        }

        // The process first: scripts expect it.
        let start: String? = options.pid.map { "attach \($0)" }
            ?? (options.program.isEmpty ? nil : "run " + options.program.map(quoted).joined(separator: " "))
        if let pid = options.pid {
            let lines = options.steps.compactMap { step -> String? in
                if case .command(let line) = step { return line }
                return nil
            }
            if SymbolPrewarm.needed(by: lines, dispatcher: dispatcher) { SymbolPrewarm.run(session: session, pid: pid) }
        }
        if let start {
            do { try dispatcher.execute(start) } catch {
                dispatcher.report(error, line: start, location: nil)
                return 1
            }
        }
        for (index, step) in options.steps.enumerated() where !session.quitRequested {
            var stepDispatcher = dispatcher
            stepDispatcher.releaseTargetBeforeOutput = OneShot.releasesEarly(
                step, isLast: index == options.steps.count - 1, options: options, dispatcher: dispatcher)
            let failed = runStep(step, session: session, dispatcher: stepDispatcher)
            if failed && (options.batch || !interactive) && session.settings.onErrorStop { return 1 }
        }
        if options.batch || session.quitRequested { return session.errorCount > 0 ? 1 : 0 }
        if interactive {
            runPrompt(session: session, dispatcher: dispatcher)
            return 0
        }
        // Commands piped on standard input run like a script named <stdin>.
        var lines: [String] = []
        while let line = Swift.readLine(strippingNewline: true) { lines.append(line) }
        do { try ScriptRunner(session: session).run(lines: lines, name: "<stdin>") } catch { return 1 }
        return session.errorCount > 0 ? 1 : 0
    }

    /// Runs one -x file or -ex command; returns true if it failed.
    static func runStep(_ step: CommandLineOptions.Step, session: Session, dispatcher: Dispatcher) -> Bool {
        let before = session.errorCount
        switch step {
        case .file(let path):
            do { try ScriptRunner(session: session).run(file: path) } catch is ScriptStopped {
            } catch {
                dispatcher.report(error, line: "source \(path)", location: nil)
                session.errorCount += 1
            }
        case .command(let line):
            do { try dispatcher.execute(line) } catch is ScriptStopped {
            } catch {
                dispatcher.report(error, line: line, location: nil)
                session.errorCount += 1
            }
        }
        return session.errorCount > before
    }

    static func runPrompt(session: Session, dispatcher: Dispatcher) {
        do { try Interactive.install(for: session) } catch {
            dispatcher.report(error, line: "readline", location: nil)  // the prompt still works, without editing
        }
        while !session.quitRequested {
            _ = vms_take_interrupt()
            guard let typed = Interactive.readLine(prompt: "(vmscope) ") else {
                session.output.write("\n")
                break  // Ctrl-D
            }
            // An empty line repeats a stepping command, as in GDB.
            let blank = typed.trimmingCharacters().isEmpty
            guard let line = blank ? session.shellState.repeatLine : typed else { continue }
            if !blank {
                session.shellState.repeatLine = dispatcher.command(for: line)?.spec.repeatsOnEmptyLine == true ? line : nil
            }
            do { try dispatcher.execute(line) } catch is ScriptStopped {
            } catch {
                dispatcher.report(error, line: line, location: nil)
            }
        }
    }

    static func quoted(_ word: String) -> String {
        word.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\\" })
            ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
    }
}
