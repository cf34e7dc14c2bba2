import Foundation
import DreamTensor
import DreamIO

/// Runs programs: one scope of bindings for a whole script or session, built-ins from the registry.
public final class Interpreter {
    public let registry: Registry
    public private(set) var globals = OrderedDict()
    /// The running user function's bindings (nil at the top level, where bindings are global).
    var locals: Scope?
    /// User-function calls in progress, for the recursion limit.
    var callDepth = 0
    public static let maxCallDepth = 200
    /// Files imported so far (each runs once) and the chain being imported (for cycles).
    var imported: Set<String> = []
    var importing: [String] = []
    /// Where print() and REPL echoes go.
    public var write: (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
    /// Where warnings go.
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }
    var warnedOnce: Set<String> = []
    /// A warning given once per session (a note that would repeat on every call).
    public func warnOnce(_ message: String) { if warnedOnce.insert(message).inserted { warn(message) } }
    /// The terminal the output goes to, for `show` (nil: not a terminal, nothing is drawn).
    public var display: TerminalDisplay?
    /// `--seed`: calls that take `seed:` and are not given one draw seeds from this, in call order.
    public var defaultSeed: UInt64 = 0
    var seedCounter: UInt64 = 0
    /// Tensors larger than this are refused before they are made (the fuzz tests lower it).
    public var maxElements = 1 << 32
    /// Loop iterations and calls allowed per run (nil: unbounded); the fuzz tests set one.
    public var stepBudget: Int?
    var steps = 0
    /// Arguments of `dream FILE ARG...`.
    public var scriptArguments: [String] = [] { didSet { globals["args"] = .list(scriptArguments.map { .string($0) }) } }
    var loadDepth = 0
    /// The file being run (for error locations).
    var currentFile: SourceFile?

    public init(registry: Registry) {
        self.registry = registry
        globals["args"] = .list([])
    }

    public func bind(_ name: String, _ value: Value) { globals[name] = value }
    public func value(of name: String) -> Value? { globals[name] }
    public var variableNames: [String] { globals.keys }

    /// Parses and runs a source. In interactive mode a bare expression's value is shown and bound to `_`.
    public func run(_ file: SourceFile, interactive: Bool = false) throws {
        let program = try Parser.parse(file)
        let saved = currentFile
        currentFile = file
        defer { currentFile = saved }
        steps = 0
        do {
            for stmt in program { try execute(stmt, interactive: interactive) }
        } catch var e as DreamError {
            if e.file == nil { e.file = file }
            throw e
        }
    }

    func fail(_ message: String, at loc: SourceLocation) -> DreamError {
        DreamError(.runtime, message, at: loc, file: currentFile)
    }

    /// A step boundary: honours Ctrl-C and the step budget.
    func step(_ loc: SourceLocation) throws {
        do { try Job.checkCancelled() } catch { throw DreamError(.interrupted, "interrupted", at: loc, file: currentFile) }
        steps += 1
        if let budget = stepBudget, steps > budget { throw fail("step budget of \(budget) exceeded", at: loc) }
    }

    /// The seed for a call: the explicit `seed:` or the next one derived from `--seed`.
    public func seed(_ args: Args, label: String = "seed") throws -> UInt64 {
        if let s = args.optionalNumber(label) {
            guard s >= 0, s == s.rounded(), s < 1.8e19 else { throw ArgumentError("seed must be a whole number ≥ 0, got \(formatNumber(s))", argument: label) }
            return UInt64(s)
        }
        seedCounter += 1
        return Seeds.splitMix(defaultSeed, seedCounter)
    }

    /// Refuses shapes too large to allocate (a mistyped shape must not take the machine down).
    public func checkSize(_ shape: [Int]) throws {
        var n = 1.0
        for d in shape { n *= Double(d) }
        if n > Double(maxElements) {
            throw ArgumentError("a tensor of shape \(shapeString(shape)) (\(formatNumber(n)) elements) is larger than the limit of \(maxElements) elements")
        }
    }

    // MARK: Statements

    /// Binds a name in the running function's scope, or globally at the top level.
    func assign(_ name: String, _ v: Value) {
        if let locals { locals.bindings[name] = v } else { globals[name] = v }
    }

    /// Control leaving a loop body or a function early (the parser only allows them where they apply).
    enum Jump: Error { case breakLoop, continueLoop, returnValue(Value) }

