import Foundation

extension Registry {
    /// Every function, namespace and meta-command as Markdown, by topic: the built-ins section of
    /// docs/language.md is this text (a test keeps it current).
    public var markdownReference: String {
        func line(_ f: Builtin) -> String {
            var s = "- `\(f.signature)` — \(f.doc)"
            let documented = f.params.filter { !$0.doc.isEmpty }
            if !documented.isEmpty {
                s += " " + documented.map { "`\($0.label.map { $0 + ":" } ?? $0.name)` \($0.doc)" }.joined(separator: "; ") + "."
            }
            return s
        }
        var out = ""
        for (topic, names) in topics {
            out += "\n### \(topic)\n"
            for n in names { if let f = functions[n] { out += line(f) + "\n" } }
        }
        for ns in namespaces.values.sorted(by: { $0.name < $1.name }) {
            out += "\n### \(ns.name).\n\(ns.doc)\n\n"
            for f in ns.functions.values.sorted(by: { $0.name < $1.name }) { out += line(f) + "\n" }
        }
        out += "\n### meta-commands\n"
        for m in allMetaCommands { out += "- `\(m.usage)`" + (m.aliases.isEmpty ? "" : " (also " + m.aliases.map { "`:\($0)`" }.joined(separator: ", ") + ")") + "\n" }
        return out
    }
}
