import Foundation
import DreamLang
import DreamSession
import DreamTensor

let dreamVersion = "0.1.0"

let usage = """
usage: dream [options]                 interactive session (line editing when stdin is a terminal)
       dream [options] FILE [ARG...]   run a script; `args` holds the ARG strings
       dream [options] -c CODE         run CODE
       dream [options] -i FILE         run FILE, then stay interactive with its bindings

options:
  --threads N        worker threads (default: all cores)
  --seed N           default seed for calls that take seed: (default 0)
  --plugin-path DIR  also look for plugins in DIR (repeatable); the plugins (lib*.so) in
                     these folders and in $DREAM_PLUGIN_PATH (folders separated by ':') load at start
  --no-plugins       load no plugins
  --quiet            no progress bars
  --version          print the version
  --help             print this help
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dream: \(message)\n\(usage)\n".utf8))
    exit(2)
}

var threads: Int? = nil, seed: UInt64 = 0, quiet = false, noPlugins = false
var pluginPaths: [String] = []
var code: String? = nil, file: String? = nil, interactiveAfter = false
var scriptArgs: [String] = []

var argv = Array(CommandLine.arguments.dropFirst())
var i = 0
func value(_ flag: String) -> String {
    i += 1
    guard i < argv.count else { fail("\(flag) needs a value") }
    return argv[i]
}
while i < argv.count {
    let a = argv[i]
    if file != nil || code != nil && !a.hasPrefix("-") {
        scriptArgs.append(a); i += 1; continue
    }
    switch a {
    case "--help", "-h": print(usage); exit(0)
    case "--version": print("dream \(dreamVersion)"); exit(0)
    case "--threads":
        guard let n = Int(value(a)), n > 0 else { fail("--threads needs a positive integer") }
        threads = n
    case "--seed":
        guard let n = UInt64(value(a)) else { fail("--seed needs a whole number ≥ 0") }
        seed = n
    case "--plugin-path": pluginPaths.append(value(a))
    case "--no-plugins": noPlugins = true
    case "--quiet", "-q": quiet = true
    case "-c":
        guard code == nil else { fail("-c given twice") }
        code = value(a)
    case "-i":
        interactiveAfter = true
        file = value(a)
    case "--":
        i += 1
        if i < argv.count && file == nil && code == nil { file = argv[i] }
    default:
        if a.hasPrefix("-") && a.count > 1 { fail("unknown option \(a)") }
        file = a
    }
    i += 1
}

if let threads { Engine.threads = threads }
Signals.install()
TerminalProgress.install(quiet: quiet)

let pluginFolders = pluginPaths + (ProcessInfo.processInfo.environment["DREAM_PLUGIN_PATH"] ?? "").split(separator: ":").map(String.init)
let session = Session(pluginFolders: noPlugins ? nil : pluginFolders)
// A plugin that fails to load is reported and skipped: the session starts anyway.
session.loadPlugins { FileHandle.standardError.write(Data("dream: warning: \($0)\n".utf8)) }
let interp = Interpreter(registry: session.registry)
interp.defaultSeed = seed
interp.scriptArguments = scriptArgs
interp.display = terminalDisplay()

let stdinIsTTY = isatty(0) != 0
var exitCode: Int32 = 0
if let code {
    do { try interp.run(SourceFile(name: "<command-line>", text: code)); exitCode = interruptedAtEnd() } catch let q as QuitRequest { exitCode = q.status } catch { report(error); exitCode = status(of: error) }
} else if let file {
    exitCode = runFile(interp, path: file)
    if interactiveAfter && (exitCode == 0 || exitCode == 1) {
        if exitCode == 1 { exitCode = 0 }
        exitCode = stdinIsTTY ? REPL(interp: interp, stringChoices: session.stringChoices).run() : runStream(interp, name: "<stdin>") { readLine() }
    }
} else if stdinIsTTY {
    exitCode = REPL(interp: interp, stringChoices: session.stringChoices).run()
} else {
    exitCode = runStream(interp, name: "<stdin>") { readLine() }
}
exit(exitCode)