    func execute(_ stmt: Stmt, interactive: Bool) throws {
        try step(stmt.location)
        switch stmt {
        case .bind(let name, let e, _):
            assign(name, try eval(e))
        case .expr(let e):
            let v = try eval(e)
            if interactive, !isNone(v) {
                globals["_"] = v
                write(v.display + "\n")
            }
        case .forLoop(let name, let seqExpr, let body, _):
            let seq = try eval(seqExpr)
            /// One pass of the body; false when it breaks.
            func iterate(_ v: Value) throws -> Bool {
                try step(stmt.location)
                assign(name, v)
                return try runLoopBody(body)
            }
            switch seq {
            case .list(let xs): for x in xs { guard try iterate(x) else { break } }
            case .range(let a, let b, let st): for i in stride(from: a, to: b, by: st) { guard try iterate(.number(Double(i))) else { break } }
            case .dict(let d): for k in d.keys { guard try iterate(.string(k)) else { break } }
            case .tensor(let t) where t.rank >= 1:
                for i in 0..<t.shape[0] { guard try iterate(.tensor(try t.select(axis: 0, index: i))) else { break } }
            default:
                throw fail("cannot loop over \(describeForError(seq)); expected a list, range or dictionary", at: seqExpr.location)
            }
        case .whileLoop(let cond, let body, _):
            while try truth(try eval(cond), at: cond.location) {
                try step(stmt.location)
                guard try runLoopBody(body) else { break }
            }
        case .ifElse(let cond, let body, let elseBody, _):
            if try truth(try eval(cond), at: cond.location) {
                for s in body { try execute(s, interactive: false) }
            } else if let elseBody {
                for s in elseBody { try execute(s, interactive: false) }
            }
        case .breakLoop: throw Jump.breakLoop
        case .continueLoop: throw Jump.continueLoop
        case .returnValue(let e, _): throw Jump.returnValue(try e.map(eval) ?? .none)
        case .function(let def):
            assign(def.name, .function(try userFunction(def)))
        case .importFile(let path, let loc):
            try importFile(path, at: loc)
        case .meta(let text, let loc):
            try meta(text, at: loc)
        }
    }

    /// Runs a loop body once; false when it ended with `break`.
    func runLoopBody(_ body: [Stmt]) throws -> Bool {
        do { for s in body { try execute(s, interactive: false) } }
        catch Jump.continueLoop { return true }
        catch Jump.breakLoop { return false }
        return true
    }

    /// A `func` as a built-in: its parameters take any value, labelled ones their defaults (evaluated where the
    /// function is defined); a call runs the body in a fresh local scope, in the file that defined it.
    func userFunction(_ def: FunctionDefinition) throws -> Builtin {
        let params = try def.parameters.map { p -> Param in
            p.labeled ? .labeled(p.name, .any, default: try p.defaultValue.map(eval) ?? Value.none) : .positional(p.name, .any)
        }
        let file = currentFile, enclosing = locals
        let place = file.map { "\($0.name):\(def.location.line + $0.lineOffset)" } ?? "line \(def.location.line)"
        let doc = def.doc.isEmpty ? "A function defined at \(place)." : def.doc
        return Builtin(def.name, params, doc: doc, example: "") { a, ip in
            try ip.invoke(def, a, file: file, enclosing: enclosing)
        }
    }

    func invoke(_ def: FunctionDefinition, _ a: Args, file: SourceFile?, enclosing: Scope?) throws -> Value {
        guard callDepth < Interpreter.maxCallDepth else {
            throw ArgumentError("\(def.name): calls nested more than \(Interpreter.maxCallDepth) deep (a recursion that does not end?)")
        }
        let scope = Scope(parent: enclosing)
        for p in def.parameters { scope.bindings[p.name] = a[p.name] }
        let (savedLocals, savedFile) = (locals, currentFile)
        locals = scope; currentFile = file; callDepth += 1
        defer { locals = savedLocals; currentFile = savedFile; callDepth -= 1 }
        do {
            for s in def.body { try execute(s, interactive: false) }
        } catch Jump.returnValue(let v) {
            return v
        } catch var e as DreamError {
            if e.file == nil { e.file = file }
            throw e
        }
        return .none
    }

