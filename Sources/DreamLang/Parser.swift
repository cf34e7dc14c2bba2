/// Recursive-descent parser. Precedence, loosest first: `||`, `&&`, comparisons, `+ -`, `* / @`,
/// unary `- !`, `**` (right-associative, binding tighter than unary minus as in Python), postfix
/// calls, members and indexing.
public struct Parser {
    let file: SourceFile
    var tokens: [Token]
    var p = 0

    public init(_ file: SourceFile) throws {
        self.file = file
        var lexer = Lexer(file)
        tokens = try lexer.tokenize()
    }

    /// Parses a whole program.
    public static func parse(_ file: SourceFile) throws -> [Stmt] {
        var parser = try Parser(file)
        return try parser.program()
    }

    var tok: Token { tokens[p] }

    func error(_ msg: String, at t: Token? = nil) -> DreamError {
        let t = t ?? tok
        return DreamError(.syntax, msg, at: t.location, file: file, incomplete: t.kind == .eof)
    }

    func isSymbol(_ s: String) -> Bool { if case .symbol(s) = tok.kind { return true }; return false }
    func isKeyword(_ s: String) -> Bool { if case .keyword(s) = tok.kind { return true }; return false }

    mutating func expect(_ s: String, _ what: String) throws -> Token {
        guard isSymbol(s) else { throw error("expected '\(s)' \(what), found \(describe(tok))") }
        defer { p += 1 }
        return tok
    }

