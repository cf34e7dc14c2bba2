import Foundation
import DreamLang
import DreamSession
import DreamTensor

let dreamVersion = "0.1.0"

let options = Options.parse(Array(CommandLine.arguments.dropFirst()), version: dreamVersion)

Signals.install()
// Ctrl-C reaches the session's work through its context's cancellation request.
let context = ExecutionContext(threads: options.threads, cancellation: SignalCells.cancel, reporter: TerminalProgress.factory(quiet: options.quiet))

let pluginFolders = options.pluginPaths + (ProcessInfo.processInfo.environment["DREAM_PLUGIN_PATH"] ?? "").split(separator: ":").map(String.init)
let session = Session(pluginFolders: options.noPlugins ? nil : pluginFolders, context: context)
// A plugin that fails to load is reported and skipped: the session starts anyway.
session.loadPlugins { FileHandle.standardError.write(Data("dream: warning: \($0)\n".utf8)) }
let interp = Interpreter(registry: session.registry)
interp.defaultSeed = options.seed
interp.scriptArguments = options.scriptArgs
interp.display = terminalDisplay()

let stdinIsTTY = isatty(0) != 0
/// What the command line asked for, run to its exit status.
func run() -> Int32 {
    if let code = options.code {
        do { try interp.run(SourceFile(name: "<command-line>", text: code)); return interruptedAtEnd() }
        catch let q as QuitRequest { return q.status } catch { report(error); return status(of: error) }
    }
    if let file = options.file {
        var status = runFile(interp, path: file)
        if options.interactiveAfter && (status == 0 || status == 1) {
            status = stdinIsTTY ? REPL(interp: interp, stringChoices: session.stringChoices).run() : runStream(interp, name: "<stdin>") { readLine() }
        }
        return status
    }
    return stdinIsTTY ? REPL(interp: interp, stringChoices: session.stringChoices).run() : runStream(interp, name: "<stdin>") { readLine() }
}
exit(session.run { run() })
