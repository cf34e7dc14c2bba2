import Foundation
import DreamLang
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

let registry = Registry.standard()
let plugins = PluginHost(registry: registry)
let pluginDirs = pluginPaths + (ProcessInfo.processInfo.environment["DREAM_PLUGIN_PATH"] ?? "").split(separator: ":").map(String.init)
if !noPlugins {
    // A plugin that fails to load is reported and skipped: the session starts anyway.
    for lib in PluginHost.libraries(in: pluginDirs) {
        do { try plugins.load(path: lib) } catch { FileHandle.standardError.write(Data("dream: warning: \(error)\n".utf8)) }
    }
}

let interp = Interpreter(registry: registry)
interp.defaultSeed = seed
interp.scriptArguments = scriptArgs
interp.metaHandler = { command, rest, loc in
    switch command {
    case "quit", "exit", "q":
        throw Outcome.quit(0)
    case "plugins":
        if noPlugins { interp.write("plugins are disabled (--no-plugins)\n"); return true }
        if plugins.loaded.isEmpty { interp.write("no plugins loaded\n"); return true }
        for p in plugins.loaded {
            var parts: [String] = []
            if !p.functions.isEmpty { parts.append("functions " + p.functions.sorted().map { "\(p.name).\($0)" }.joined(separator: ", ")) }
            if !p.samplers.isEmpty { parts.append("samplers " + p.samplers.sorted().joined(separator: ", ")) }
            interp.write("\(p.name): \(p.doc.isEmpty ? "" : p.doc + "; ")\(parts.joined(separator: "; ")) (\(p.path))\n")
        }
        return true
    case "plugin":
        let parts = rest.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "load" else {
            throw DreamError(.runtime, "usage: :plugin load NAME|PATH", at: loc)
        }
        guard !noPlugins else { throw DreamError(.runtime, "cannot load plugin '\(parts[1])': plugins are disabled (--no-plugins)", at: loc) }
        // Besides the plugin path, the repository's own plugin packages (Plugins/NAME, once built).
        let dirs = pluginDirs + ["Plugins"]
        guard let path = PluginHost.find(parts[1], in: dirs) else {
            throw DreamError(.runtime, "cannot load plugin '\(parts[1])': no plugin of that name or path (searched \(dirs.joined(separator: ", ")))", at: loc)
        }
        do {
            let p = try plugins.load(path: path)
            interp.write("loaded plugin \(p.name) from \(path)\n")
        } catch { throw DreamError(.runtime, "\(error)", at: loc) }
        return true
    default:
        return false
    }
}

let stdinIsTTY = isatty(0) != 0
var exitCode: Int32 = 0
if let code {
    do { try interp.run(SourceFile(name: "<command-line>", text: code)) } catch Outcome.quit(let c) { exitCode = c } catch { report(error); exitCode = status(of: error) }
} else if let file {
    exitCode = runFile(interp, path: file)
    if interactiveAfter && (exitCode == 0 || exitCode == 1) {
        if exitCode == 1 { exitCode = 0 }
        exitCode = stdinIsTTY ? REPL(interp: interp).run() : runStream(interp, name: "<stdin>") { readLine() }
    }
} else if stdinIsTTY {
    exitCode = REPL(interp: interp).run()
} else {
    exitCode = runStream(interp, name: "<stdin>") { readLine() }
}
exit(exitCode)
