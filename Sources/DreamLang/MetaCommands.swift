import Foundation

/// A meta-command (`:help`, `:plugins`, …): lines starting with ':' that act on the session, not values.
public struct MetaCommand {
    public let name: String
    /// How `:help` shows it, e.g. ":plugin load NAME|PATH".
    public let usage: String
    /// Other names it answers to (`:exit`, `:q` for `:quit`).
    public let aliases: [String]
    public let run: (_ rest: String, _ at: SourceLocation, _ ip: Interpreter) throws -> Void
    public init(_ name: String, usage: String, aliases: [String] = [], run: @escaping (String, SourceLocation, Interpreter) throws -> Void) {
        self.name = name; self.usage = usage; self.aliases = aliases; self.run = run
    }

    /// `:quit` (`:exit`, `:q`): the language's own, always listed last.
    static let quit = MetaCommand("quit", usage: ":quit", aliases: ["exit", "q"]) { _, _, _ in throw QuitRequest(status: 0) }
}

/// `:quit` (and `:exit`, `:q`): the run ends with this exit status; whoever runs the interpreter stops there.
public struct QuitRequest: Error {
    public let status: Int32
}

extension Registry {
    func registerMetaCommands() {
        register(meta: MetaCommand("help", usage: ":help [NAME]") { rest, _, ip in ip.write(ip.help(rest) + "\n") })
        register(meta: MetaCommand("vars", usage: ":vars") { _, _, ip in ip.listVariables() })
        register(meta: MetaCommand("load", usage: ":load FILE") { rest, loc, ip in try ip.loadFile(rest, at: loc) })
        register(meta: MetaCommand("time", usage: ":time STATEMENT") { rest, loc, ip in try ip.time(rest, at: loc) })
    }

    /// The meta-command a word names (its name or an alias), nil for none.
    public func metaCommand(named word: String) -> MetaCommand? {
        allMetaCommands.first { $0.name == word || $0.aliases.contains(word) }
    }

    /// Every meta-command, `:quit` last.
    public var allMetaCommands: [MetaCommand] {
        metaCommands + [MetaCommand.quit]
    }
}
