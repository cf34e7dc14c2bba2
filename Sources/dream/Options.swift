import Foundation

/// The command line: what to run and how.
struct Options {
    static let usage = """
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

    var threads: Int? = nil, seed: UInt64 = 0, quiet = false, noPlugins = false
    var pluginPaths: [String] = []
    var code: String? = nil, file: String? = nil, interactiveAfter = false
    var scriptArgs: [String] = []

    /// A bad command line: the message, then the usage, status 2.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("dream: \(message)\n\(usage)\n".utf8))
        exit(2)
    }

    /// Parses the arguments after the program's name; --help and --version print and exit.
    static func parse(_ argv: [String], version: String) -> Options {
        var o = Options()
        var i = 0
        func value(_ flag: String) -> String {
            i += 1
            guard i < argv.count else { fail("\(flag) needs a value") }
            return argv[i]
        }
        while i < argv.count {
            let a = argv[i]
            if o.file != nil || o.code != nil && !a.hasPrefix("-") {
                o.scriptArgs.append(a); i += 1; continue
            }
            switch a {
            case "--help", "-h": print(usage); exit(0)
            case "--version": print("dream \(version)"); exit(0)
            case "--threads":
                guard let n = Int(value(a)), n > 0 else { fail("--threads needs a positive integer") }
                o.threads = n
            case "--seed":
                guard let n = UInt64(value(a)) else { fail("--seed needs a whole number ≥ 0") }
                o.seed = n
            case "--plugin-path": o.pluginPaths.append(value(a))
            case "--no-plugins": o.noPlugins = true
            case "--quiet", "-q": o.quiet = true
            case "-c":
                guard o.code == nil else { fail("-c given twice") }
                o.code = value(a)
            case "-i":
                o.interactiveAfter = true
                o.file = value(a)
            case "--":
                i += 1
                if i < argv.count && o.file == nil && o.code == nil { o.file = argv[i] }
            default:
                if a.hasPrefix("-") && a.count > 1 { fail("unknown option \(a)") }
                o.file = a
            }
            i += 1
        }
        return o
    }
}
