import Foundation
import DreamLang

/// Tab completion: function, namespace and variable names; argument labels inside a call; inside a string,
/// sampler, schedule and concept names where the argument takes one, else file paths.
struct Completer {
    let interp: Interpreter
    /// The names a string argument takes, by its label or (first positional) its function (Session.stringChoices).
    var stringChoices: (_ label: String?, _ function: String?) -> [String]? = { _, _ in nil }
    static let keywords = languageKeywords.sorted()

    /// Candidates for the word before the cursor, and that word.
    func candidates(for line: String) -> (word: String, items: [String]) {
        // Inside an open string: complete a file path.
        var quotes = 0, escaped = false, lastQuote = line.startIndex
        for i in line.indices {
            let c = line[i]
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "\"" { quotes += 1; lastQuote = i }
        }
        if quotes % 2 == 1 {
            let partial = String(line[line.index(after: lastQuote)...])
            if let names = namesForString(before: String(line[..<lastQuote])) { return (partial, names.filter { $0.hasPrefix(partial) }) }
            return paths(partial)
        }
        if line.hasPrefix(":") && !line.contains(" ") {
            let word = line
            return (word, interp.registry.allMetaCommands.map { ":" + $0.name }.filter { $0.hasPrefix(word) })
        }
        let wordChars = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_."))
        var start = line.endIndex
        while start > line.startIndex, line[line.index(before: start)].unicodeScalars.allSatisfy(wordChars.contains) {
            start = line.index(before: start)
        }
        let word = String(line[start...])
        if let dot = word.lastIndex(of: ".") {
            let base = String(word[..<dot]), prefix = String(word[word.index(after: dot)...])
            var members: [String] = []
            if let ns = interp.registry.namespaces[base] { members = Array(ns.functions.keys) }
            else if let v = interp.value(of: base) {
                switch v {
                case .tensor: members = ["shape", "rank", "count"]
                case .object(let o): members = o.memberNames
                case .dict(let d): members = d.keys
                default: break
                }
            }
            return (word, members.filter { $0.hasPrefix(prefix) }.sorted().map { base + "." + $0 })
        }
        var items = interp.variableNames + Array(interp.registry.functions.keys) + Array(interp.registry.namespaces.keys) + Completer.keywords
        if let f = enclosingCall(String(line[..<start])) { items += f.labels.map { $0 + ":" } }
        return (word, Array(Set(items.filter { $0.hasPrefix(word) })).sorted())
    }

    /// The names the string opened after `before` takes: by the label just before it (`sampler: "`), or
    /// for a string that is a call's first argument, by the function (`world.references("`).
    func namesForString(before: String) -> [String]? {
        let b = before.trimmingCharacters(in: .whitespaces)
        if b.hasSuffix(":") {
            let label = String(b.dropLast().reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" }.reversed())
            return label.isEmpty ? nil : stringChoices(label, nil)
        }
        if b.hasSuffix("("), let f = enclosingCall(b) { return stringChoices(nil, f.qualifiedName) }
        return nil
    }

    /// The function whose argument list the cursor is in, if any.
    func enclosingCall(_ before: String) -> Builtin? {
        var depth = 0
        var i = before.endIndex
        while i > before.startIndex {
            i = before.index(before: i)
            let c = before[i]
            if c == ")" || c == "]" { depth += 1 } else if c == "[" { depth -= 1 } else if c == "(" {
                if depth == 0 {
                    var s = i
                    while s > before.startIndex, before[before.index(before: s)].isLetter || before[before.index(before: s)].isNumber || "_.".contains(before[before.index(before: s)]) {
                        s = before.index(before: s)
                    }
                    return interp.registry.lookup(String(before[s..<i]))
                }
                depth -= 1
            }
        }
        return nil
    }

    func isInsideString(_ line: String) -> Bool {
        var quotes = 0, escaped = false
        for c in line { if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quotes += 1 } }
        return quotes % 2 == 1
    }

    func paths(_ partial: String) -> (String, [String]) {
        let expanded = (partial as NSString).expandingTildeInPath
        let dir = partial.hasSuffix("/") ? expanded : (expanded as NSString).deletingLastPathComponent
        let prefix = partial.hasSuffix("/") ? "" : (expanded as NSString).lastPathComponent
        let listDir = dir.isEmpty ? "." : dir
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: listDir) else { return (partial, []) }
        let base = partial.hasSuffix("/") ? partial : String(partial.dropLast(prefix.count))
        let items = entries.filter { $0.hasPrefix(prefix) && (!$0.hasPrefix(".") || prefix.hasPrefix(".")) }.sorted().map { name -> String in
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: (listDir as NSString).appendingPathComponent(name), isDirectory: &isDir)
            return base + name + (isDir.boolValue ? "/" : "")
        }
        return (partial, items)
    }

    /// What Tab inserts: the unique completion's rest (functions get "("), or the candidates' common
    /// prefix; with nothing to insert and several candidates, they are listed.
    func complete(_ line: String) -> (insert: String, list: [String]) {
        let (word, items) = candidates(for: line)
        guard !items.isEmpty else { return ("", []) }
        if items.count == 1 {
            var rest = String(items[0].dropFirst(word.count))
            if interp.registry.lookup(items[0]) != nil && interp.value(of: items[0]) == nil { rest += "(" }
            else if isInsideString(line), !items[0].hasSuffix("/") && namesForString(before: String(line[..<line.lastIndex(of: "\"")!])) != nil { rest += "\"" }
            return (rest, [])
        }
        var common = items[0]
        for s in items.dropFirst() { while !s.hasPrefix(common) { common.removeLast() } }
        let rest = String(common.dropFirst(word.count))
        return rest.isEmpty ? ("", items) : (rest, [])
    }
}