    /// `import "PATH"`: runs a script once per session, relative to the importing file; a cycle is an error
    /// naming the files.
    func importFile(_ path: String, at loc: SourceLocation) throws {
        func absolute(_ p: String, from dir: String) -> String {
            ((p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p)) as NSString).standardizingPath
        }
        let cwd = FileManager.default.currentDirectoryPath
        var running: String?   // the importing file, when it is a file
        if let name = currentFile?.name, !name.hasPrefix("<"), FileManager.default.fileExists(atPath: name) { running = absolute(name, from: cwd) }
        let full = absolute(path, from: running.map { ($0 as NSString).deletingLastPathComponent } ?? cwd)
        // The chain starts at the file that runs (a script importing a file that imports it back is a cycle).
        let chain = importing.isEmpty ? (running.map { [$0] } ?? []) : importing
        if chain.contains(full) {
            throw fail("import cycle: " + (chain.drop { $0 != full } + [full]).map { ($0 as NSString).lastPathComponent }.joined(separator: " → "), at: loc)
        }
        if imported.contains(full) { return }
        guard let text = try? String(contentsOfFile: full, encoding: .utf8) else { throw fail("import: \(path): no such file or not readable (looked for \(full))", at: loc) }
        let savedChain = importing
        importing = chain + [full]
        defer { importing = savedChain }
        let savedLocals = locals
        locals = nil       // an imported file binds globally, even when imported inside a function
        defer { locals = savedLocals }
        let savedSteps = steps
        // Errors name the file as the user would reach it: relative to the importing file's name.
        let importerDir = currentFile.map { ($0.name as NSString).deletingLastPathComponent } ?? ""
        let shown = path.hasPrefix("/") || importerDir.isEmpty || running == nil ? path : (importerDir as NSString).appendingPathComponent(path)
        try run(SourceFile(name: shown, text: text))
        steps += savedSteps
        imported.insert(full)
    }

    func isNone(_ v: Value) -> Bool { if case .none = v { return true }; return false }

    func truth(_ v: Value, at loc: SourceLocation) throws -> Bool {
        switch v {
        case .bool(let b): return b
        case .number(let x): return x != 0
        case .tensor(let t) where t.count == 1: return t.pointer[0] != 0
        default: throw fail("a condition must be true or false, got \(describeForError(v))", at: loc)
        }
    }

    // MARK: Expressions

    /// Expressions being evaluated, nested (inside calls of user functions too): the stack's bound.
    var evalDepth = 0
    static let maxEvalDepth = 8_000

    public func eval(_ e: Expr) throws -> Value {
        evalDepth += 1
        defer { evalDepth -= 1 }
        if evalDepth > Interpreter.maxEvalDepth {
            throw fail("expressions and calls nested more than \(Interpreter.maxEvalDepth) deep", at: e.location)
        }
        switch e {
        case .number(let v, _): return .number(v)
        case .string(let s, _): return .string(s)
        case .bool(let b, _): return .bool(b)
        case .name(let n, let loc):
            if let v = locals?[n] ?? globals[n] { return v }
            if let f = registry.functions[n] { return .function(f) }
            if let ns = registry.namespaces[n] { return .namespace(ns) }
            let candidates = (locals?.names ?? []) + globals.keys + Array(registry.functions.keys) + Array(registry.namespaces.keys)
            let hint = closest(n, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
            throw fail("unknown name '\(n)'\(hint)", at: loc)
        case .list(let items, _):
            return .list(try items.map(eval))
        case .dict(let pairs, _):
            var d = OrderedDict()
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else { throw fail("dictionary keys must be strings", at: k.location) }
                d[key] = try eval(v)
            }
            return .dict(d)
        case .unary(let op, let x, let loc):
            return try unary(op, try eval(x), at: loc)
        case .binary("&&", let a, let b, _):
            return .bool(try truth(try eval(a), at: a.location) && truth(try eval(b), at: b.location))
        case .binary("||", let a, let b, _):
            return .bool(try truth(try eval(a), at: a.location) || truth(try eval(b), at: b.location))
        case .binary(let op, let a, let b, let loc):
            return try binary(op, try eval(a), try eval(b), at: loc)
        case .member(let x, let name, let loc):
            return try member(try eval(x), name, at: loc)
        case .index(let x, let items, let loc):
            return try index(try eval(x), items, at: loc)
        case .call(let callee, let args, let loc):
            if case .name(let n, let nameLoc) = callee, locals?[n] == nil, globals[n] == nil, registry.functions[n] == nil, registry.namespaces[n] == nil {
                let hint = closest(n, among: Array(registry.functions.keys)).map { "; did you mean '\($0)'?" } ?? ""
                throw fail("unknown function '\(n)'\(hint)", at: nameLoc)
            }
            let f: Builtin
            switch try eval(callee) {
            case .function(let b): f = b
            case let other:
                throw fail("\(describeForError(other)) cannot be called", at: callee.location)
            }
            return try call(f, args, at: loc, calleeLocation: callee.location)
        }
    }

    func call(_ f: Builtin, _ args: [Argument], at loc: SourceLocation, calleeLocation: SourceLocation) throws -> Value {
        try step(loc)
        var positional: [Value] = [], labeled: [(String, Value)] = []
        for a in args {
            let v = try eval(a.value)
            if let l = a.label { labeled.append((l, v)) } else { positional.append(v) }
        }
        func location(of argument: String?) -> SourceLocation {
            guard let argument else { return calleeLocation }
            if let a = args.first(where: { $0.label == argument }) { return a.location }
            let positionalNames = f.params.filter { $0.label == nil }.map(\.name)
            if let i = positionalNames.firstIndex(of: argument) {
                let pos = args.filter { $0.label == nil }
                if i < pos.count { return pos[i].location }
            }
            return calleeLocation
        }
        do {
            let bound = try f.bind(positional, labeled)
            return try f.run(bound, self)
        } catch let e as ArgumentError {
            throw fail(e.message, at: location(of: e.argument))
        } catch let e as TensorError {
            throw fail("\(f.qualifiedName): \(e.message)", at: calleeLocation)
        } catch let e as FileError {
            throw fail("\(f.qualifiedName): \(e)", at: calleeLocation)
        } catch is Job.Cancelled {
            throw DreamError(.interrupted, "interrupted", at: loc, file: currentFile)
        } catch let e as DreamError {
            throw e
        } catch let q as QuitRequest {
            throw q
        } catch {
            // Anything else a built-in lets through still gets a place in the source.
            throw fail("\(f.qualifiedName): \(error.localizedDescription)", at: calleeLocation)
        }
    }

    // MARK: Operators

    func unary(_ op: String, _ v: Value, at loc: SourceLocation) throws -> Value {
        switch (op, v) {
        case ("-", .number(let x)): return .number(-x)
        case ("-", .tensor(let t)): return .tensor(-t)
        case ("!", .bool(let b)): return .bool(!b)
        default: throw fail("unary '\(op)' does not apply to \(describeForError(v))", at: loc)
        }
    }

    func binary(_ op: String, _ a: Value, _ b: Value, at loc: SourceLocation) throws -> Value {
        // Each operation is a step boundary: one long expression (a chain of products) stops on Ctrl-C too.
        do { try Job.checkCancelled() } catch { throw DreamError(.interrupted, "interrupted", at: loc, file: currentFile) }
        // A one-element tensor compares as its number (max(abs(d)) < 1e-3).
        if ["==", "!=", "<", "<=", ">", ">="].contains(op), let x = scalarNumber(a), let y = scalarNumber(b),
           isTensor(a) || isTensor(b) {
            return try binary(op, .number(x), .number(y), at: loc)
        }
        do {
            switch (a, b) {
            case (.number(let x), .number(let y)):
                switch op {
                case "+": return .number(x + y)
                case "-": return .number(x - y)
                case "*": return .number(x * y)
                case "/": return .number(x / y)
                case "%", "//":
                    guard y != 0 else { throw ArgumentError("'\(op)' by zero") }
                    // Python's: the quotient rounds down and the remainder takes the divisor's sign.
                    let q = (x / y).rounded(.down)
                    return .number(op == "//" ? q : x - y * q)
                case "**": return .number(Foundation.pow(x, y))
                case "==": return .bool(x == y)
                case "!=": return .bool(x != y)
                case "<": return .bool(x < y)
                case "<=": return .bool(x <= y)
                case ">": return .bool(x > y)
                case ">=": return .bool(x >= y)
                default: break
                }
            case (.string(let x), .string(let y)):
                switch op {
                case "+":
                    guard x.utf8.count + y.utf8.count <= maxElements else { throw ArgumentError("string too long (limit \(maxElements) bytes)") }
                    return .string(x + y)
                case "==": return .bool(x == y)
                case "!=": return .bool(x != y)
                default: break
                }
            case (.bool(let x), .bool(let y)):
                if op == "==" { return .bool(x == y) }
                if op == "!=" { return .bool(x != y) }
            case (.list, .list) where op == "==" || op == "!=":
                guard let same = equal(a, b) else { break }
                return .bool(op == "==" ? same : !same)
            case (.list(let x), .list(let y)) where op == "+":
                guard x.count + y.count <= maxElements else { throw ArgumentError("list too long (limit \(maxElements) items)") }
                return .list(x + y)
            case (.dict(var x), .dict(let y)) where op == "+":
                // Merge: the right side's keys win, new keys keep their order after the left's.
                for (k, v) in y.pairs { x[k] = v }
                return .dict(x)
            default: break
            }
            if ["+", "-", "*", "/", "**", "@"].contains(op),
               let ta = coerce(a, to: .tensor), let tb = coerce(b, to: .tensor),
               case .tensor(let x) = ta, case .tensor(let y) = tb,
               isTensor(a) || isTensor(b) {
                if op == "@" { return .tensor(try matmul(x, y)) }
                try checkSize(try broadcastShapes(x.shape, y.shape))
                switch op {
                case "+": return .tensor(try x + y)
                case "-": return .tensor(try x - y)
                case "*": return .tensor(try x * y)
                case "/": return .tensor(try x / y)
                default: return .tensor(try x.pow(y))
                }
            }
        } catch let e as TensorError {
            throw fail(e.message, at: loc)
        } catch let e as ArgumentError {
            throw fail(e.message, at: loc)
        }
        if ["==", "!=", "<", "<=", ">", ">="].contains(op) && (isTensor(a) || isTensor(b)) {
            throw fail("'\(op)' compares numbers (or one-element tensors), not tensors (got \(describeForError(a)) and \(describeForError(b)))", at: loc)
        }
        throw fail("'\(op)' does not apply to \(describeForError(a)) and \(describeForError(b))", at: loc)
    }

    /// Structural equality of numbers, strings, bools and lists of them (nil where it is not defined).
    func equal(_ a: Value, _ b: Value) -> Bool? {
        switch (a, b) {
        case (.tensor, _), (_, .tensor): return nil
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.list(let x), .list(let y)):
            guard x.count == y.count else { return false }
            for (u, v) in zip(x, y) {
                guard let e = equal(u, v) else { return nil }
                if !e { return false }
            }
            return true
        case (.number, _), (.string, _), (.bool, _), (.list, _): return false
        default: return nil
        }
    }

    /// a @ b, after checking that the product's size is allowed.
    public func matmul(_ x: Tensor, _ y: Tensor) throws -> Tensor {
        try require(x.rank >= 1 && y.rank >= 1, "@ needs tensors of at least 1 dimension, got \(shapeString(x.shape)) and \(shapeString(y.shape))")
        let m = x.rank >= 2 ? x.shape[x.rank - 2] : 1, n = y.rank >= 2 ? y.shape[y.rank - 1] : 1
        let batch = try broadcastShapes(Array(x.shape.dropLast(2)), Array(y.shape.dropLast(2)))
        try checkSize(batch + [m, n])
        return try x.matmul(y)
    }

    func scalarNumber(_ v: Value) -> Double? {
        switch v {
        case .number(let x): return x
        case .tensor(let t) where t.count == 1: return Double(t.pointer[0])
        default: return nil
        }
    }

    func isTensor(_ v: Value) -> Bool { if case .tensor = v { return true }; return false }

    // MARK: Members and indexing

    func member(_ v: Value, _ name: String, at loc: SourceLocation) throws -> Value {
        switch v {
        case .tensor(let t):
            switch name {
            case "shape": return .list(t.shape.map { .number(Double($0)) })
            case "rank": return .number(Double(t.rank))
            case "count": return .number(Double(t.count))
            default: break
            }
            throw fail("a tensor has no member '\(name)'\(closest(name, among: ["shape", "rank", "count"]).map { "; did you mean '\($0)'?" } ?? "") (members: shape, rank, count)", at: loc)
        case .namespace(let ns):
            if let f = ns.functions[name] { return .function(f) }
            let hint = closest(name, among: Array(ns.functions.keys)).map { "; did you mean '\(ns.name).\($0)'?" } ?? ""
            throw fail("'\(ns.name)' has no function '\(name)'\(hint)", at: loc)
        case .object(let o):
            do {
                if let m = try o.member(name) { return m }
            } catch let e as TensorError { throw fail(e.message, at: loc) } catch let e as ArgumentError { throw fail(e.message, at: loc) }
            let hint = closest(name, among: o.memberNames).map { "; did you mean '\($0)'?" } ?? ""
            throw fail("\(article(o.typeName)) has no member '\(name)'\(hint)", at: loc)
        case .dict(let d):
            if let x = d[name] { return x }
            throw fail("the dictionary has no key \"\(name)\"", at: loc)
        case .list(let xs) where name == "count":
            return .number(Double(xs.count))
        default:
            throw fail("\(describeForError(v)) has no member '\(name)'", at: loc)
        }
    }

    func integer(_ e: Expr) throws -> Int {
        let v = try eval(e)
        guard case .number(let x) = v, x == x.rounded(), Swift.abs(x) < 1e15 else {
            throw fail("an index must be an integer, got \(describeForError(v))", at: e.location)
        }
        return Int(x)
    }

    enum Position { case at(Int), slice(Int, Int, Int), whole }

    /// One index of a sequence of `count` items, Python style: negative counts from the end, slice bounds
    /// are clamped, steps are positive.
    func position(_ items: [IndexItem], count: Int, of what: String, at loc: SourceLocation) throws -> Position {
        guard items.count == 1 else { throw fail("\(what) takes one index", at: loc) }
        switch items[0] {
        case .at(let e):
            let i = try integer(e), j = i < 0 ? i + count : i
            guard j >= 0 && j < count else { throw fail("index \(i) is out of range for \(what) of \(count)", at: e.location) }
            return .at(j)
        case .slice(let lo, let hi, let st):
            let step = try st.map(integer) ?? 1
            guard step > 0 else { throw fail("slice step must be positive", at: loc) }
            func bound(_ e: Expr?, _ d: Int) throws -> Int {
                guard let e else { return d }
                let i = try integer(e)
                return Swift.min(Swift.max(i < 0 ? i + count : i, 0), count)
            }
            return .slice(try bound(lo, 0), try bound(hi, count), step)
        case .ellipsis:
            return .whole
        }
    }

    func index(_ v: Value, _ items: [IndexItem], at loc: SourceLocation) throws -> Value {
        switch v {
        case .dict(let d):
            guard items.count == 1, case .at(let e) = items[0], case .string(let key) = try eval(e) else {
                throw fail("a dictionary is indexed by one string key", at: loc)
            }
            guard let x = d[key] else {
                let hint = closest(key, among: d.keys).map { "; did you mean \"\($0)\"?" } ?? ""
                throw fail("the dictionary has no key \"\(key)\"\(hint)", at: loc)
            }
            return x
        case .list(let xs):
            switch try position(items, count: xs.count, of: "a list", at: loc) {
            case .at(let j): return xs[j]
            case .slice(let lo, let hi, let step): return .list(lo < hi ? stride(from: lo, to: hi, by: step).map { xs[$0] } : [])
            case .whole: return v
            }
        case .range(let a, let b, let s):
            // Indexed without building the list (range(10⁹)[3] must not allocate a billion items).
            switch try position(items, count: max(0, (b - a + s - 1) / s), of: "a range", at: loc) {
            case .at(let j): return .number(Double(a + j * s))
            case .slice(let lo, let hi, let step): return .range(a + lo * s, a + Swift.max(lo, hi) * s, s * step)
            case .whole: return v
            }
        case .tensor(var t):
            let ellipses = items.filter { if case .ellipsis = $0 { return true }; return false }.count
            guard ellipses <= 1 else { throw fail("an index can have only one '...'", at: loc) }
            let explicit = items.count - ellipses
            guard explicit <= t.rank else {
                throw fail("too many indices (\(explicit)) for a tensor of shape \(shapeString(t.shape))", at: loc)
            }
            // Walk axes left to right; after '...' continue from the axis that leaves room for the rest.
            var axis = 0
            do {
                for (k, item) in items.enumerated() {
                    switch item {
                    case .ellipsis:
                        axis = t.rank - (items.count - k - 1)
                    case .at(let e):
                        let i = try integer(e)
                        t = try t.select(axis: axis, index: i)
                    case .slice(let a, let b, let s):
                        t = try t.sliced(axis: axis, start: try a.map(integer), end: try b.map(integer), step: try s.map(integer) ?? 1)
                        axis += 1
                    }
                }
            } catch let e as TensorError {
                throw fail(e.message, at: loc)
            }
            return .tensor(t)
        case .string(let str):
            let chars = Array(str)
            guard case .at(let j) = try position(items, count: chars.count, of: "a string", at: loc) else {
                throw fail("a string takes one integer index", at: loc)
            }
            return .string(String(chars[j]))
        default:
            throw fail("\(describeForError(v)) cannot be indexed", at: loc)
        }
    }

    // MARK: Meta-commands

    func meta(_ text: String, at loc: SourceLocation) throws {
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let command = parts.first ?? "", rest = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        let known = registry.allMetaCommands
        guard let m = registry.metaCommand(named: command) else {
            let hint = closest(command, among: known.map(\.name)).map { "; did you mean ':\($0)'?" } ?? ""
            throw fail("unknown meta-command ':\(command)'\(hint) (known: \(known.map { ":" + $0.name }.joined(separator: " ")))", at: loc)
        }
        try m.run(rest, loc, self)
    }

    /// `:vars`: every binding, one line each.
    func listVariables() {
        let names = globals.keys.filter { $0 != "args" || scriptArguments.count > 0 }
        if names.isEmpty { write("no variables\n") }
        for n in names {
            let v = globals[n]!
            let line: String
            if case .tensor(let t) = v { line = "tensor \(shapeString(t.shape))" } else { line = v.literal }
            write("\(n) = \(line.count > 100 ? String(line.prefix(100)) + "…" : line)\n")
        }
    }

    /// `:time STATEMENT`: runs it and says how long it took.
    func time(_ rest: String, at loc: SourceLocation) throws {
        guard !rest.isEmpty else { throw fail(":time needs a statement, as in :time x @ x", at: loc) }
        let file = SourceFile(name: currentFile?.name ?? "<time>", text: rest, lineOffset: (currentFile?.lineOffset ?? 0) + loc.line - 1)
        let t0 = DispatchTime.now().uptimeNanoseconds
        try run(file, interactive: true)
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        write("time: \(dt < 1 ? String(format: "%.1f ms", dt * 1000) : String(format: "%.3f s", dt))\n")
    }

    /// `:load FILE`: runs a script file in this session.
    func loadFile(_ rest: String, at loc: SourceLocation) throws {
        guard !rest.isEmpty else { throw fail(":load needs a file name", at: loc) }
        let path = rest.hasPrefix("\"") && rest.hasSuffix("\"") && rest.count >= 2 ? String(rest.dropFirst().dropLast()) : rest
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail(":load: \(path): no such file or not readable", at: loc) }
        guard loadDepth < 32 else { throw fail(":load: files load each other more than 32 deep (a file loading itself?)", at: loc) }
        loadDepth += 1
        defer { loadDepth -= 1 }
        try run(SourceFile(name: path, text: text))
    }

    /// `:help` (everything, by topic) or `:help NAME` (one function's signature, doc and example).
    public func help(_ name: String) -> String {
        if name.isEmpty {
            var s = "Functions (`:help NAME` for one):\n"
            for (topic, names) in registry.topics {
                s += "  \(topic): " + names.joined(separator: ", ") + "\n"
            }
            for ns in registry.namespaces.values.sorted(by: { $0.name < $1.name }) {
                s += "  \(ns.name).: " + ns.functions.keys.sorted().joined(separator: ", ") + "\n"
            }
            s += "Meta-commands: " + registry.allMetaCommands.map(\.usage).joined(separator: ", ")
            s += "\nSyntax (`:help for`, …): " + SyntaxHelp.topics.joined(separator: ", ")
            return s
        }
        let user: Builtin? = { if case .function(let f)? = locals?[name] ?? globals[name] { return f }; return nil }()
        if let f = user ?? registry.lookup(name) {
            var s = f.signature + "\n  " + f.doc
            let documented = f.params.filter { !$0.doc.isEmpty }
            for p in documented { s += "\n  \(p.label.map { $0 + ":" } ?? p.name)  \(p.doc)" }
            if !f.example.isEmpty { s += "\n  example: " + f.example }
            return s
        }
        if let ns = registry.namespaces[name] {
            return "\(ns.name): \(ns.doc)\n" + ns.functions.values.sorted { $0.name < $1.name }.map { "  " + $0.signature }.joined(separator: "\n")
        }
        for provider in registry.helpProviders { if let text = provider(name) { return text } }
        if let text = SyntaxHelp.text(name) { return text }
        let hint = closest(name, among: registry.allNames + SyntaxHelp.topics).map { "; did you mean '\($0)'?" } ?? ""
        return "no function named '\(name)'\(hint)"
    }
}