    /// The closing bracket of `opener`. When something else comes first on a later line, the error
    /// points at the bracket left open, which is where the mistake usually is.
    mutating func close(_ s: String, opener: Token, _ what: String) throws {
        if isSymbol(s) { p += 1; return }
        guard case .symbol(let open) = opener.kind else { throw error("expected '\(s)' \(what)") }
        if tok.location.line > opener.location.line && tok.kind != .eof {
            throw DreamError(.syntax, "'\(open)' is not closed (found \(describe(tok)) on line \(tok.location.line + file.lineOffset))",
                             at: opener.location, file: file)
        }
        throw error("expected '\(s)' \(what), found \(describe(tok))")
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .number(let v): return "number \(formatNumber(v))"
        case .string: return "a string"
        case .identifier(let s): return "'\(s)'"
        case .keyword(let s): return "'\(s)'"
        case .symbol(let s): return "'\(s)'"
        case .meta: return "a meta-command"
        case .newline: return "end of line"
        case .eof: return "end of input"
        }
    }

    mutating func skipNewlines() { while tok.kind == .newline || isSymbol(";") { p += 1 } }

    mutating func program() throws -> [Stmt] {
        var out: [Stmt] = []
        skipNewlines()
        while tok.kind != .eof {
            out.append(try statement())
            try endOfStatement()
            skipNewlines()
        }
        return out
    }

    mutating func endOfStatement() throws {
        switch tok.kind {
        case .newline, .eof: return
        case .symbol(";"), .symbol("}"): return
        default: throw error("expected end of statement, found \(describe(tok))")
        }
    }

    mutating func block() throws -> [Stmt] {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Parser.maxNesting { throw error("blocks nested more than \(Parser.maxNesting) deep") }
        _ = try expect("{", "to open a block")
        var out: [Stmt] = []
        skipNewlines()
        while !isSymbol("}") {
            if tok.kind == .eof { throw error("expected '}' to close the block") }
            out.append(try statement())
            try endOfStatement()
            skipNewlines()
        }
        p += 1
        return out
    }

    mutating func statement() throws -> Stmt {
        let t = tok
        switch t.kind {
        case .meta(let text):
            p += 1
            return .meta(text, t.location)
        case .keyword("let"):
            p += 1
            guard case .identifier(let name) = tok.kind else { throw error("expected a name after 'let', found \(describe(tok))") }
            p += 1
            _ = try expect("=", "after 'let \(name)'")
            skipLineBreaksAfterOperator()
            return .bind(name, try expression(), t.location)
        case .keyword("for"):
            p += 1
            guard case .identifier(let name) = tok.kind else { throw error("expected a loop variable after 'for', found \(describe(tok))") }
            p += 1
            guard isKeyword("in") else { throw error("expected 'in' after 'for \(name)', found \(describe(tok))") }
            p += 1
            let seq = try expression()
            return .forLoop(name, seq, try loopBody(), t.location)
        case .keyword("while"):
            p += 1
            let cond = try expression()
            return .whileLoop(cond, try loopBody(), t.location)
        case .keyword("break"), .keyword("continue"):
            p += 1
            guard loopDepth > 0 else { throw error("'\(t.kind == .keyword("break") ? "break" : "continue")' outside a loop", at: t) }
            return t.kind == .keyword("break") ? .breakLoop(t.location) : .continueLoop(t.location)
        case .keyword("return"):
            p += 1
            guard functionDepth > 0 else { throw error("'return' outside a function", at: t) }
            switch tok.kind {
            case .newline, .eof, .symbol(";"), .symbol("}"): return .returnValue(nil, t.location)
            default: return .returnValue(try expression(), t.location)
            }
        case .keyword("func"):
            return try functionDefinition()
        case .keyword("import"):
            p += 1
            guard case .string(let path) = tok.kind else { throw error("expected a file name in quotes after 'import', as in import \"lib/measures.dream\"") }
            p += 1
            return .importFile(path, t.location)
        case .keyword("if"):
            return try ifStatement()
        default:
            return .expr(try expression())
        }
    }

    var loopDepth = 0, functionDepth = 0

    mutating func loopBody() throws -> [Stmt] {
        loopDepth += 1
        defer { loopDepth -= 1 }
        return try block()
    }

    mutating func functionDefinition() throws -> Stmt {
        let t = tok
        p += 1
        guard case .identifier(let name) = tok.kind else { throw error("expected a function name after 'func', found \(describe(tok))") }
        p += 1
        let opener = try expect("(", "after 'func \(name)'")
        var params: [FunctionDefinition.Parameter] = []
        while !isSymbol(")") {
            let pt = tok
            guard case .identifier(let pname) = tok.kind else {
                if tok.kind == .eof { throw error("expected ')' to close the parameters of '\(name)'") }
                throw error("expected a parameter name, found \(describe(tok))")
            }
            p += 1
            if params.contains(where: { $0.name == pname }) { throw error("parameter '\(pname)' is named twice", at: pt) }
            if isSymbol(":") {
                p += 1
                params.append(.init(name: pname, labeled: true, defaultValue: try expression()))
            } else {
                if params.contains(where: \.labeled) { throw error("positional parameter '\(pname)' after labelled ones", at: pt) }
                params.append(.init(name: pname, labeled: false, defaultValue: nil))
            }
            if isSymbol(",") { p += 1 } else if !isSymbol(")") { try close(")", opener: opener, "or ',' in the parameters") }
        }
        p += 1
        let savedLoops = loopDepth
        loopDepth = 0; functionDepth += 1
        defer { loopDepth = savedLoops; functionDepth -= 1 }
        let body = try block()
        return .function(FunctionDefinition(name: name, parameters: params, body: body, doc: leadingComment(before: t.location.line), location: t.location))
    }

    /// The comment lines directly above a line (a function's documentation).
    func leadingComment(before line: Int) -> String {
        let lines = file.text.split(separator: "\n", omittingEmptySubsequences: false)
        var doc: [String] = []
        var i = line - 2
        while i >= 0 && i < lines.count {
            let l = lines[i].trimmingCharacters(in: .whitespaces)
            guard l.hasPrefix("#") && !l.hasPrefix("#!") else { break }
            doc.insert(String(l.dropFirst()).trimmingCharacters(in: .whitespaces), at: 0)
            i -= 1
        }
        return doc.joined(separator: " ")
    }

    mutating func ifStatement() throws -> Stmt {
        let t = tok
        p += 1
        let cond = try expression()
        let body = try block()
        var elseBody: [Stmt]? = nil
        if isKeyword("else") {
            p += 1
            elseBody = isKeyword("if") ? [try ifStatement()] : try block()
        }
        return .ifElse(cond, body, elseBody, t.location)
    }

    /// A binary operator at the end of a line continues the expression on the next.
    mutating func skipLineBreaksAfterOperator() { while tok.kind == .newline { p += 1 } }

    var nesting = 0
    static let maxNesting = 200

    public mutating func expression() throws -> Expr {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Parser.maxNesting { throw error("expressions nested more than \(Parser.maxNesting) deep") }
        return try binary(0)
    }

    static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">="], ["+", "-"], ["*", "/", "//", "%", "@"]]

    mutating func binary(_ level: Int) throws -> Expr {
        if level == Parser.levels.count { return try unary() }
        var lhs = try binary(level + 1)
        while true {
            // A line that starts with a binary operator continues the expression above (not '-', which
            // also starts a negative number).
            var q = p
            while tokens[q].kind == .newline { q += 1 }
            guard case .symbol(let s) = tokens[q].kind, Parser.levels[level].contains(s), q == p || s != "-" else { break }
            p = q
            let opTok = tok
            p += 1
            skipLineBreaksAfterOperator()
            let rhs = try binary(level + 1)
            if level == 2, case .binary(let inner, _, _, _) = lhs, Parser.levels[2].contains(inner) {
                throw error("comparisons cannot be chained; use && between them", at: opTok)
            }
            lhs = .binary(s, lhs, rhs, opTok.location)
        }
        return lhs
    }

    mutating func unary() throws -> Expr {
        if isSymbol("-") || isSymbol("!") || isSymbol("+") {
            nesting += 1
            defer { nesting -= 1 }
            if nesting > Parser.maxNesting { throw error("expressions nested more than \(Parser.maxNesting) deep") }
            let t = tok
            guard case .symbol(let s) = t.kind else { fatalError() }
            p += 1
            let operand = try unary()
            return s == "+" ? operand : .unary(s, operand, t.location)
        }
        return try power()
    }

    mutating func power() throws -> Expr {
        let base = try postfix()
        if isSymbol("**") {
            let t = tok
            p += 1
            skipLineBreaksAfterOperator()
            return .binary("**", base, try unary(), t.location)
        }
        return base
    }

    mutating func postfix() throws -> Expr {
        var e = try primary()
        while true {
            if isSymbol("(") {
                let t = tok
                p += 1
                e = .call(e, try arguments(opener: t), t.location)
            } else if isSymbol(".") {
                let t = tok
                p += 1
                guard case .identifier(let name) = tok.kind else { throw error("expected a member name after '.', found \(describe(tok))") }
                p += 1
                e = .member(e, name, t.location)
            } else if isSymbol("[") {
                let t = tok
                p += 1
                e = .index(e, try indexItems(opener: t), t.location)
            } else {
                return e
            }
        }
    }

    mutating func arguments(opener: Token) throws -> [Argument] {
        var args: [Argument] = []
        var seenLabel = false
        while !isSymbol(")") {
            let t = tok
            if case .identifier(let label) = tok.kind, case .symbol(":") = tokens[p + 1].kind {
                p += 2
                if args.contains(where: { $0.label == label }) { throw error("argument '\(label):' is given twice", at: t) }
                args.append(Argument(label: label, value: try expression(), location: t.location))
                seenLabel = true
            } else {
                if tok.kind == .eof { throw error("expected ')' to close the argument list") }
                let e = try expression()
                if seenLabel { throw error("positional argument after labelled ones", at: t) }
                args.append(Argument(label: nil, value: e, location: t.location))
            }
            if isSymbol(",") { p += 1 } else if !isSymbol(")") {
                try close(")", opener: opener, "or ',' in the argument list")
            }
        }
        p += 1
        return args
    }

    mutating func indexItems(opener: Token) throws -> [IndexItem] {
        var items: [IndexItem] = []
        while !isSymbol("]") {
            if tok.kind == .eof { throw error("expected ']' to close the index") }
            if isSymbol("...") {
                p += 1
                items.append(.ellipsis)
            } else {
                var parts: [Expr?] = [nil]
                var isSlice = false
                while true {
                    if isSymbol(":") { isSlice = true; parts.append(nil); p += 1; continue }
                    if isSymbol(",") || isSymbol("]") { break }
                    if parts[parts.count - 1] != nil { throw error("expected ':', ',' or ']' in the index, found \(describe(tok))") }
                    parts[parts.count - 1] = try expression()
                }
                if !isSlice {
                    guard let e = parts[0] else { throw error("empty index") }
                    items.append(.at(e))
                } else {
                    guard parts.count <= 3 else { throw error("a slice has at most start:end:step") }
                    items.append(.slice(parts[0], parts.count > 1 ? parts[1] : nil, parts.count > 2 ? parts[2] : nil))
                }
            }
            if isSymbol(",") { p += 1 } else if !isSymbol("]") {
                try close("]", opener: opener, "or ',' in the index")
            }
        }
        p += 1
        return items
    }

    mutating func primary() throws -> Expr {
        let t = tok
        switch t.kind {
        case .number(let v): p += 1; return .number(v, t.location)
        case .string(let s): p += 1; return .string(s, t.location)
        case .keyword("true"): p += 1; return .bool(true, t.location)
        case .keyword("false"): p += 1; return .bool(false, t.location)
        case .identifier(let s): p += 1; return .name(s, t.location)
        case .symbol("("):
            p += 1
            let e = try expression()
            try close(")", opener: t, "to close '('")
            return e
        case .symbol("["):
            p += 1
            if isSymbol("]") { p += 1; return .list([], t.location) }
            if isSymbol(":") {
                p += 1
                _ = try expect("]", "after '[:' (an empty dictionary)")
                return .dict([], t.location)
            }
            let first = try expression()
            if isSymbol(":") {
                p += 1
                var pairs = [(first, try expression())]
                while isSymbol(",") {
                    p += 1
                    if isSymbol("]") { break }
                    let k = try expression()
                    _ = try expect(":", "between a dictionary key and its value")
                    pairs.append((k, try expression()))
                }
                try close("]", opener: t, "to close the dictionary")
                return .dict(pairs, t.location)
            }
            var items = [first]
            while isSymbol(",") {
                p += 1
                if isSymbol("]") { break }
                items.append(try expression())
            }
            try close("]", opener: t, "to close the list")
            return .list(items, t.location)
        case .eof:
            throw error("unexpected end of input")
        default:
            throw error("expected an expression, found \(describe(t))")
        }
    }
}
